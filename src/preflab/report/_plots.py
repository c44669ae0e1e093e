"""Plots for reports, rendered to inline SVG strings (no files, no network)."""

from __future__ import annotations

import io

import numpy as np

from preflab.rank._ratings import FloatArray, Ratings


def _figure(width: float, height: float):  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig) -> str:  # type: ignore[no-untyped-def]
    """Serialise a matplotlib figure to an inline ``<svg>`` string."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    text = buf.getvalue()
    return text[text.index("<svg"):]


def forest_plot(ratings: Ratings, *, max_models: int = 80, title: str = "") -> str:
    """Point ratings with their intervals, best at the top."""
    order = ratings.order()[:max_models]
    n = len(order)
    fig = _figure(7.5, max(2.5, 0.22 * n + 1.0))
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    r = ratings.rating[order]
    ax.scatter(r, y, s=14, color="#1f4e79", zorder=3)
    if ratings.ci is not None:
        lo, hi = ratings.ci[order, 0], ratings.ci[order, 1]
        ax.hlines(y, lo, hi, color="#6a9ccf", lw=2, zorder=2)
    ax.set_yticks(y, [ratings.models[i] for i in order], fontsize=7)
    ax.set_xlabel(f"rating ({ratings.scale} scale)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or "Ratings with 95% intervals", fontsize=10)
    return to_svg(fig)


def heatmap(matrix: FloatArray, labels: list[str], *, title: str, fmt: str = "{:.2f}",
            cmap: str = "RdBu", vmin: float | None = None, vmax: float | None = None,
            annotate: bool = True) -> str:
    """A labelled matrix (rows vs columns) as a heatmap."""
    n = len(labels)
    size = max(4.0, 0.28 * n + 2.0)
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    im = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=6)
    ax.set_yticks(range(n), labels, fontsize=6)
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.6)
    if annotate and n <= 20:
        for i in range(n):
            for j in range(n):
                if i != j and np.isfinite(matrix[i, j]):
                    ax.text(j, i, fmt.format(matrix[i, j]), ha="center", va="center",
                            fontsize=5)
    return to_svg(fig)


def win_probability(ratings: Ratings) -> FloatArray:
    """Predicted P(row beats column) from the ratings (Bradley–Terry on the rating scale)."""
    from preflab.rank._ratings import elo_factor

    s = ratings.rating / elo_factor(ratings.scale)
    d = s[:, None] - s[None, :]
    p: FloatArray = 1.0 / (1.0 + np.exp(-d))
    np.fill_diagonal(p, np.nan)
    return p
