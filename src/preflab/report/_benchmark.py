"""HTML sections for benchmark scores: AlpacaEval (LC) win rates, Arena-Hard, benchmark audits.

Each ``*_section`` returns a :class:`preflab.report.Section` (a table plus inline SVG plots);
:func:`write_html` wraps sections into one self-contained page (no scripts, no network).
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from preflab.report._html import Section, render_report
from preflab.report._plots import _figure, to_svg

if TYPE_CHECKING:
    from preflab.audit._benchmark import BenchmarkAudit, ScoreBoard
    from preflab.rank._arena_hard import ArenaHardBoard
    from preflab.rank._winrate import WinRateBoard


def _f(v: float, d: int = 2) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{d}f}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f'<th class="m">{html.escape(h)}</th>' if i == 0 else f"<th>{html.escape(h)}</th>"
                 for i, h in enumerate(head))
    body = "".join("<tr>" + "".join(
        f'<td class="m">{html.escape(c)}</td>' if i == 0 else f"<td>{html.escape(c)}</td>"
        for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _notes(notes: tuple[str, ...]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return f'<ul class="meta">{items}</ul>'


_Series = tuple[str, list[float], list[float], list[float]]


def _interval_plot(names: list[str], series: list[_Series],
                   xlabel: str) -> str:
    """Horizontal points with error bars, one row per model, several series side by side."""
    n = len(names)
    fig = _figure(7.5, max(2.0, 0.28 * n + 1.0))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1].astype(float)
    for k, (label, mid, lo, hi) in enumerate(series):
        off = (k - (len(series) - 1) / 2) * 0.22
        m, lo_a, hi_a = (np.array(v, dtype=float) for v in (mid, lo, hi))
        # bounds can sit a rounding error inside the point (a model that wins every battle)
        err = np.clip([m - lo_a, hi_a - m], 0.0, None)
        ax.errorbar(m, y + off, xerr=err, fmt="o", ms=3, capsize=2, label=label)
    ax.set_yticks(y, names, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="lower right")
    return to_svg(fig)


def winrate_section(board: WinRateBoard) -> Section:
    """Table of win rates (and LC win rates) with a plot of both and their ±1.96 SE bars."""
    rows = [[r.model, _f(r.lc_win_rate), _f(r.lc_standard_error), _f(r.win_rate),
             _f(r.standard_error), _f(r.discrete_win_rate), str(r.n_wins), str(r.n_draws),
             str(r.n_total), str(r.avg_length)] for r in board.models]
    table = _table(["model", "LC win rate", "LC SE", "win rate", "SE", "discrete", "wins", "draws",
                    "n", "avg length (chars)"], rows)
    names = [r.model for r in board.models]
    series = [("win rate", [r.win_rate for r in board.models],
               [r.win_rate - 1.96 * r.standard_error for r in board.models],
               [r.win_rate + 1.96 * r.standard_error for r in board.models])]
    if board.length_controlled:
        series.insert(0, ("LC win rate", [r.lc_win_rate for r in board.models],
                          [r.lc_win_rate - 1.96 * r.lc_standard_error for r in board.models],
                          [r.lc_win_rate + 1.96 * r.lc_standard_error for r in board.models]))
    plot = _interval_plot(names, series, f"% preferred over {board.baseline} (±1.96 SE)")
    meta = (f'<p class="meta">baseline {html.escape(board.baseline)}; difficulty: '
            f"{html.escape(board.difficulty_source)} (lookup by {board.difficulty_lookup}); "
            f"regularised with gamed baselines: {'yes' if board.regularized else 'no'}</p>")
    return Section(f"AlpacaEval win rates against {html.escape(board.baseline)}",
                   meta + _notes(board.notes) + table + f"<figure>{plot}</figure>")


def arena_hard_section(board: ArenaHardBoard) -> Section:
    """Arena-Hard table and a plot of both bootstrap intervals."""
    rows = [[r.model, _f(r.score), f"{_f(r.ci_low)} – {_f(r.ci_high)}",
             f"{_f(r.question_ci_low)} – {_f(r.question_ci_high)}", str(r.n_questions),
             _f(r.avg_length, 0)] for r in board.models]
    table = _table(["model", "score", "95% CI (rows)", "95% CI (questions)", "questions",
                    f"avg length ({board.length_unit})"], rows)
    names = [r.model for r in board.models]
    series = [("row bootstrap (Arena-Hard)", [r.score for r in board.models],
               [r.ci_low for r in board.models], [r.ci_high for r in board.models])]
    if not math.isnan(board.width_ratio):
        series.append(("question bootstrap", [r.score for r in board.models],
                       [r.question_ci_low for r in board.models],
                       [r.question_ci_high for r in board.models]))
    plot = _interval_plot(names, series, f"win rate against {board.baseline} (%)")
    meta = (f'<p class="meta">{board.n_rounds} bootstrap rounds; question-bootstrap intervals are '
            f"{_f(board.width_ratio)}× as wide as the row bootstrap's"
            + (f"; style coefficients {html.escape(str(board.style_coefficients))}"
               if board.style_control else "") + "</p>")
    return Section("Arena-Hard" + (" (style-controlled)" if board.style_control else ""),
                   meta + _notes(board.notes) + table + f"<figure>{plot}</figure>")


def audit_section(res: BenchmarkAudit, bench: ScoreBoard, ref: ScoreBoard) -> Section:
    """Meta-metrics table and the benchmark-vs-reference scatter with both intervals."""
    rows = [["separability", f"{100 * res.separability:.1f}%", ""],
            ["reference separability", f"{100 * res.reference_separability:.1f}%", ""],
            ["agreement with CI (paper)", f"{100 * res.agreement:.1f}%",
             f"+1/-1/0 over all {res.n_pairs} pairs"],
            ["agreement with CI (notebook)", f"{100 * res.agreement_notebook:.1f}%",
             f"1/0.5/0 over {res.n_reference_separated} reference-separated pairs"]]
    for name, c in (("Pearson", res.pearson), ("Spearman", res.spearman),
                    ("Kendall", res.kendall)):
        rows.append([name, _f(c.value, 3), f"{_f(c.ci_low, 3)} – {_f(c.ci_high, 3)}"])
    rows.append(["Brier score", _f(res.brier, 4), ""])
    table = _table(["metric", "value", "95% CI / note"], rows)
    bi = [bench.models.index(m) for m in res.models]
    ri = [ref.models.index(m) for m in res.models]
    x, xc = ref.score[ri], ref.ci[ri]
    y, yc = bench.score[bi], bench.ci[bi]
    fig = _figure(6.5, 5.0)
    ax = fig.add_subplot()
    ax.errorbar(x, y, xerr=np.clip([x - xc[:, 0], xc[:, 1] - x], 0.0, None),
                yerr=np.clip([y - yc[:, 0], yc[:, 1] - y], 0.0, None),
                fmt="o", ms=3, capsize=2, alpha=0.8)
    for m, xi, yi in zip(res.models, x, y, strict=True):
        ax.annotate(m, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"reference ({ref.source})")
    ax.set_ylabel(f"benchmark ({bench.source})")
    ax.grid(alpha=0.3)
    return Section("Benchmark audit", table + f"<figure>{to_svg(fig)}</figure>")


def write_html(path: str | Path, title: str, sections: list[Section]) -> Path:
    """Write a self-contained HTML page with the given sections."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_report([], title=title, sections=sections), encoding="utf-8")
    return p
