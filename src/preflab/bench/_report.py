"""HTML report of a benchmark build: what was kept, what was dropped and why, per cluster.

One self-contained page (inline SVG, no scripts): the counts, the reasons for every prompt
left out, the quality-score distribution, cluster sizes against mean quality, the clusters
with their keywords and most representative prompts, the duplicates removed and the judge
replies that did not parse.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from preflab.bench._build import DEDUP_REASONS, BenchBuild
from preflab.bench._quality import CRITERIA
from preflab.report import Section, render_report, to_svg
from preflab.report._plots import _figure


def _esc(x: object) -> str:
    return html.escape(str(x))


def _short(text: str, n: int = 240) -> str:
    t = " ".join(text.split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _table(head: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> str:
    def cell(tag: str, i: int, v: str) -> str:
        cls = ' class="m"' if i in left else ""
        return f"<{tag}{cls}>{_esc(v)}</{tag}>"

    th = "".join(cell("th", i, h) for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _score_plot(b: BenchBuild) -> str:
    score, status, _ = b._scores()
    keep = b.selection.keep
    fig = _figure(6.5, 3.2)
    ax = fig.add_subplot()
    xs = np.arange(8)
    ok = ~np.isnan(score)
    kept = np.bincount(score[ok & keep].astype(int), minlength=8)[:8]
    other = np.bincount(score[ok & ~keep].astype(int), minlength=8)[:8]
    ax.bar(xs, other, color="#b0b7c3", label="not selected")
    ax.bar(xs, kept, bottom=other, color="#2b6cb0", label="selected")
    n_unparsed = sum(s == "unparsed" for s in status)
    if n_unparsed:
        ax.bar([8.5], [n_unparsed], color="#d69e2e", label="unparsed (no score)")
        ax.set_xticks([*xs, 8.5], [*(str(x) for x in xs), "?"])
    else:
        ax.set_xticks(xs)
    ax.axvline(b.selection.min_score - 0.5, color="#c53030", ls="--", lw=1,
               label=f"min score {b.selection.min_score:g}")
    ax.set_xlabel("quality score (criteria satisfied, of 7)")
    ax.set_ylabel("prompts")
    ax.legend(fontsize=7)
    return to_svg(fig)


def _cluster_plot(b: BenchBuild) -> str:
    sel, cl = b.selection, b.clustering
    fig = _figure(6.5, max(2.5, 0.22 * cl.n_clusters + 1.2))
    ax = fig.add_subplot()
    y = np.arange(cl.n_clusters)[::-1]
    good = ~np.isnan(sel.cluster_mean) & (sel.cluster_mean >= sel.min_cluster_mean)
    ax.barh(y, cl.sizes, color=np.where(good, "#2b6cb0", "#b0b7c3"))
    ax.barh(y, sel.cluster_kept, color="#1a365d", height=0.4, label="selected")
    for yi, n, m in zip(y, cl.sizes, sel.cluster_mean, strict=True):
        ax.annotate(f"mean {m:.2f}" if m == m else "no scores", (n, yi), fontsize=6,
                    xytext=(3, -2), textcoords="offset points")
    ax.set_yticks(y, [f"{c}: {_short(nm, 28)}" for c, nm in enumerate(cl.names)], fontsize=6)
    ax.set_xlabel(f"prompts (blue: cluster mean ≥ {sel.min_cluster_mean:g})")
    ax.legend(fontsize=7, loc="lower right")
    return to_svg(fig)


def build_sections(b: BenchBuild, *, examples: int = 3, max_rows: int = 100) -> list[Section]:
    """The report's sections for a build."""
    ps, sel, cl, q = b.prompts, b.selection, b.clustering, b.quality
    n = len(ps)
    drops = b.drop_counts()
    n_drop = sum(drops.values())
    summary_rows = [
        ["input prompts", str(n)],
        ["exact duplicates removed", str(b.dedup.n_exact)],
        [f"near duplicates removed (Jaccard ≥ {b.dedup.threshold:g}, "
         f"{b.dedup.shingle}-char shingles)", str(b.dedup.n_near)],
        [f"clusters ({cl.method}, embedder {b.embedder}, size floor {cl.min_cluster_size})",
         str(cl.n_clusters)],
        ["prompts moved out of small clusters / dropped with them",
         f"{cl.n_merged} / {cl.n_dropped}"],
        [f"quality annotations by {b.judge} (new / cached calls)",
         f"{len(q.status)} ({q.run.get('n_new', 0)} / {q.run.get('n_cached', 0)})"],
        ["replies that did not parse (kept apart, never scored)", str(q.n_unparsed)],
        ["judge cost this run / of cached answers (USD)",
         f"{q.run.get('cost', 0.0):.4f} / {q.run.get('cost_cached', 0.0):.4f}"],
        [f"selected (score ≥ {sel.min_score:g} in clusters with mean ≥ "
         f"{sel.min_cluster_mean:g}"
         + (f", at most {sel.per_cluster} per cluster" if sel.per_cluster else "") + ")",
         str(b.n_kept)],
        ["left out", str(n_drop)],
    ]
    out = [Section("Summary", _table(["", "count"], summary_rows))]
    reasons = [[r, str(c), f"{100 * c / n:.1f}%" if n else "–"] for r, c in drops.items()]
    reasons.append(["total left out", str(n_drop), f"{100 * n_drop / n:.1f}%" if n else "–"])
    out.append(Section("What was dropped and why",
                       '<p class="meta">Each prompt counts once, under the first rule that '
                       "removed it: deduplication, then the size floor, the annotation "
                       "status, the cluster mean, the prompt's score, the per-cluster quota."
                       "</p>" + _table(["reason", "prompts", "share"], reasons)))
    crit_counts = b.quality.criteria.sum(axis=0) if len(q.status) else np.zeros(7)
    crit_rows = [[f"{k + 1}. {c}", str(int(v))] for k, (c, v) in
                 enumerate(zip(CRITERIA, crit_counts, strict=True))]
    out.append(Section("Quality scores",
                       f"<figure>{_score_plot(b)}</figure>"
                       + _table(["criterion", "prompts satisfying it"], crit_rows)))
    uniq_ids = [ps.ids[i] for i in b.unique]
    uniq_txt = [ps.texts[i] for i in b.unique]
    rows = []
    for c in range(cl.n_clusters):
        m = sel.cluster_mean[c]
        rows.append([str(c), cl.names[c], str(int(cl.sizes[c])), str(int(sel.cluster_scored[c])),
                     f"{m:.2f}" if m == m else "–",
                     "yes" if m == m and m >= sel.min_cluster_mean else "no",
                     str(int(sel.cluster_eligible[c])), str(int(sel.cluster_kept[c]))])
    out.append(Section("Clusters", f"<figure>{_cluster_plot(b)}</figure>" + _table(
        ["cluster", "keywords", "size", "scored", "mean quality", "mean ≥ threshold",
         "eligible", "selected"], rows, left=(1,))))
    ex = []
    score, _, _ = b._scores()
    for c in range(cl.n_clusters):
        items = "".join(
            f"<li><code>{_esc(uniq_ids[j])}</code> (score "
            f"{'–' if score[j] != score[j] else int(score[j])}"
            f"{', selected' if sel.keep[j] else ''}): {_esc(_short(uniq_txt[j]))}</li>"
            for j in cl.representatives[c][:examples])
        kept = [int(j) for j in np.flatnonzero(sel.keep & (cl.labels == c))
                if int(j) not in cl.representatives[c]][:2]
        items += "".join(f"<li><code>{_esc(uniq_ids[j])}</code> (selected, score "
                         f"{int(score[j])}): {_esc(_short(uniq_txt[j]))}</li>" for j in kept)
        ex.append(f"<h3>{c}: {_esc(cl.names[c])} ({int(cl.sizes[c])} prompts)</h3><ul>{items}</ul>")
    out.append(Section("Examples per cluster",
                       '<p class="meta">Most representative prompts first (closest to the '
                       "cluster centroid), then selected ones.</p>" + "".join(ex)))
    dup_rows = [[ps.ids[i], DEDUP_REASONS[b.dedup.kind[i]], ps.ids[int(b.dedup.duplicate_of[i])],
                 f"{b.dedup.similarity[i]:.3f}", _short(ps.texts[i], 120)]
                for i in np.flatnonzero(~b.dedup.keep)[:max_rows]]
    if dup_rows:
        more = int((~b.dedup.keep).sum()) - len(dup_rows)
        out.append(Section("Duplicates removed", _table(
            ["prompt", "kind", "duplicate of", "similarity", "text"], dup_rows, left=(0, 4))
            + (f'<p class="meta">… and {more} more (see the build table).</p>' if more > 0
               else "")))
    bad = [[pid, _short(r or "", 300)] for pid, s, r in zip(q.prompt_ids, q.status, q.raw,
                                                            strict=True) if s == "unparsed"]
    if bad:
        out.append(Section("Judge replies that did not parse",
                           _table(["prompt", "reply"], bad[:max_rows], left=(0, 1))))
    return out


def write_build_report(b: BenchBuild, path: str | Path, *, title: str | None = None) -> Path:
    """Write the build report to ``path`` (one self-contained HTML file)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    t = title or f"Benchmark build: {b.n_kept} of {len(b.prompts)} prompts selected"
    summary = (f"source {b.prompts.source or '(table)'}; judge {b.judge}; "
               f"embedder {b.embedder}; {b.clustering.n_clusters} clusters")
    p.write_text(render_report([], title=t, summary=summary, sections=build_sections(b)),
                 encoding="utf-8")
    return p
