"""Reports: self-contained HTML with plots (terminal tables live in ``preflab.cli``)."""

from __future__ import annotations

from preflab.report._html import Board, Section, board_figures, render_report, write_report
from preflab.report._plots import forest_plot, heatmap, to_svg, win_probability

__all__ = [
    "Board",
    "Section",
    "board_figures",
    "forest_plot",
    "heatmap",
    "render_report",
    "to_svg",
    "win_probability",
    "write_report",
]
