"""Self-contained HTML leaderboard report: table, forest plot, win-probability heatmap,
battle counts. One file, inline SVG and CSS, no scripts or network access."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import markupsafe
import numpy as np

from preflab import __version__
from preflab.rank._counts import PairCounts
from preflab.rank._ratings import Ratings
from preflab.report._plots import forest_plot, heatmap, win_probability

_TEMPLATE = jinja2.Template(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1b1b1b}
h1{font-size:1.5rem} h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem} th,td{padding:.25rem .6rem;text-align:right}
th{background:#f3f5f7;position:sticky;top:0} td.m,th.m{text-align:left}
tr:nth-child(even){background:#fafbfc} .meta{color:#555;font-size:.85rem}
figure{margin:1rem 0;overflow-x:auto} svg{max-width:100%;height:auto}
</style></head><body>
<h1>{{ title }}</h1>
<p class="meta">{{ summary }}</p>
{% for board in boards %}
<h2>{{ board.heading }}</h2>
<p class="meta">{{ board.note }}</p>
<table><thead><tr><th>rank</th><th>rank (UB)</th><th class="m">model</th><th>rating</th>
<th>95% CI</th><th>n</th><th>win rate</th></tr></thead><tbody>
{% for r in board.rows %}<tr><td>{{ r.rank }}</td><td>{{ r.rank_ub }}</td>
<td class="m">{{ r.model }}</td><td>{{ "%.1f"|format(r.rating) }}</td>
<td>{% if r.ci_low is not none %}{{ "%.1f"|format(r.ci_low) }} –
{{ "%.1f"|format(r.ci_high) }}{% else %}–{% endif %}</td>
<td>{{ "%.0f"|format(r.n) if r.n is not none else "" }}</td>
<td>{{ "%.3f"|format(r.win_rate) if r.win_rate is not none else "" }}</td></tr>
{% endfor %}</tbody></table>
{% for fig in board.figures %}<figure>{{ fig }}</figure>{% endfor %}
{% endfor %}
{% for section in sections %}<h2>{{ section.heading }}</h2>{{ section.html }}{% endfor %}
<p class="meta">preflab {{ version }} · generated {{ when }}</p>
</body></html>
""",
    autoescape=False,  # values are escaped explicitly below; SVG must pass through
)


@dataclass
class Board:
    """One leaderboard section of a report."""

    heading: str
    ratings: Ratings
    counts: PairCounts | None = None
    note: str = ""
    figures: list[str] = field(default_factory=list)


@dataclass
class Section:
    """Extra HTML (already safe) appended to a report, e.g. a benchmark audit."""

    heading: str
    html: str


def _esc(x: object) -> str:
    return str(markupsafe.escape(str(x)))


def board_figures(ratings: Ratings, counts: PairCounts | None, *, max_matrix: int = 40
                  ) -> list[str]:
    """Forest plot, predicted win-probability heatmap and battle-count matrix."""
    figs = [forest_plot(ratings)]
    order = ratings.order()[:max_matrix]
    labels = [ratings.models[i] for i in order]
    p = win_probability(ratings)[np.ix_(order, order)]
    n_all = len(ratings.models)
    more = f" (top {len(order)} of {n_all})" if len(order) < n_all else ""
    figs.append(heatmap(p, labels, title=f"Predicted P(row beats column){more}", vmin=0,
                        vmax=1, cmap="RdBu"))
    if counts is not None:
        idx = [counts.models.index(m) for m in labels]
        mat = counts.battle_matrix()[np.ix_(idx, idx)]
        figs.append(heatmap(np.where(mat > 0, mat, np.nan), labels,
                            title=f"Comparisons between models{more}", fmt="{:.0f}",
                            cmap="Blues"))
    return figs


def render_report(boards: list[Board], *, title: str = "preflab leaderboard",
                  summary: str = "", sections: list[Section] | None = None) -> str:
    """The report as one HTML string."""
    items = []
    for b in boards:
        rows = [{k: (_esc(v) if isinstance(v, str) else v) for k, v in rec.items()}
                for rec in b.ratings.to_records()]
        figs = b.figures or board_figures(b.ratings, b.counts)
        items.append({"heading": _esc(b.heading), "note": _esc(b.note), "rows": rows,
                      "figures": figs})
    html: str = _TEMPLATE.render(
        title=_esc(title), summary=_esc(summary), boards=items, sections=sections or [],
        version=__version__, when=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return html


def write_report(path: str | Path, boards: list[Board], **kwargs: object) -> Path:
    """Write :func:`render_report` to ``path``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_report(boards, **kwargs), encoding="utf-8")  # type: ignore[arg-type]
    return p
