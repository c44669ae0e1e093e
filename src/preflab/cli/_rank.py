"""``preflab rank``: a leaderboard with intervals, in the terminal and as an HTML report."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import pyarrow as pa

from preflab._errors import PreflabError
from preflab.cli._common import console, handle_errors, rich_progress
from preflab.cli._input import comparison_input_options, load_comparisons
from preflab.rank import SCALES, TIES, Leaderboard, PairCounts, leaderboard, native_counts

if TYPE_CHECKING:
    from rich.table import Table


def parse_anchor(value: str | None) -> tuple[str, float] | None:
    """``MODEL=RATING`` -> ``(MODEL, RATING)``."""
    if value is None:
        return None
    name, sep, rating = value.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name, float(rating)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not MODEL=RATING (e.g. gpt-4-0314=1000)",
                                 param_hint="--anchor") from None


def terminal_table(board: Leaderboard, *, limit: int | None = None) -> Table:
    """A rich table of one board, best first."""
    r = board.ratings
    title = f"{board.name}: {r.method} ({r.scale} scale), {r.n_comparisons:,} comparisons"
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for col, just in (("rank", "right"), ("UB", "right"), ("model", "left"),
                      ("rating", "right"), ("95% CI", "right"), ("n", "right"),
                      ("win rate", "right")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for rec in r.to_records()[:limit]:
        ci = ("" if rec["ci_low"] is None
              else f"{rec['ci_low'] - rec['rating']:+.1f} / {rec['ci_high'] - rec['rating']:+.1f}")
        t.add_row(str(rec["rank"]), str(rec["rank_ub"]), rec["model"], f"{rec['rating']:.1f}",
                  ci, "" if rec["n"] is None else f"{rec['n']:.0f}",
                  "" if rec["win_rate"] is None else f"{rec['win_rate']:.3f}")
    return t


def style_table(board: Leaderboard) -> Table:
    """The style coefficients of a style-controlled board."""
    from rich.table import Table

    t = Table(title=f"{board.name}: style coefficients (logit per s.d. of the feature)",
              title_justify="left")
    for col in ("feature", "coef", "95% CI"):
        t.add_column(col, justify="left" if col == "feature" else "right")
    for rec in board.style.to_dict()["style"]:
        ci = "" if rec["ci_low"] is None else f"{rec['ci_low']:+.4f} / {rec['ci_high']:+.4f}"
        t.add_row(rec["feature"], f"{rec['coef']:+.4f}", ci)
    return t


def _board_dict(board: Leaderboard) -> dict[str, Any]:
    return board.style.to_dict() if board.style is not None else board.ratings.to_dict()


def _records_table(boards: list[Leaderboard]) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for b in boards:
        for rec in b.ratings.to_records():
            rows.append({"board": b.name, **rec})
    return pa.Table.from_pylist(rows)


@click.command("rank")
@click.argument("file", type=str)
@comparison_input_options
@click.option("--method", type=click.Choice(["bt", "elo"]), default="bt", show_default=True,
              help="Bradley-Terry MLE, or online Elo (K=4, FastChat's defaults).")
@click.option("--ties", type=click.Choice(list(TIES)), default="half", show_default=True,
              help="half: a tie is half a win each side (Chatbot Arena); drop; davidson: "
                   "ties as a third outcome.")
@click.option("--anchor", default=None, metavar="MODEL=RATING",
              help="Shift ratings so MODEL has RATING (default: centred on 1000).")
@click.option("--scale", type=click.Choice(list(SCALES)), default="elo", show_default=True)
@click.option("--prior", type=float, default=0.0, show_default=True,
              help="Gaussian prior precision on the scores (regularises disconnected or "
                   "separable data).")
@click.option("--bootstrap", "n_bootstrap", type=int, default=0, show_default=True,
              metavar="N", help="Bootstrap rounds for 95% intervals (0: none).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--resample", type=click.Choice(["multinomial", "poisson"]),
              default="multinomial", show_default=True)
@click.option("--intervals", type=click.Choice(["bootstrap", "sandwich"]), default="bootstrap",
              show_default=True,
              help="bootstrap (with --bootstrap N) or sandwich: robust Wald intervals, fast.")
@click.option("--cluster", default=None, metavar="COLUMN",
              help="Cluster sandwich/bootstrap intervals by COLUMN (prompt_id, judge).")
@click.option("--style-control", is_flag=True,
              help="Add LMArena's style-controlled board (length, headers, lists, bold).")
@click.option("--style-features", default="tokens,headers,lists,bold", show_default=True,
              help="Style features for --style-control (style_a_<f>/style_b_<f> columns).")
@click.option("--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True,
              help="Aggregation engine for native comparison files (spark: PySpark job).")
@click.option("--by", default=None, metavar="COLUMN",
              help="Also rank each value of COLUMN separately (e.g. category).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "parquet"]),
              default="table", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the result here instead of standard output.")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Also write a self-contained HTML report with plots.")
@click.option("--top", type=int, default=None, help="Show only the top N in the terminal.")
@handle_errors
def rank_command(file: str, method: str, ties: str, anchor: str | None, scale: str,
                 prior: float, n_bootstrap: int, seed: int, resample: str, intervals: str,
                 cluster: str | None, style_control: bool, style_features: str, engine: str,
                 by: str | None, fmt: str, output: str | None, report: str | None,
                 top: int | None, **input_options: Any) -> None:
    """Rank models from pairwise comparisons, with bootstrap intervals and rank intervals.

    FILE is a comparisons table (Parquet, CSV, JSON, JSONL) in any format the adapters read
    (see `preflab convert --help`), or `sample:llmfao` for the bundled sample.

    \b
    Example:
      preflab rank arena.jsonl --ties half --anchor gpt-4-0314=1000 --bootstrap 1000 --seed 0
      preflab rank sample:llmfao --bootstrap 1000 --report leaderboard.html
      preflab rank battles.parquet --style-control --intervals sandwich --cluster prompt_id
    """
    from preflab.sample import resolve

    path = resolve(file)
    streamable = not (style_control or cluster is not None or by is not None or method != "bt")
    table = _fast_counts(path, ties, input_options, engine) if streamable else None
    if table is None and engine == "spark":
        raise PreflabError("--engine spark aggregates native comparison files only (no "
                           "adapter options, --by, --cluster or --style-control); convert "
                           "first with `preflab convert`")
    n_slices = 1
    if table is None:
        table = load_comparisons(path, **input_options)
        if by is not None and by in table.column_names:
            n_slices += len(set(table.column(by).to_pylist()) - {None})
    kwargs: dict[str, Any] = dict(
        method=method, ties=ties, anchor=parse_anchor(anchor), scale=scale, prior=prior,
        bootstrap=n_bootstrap, rng=seed, resample=resample, by=by, intervals=intervals,
        cluster=cluster, style_control=style_control,
        features=tuple(f.strip() for f in style_features.split(",") if f.strip()))
    if method == "bt" and n_bootstrap > 0 and intervals == "bootstrap":
        total = n_bootstrap * n_slices * (2 if style_control else 1)
        with rich_progress("bootstrap", total=total) as progress:
            boards = leaderboard(table, progress=progress, **kwargs)
    else:
        boards = leaderboard(table, **kwargs)
    _emit(boards, fmt, output, top)
    if report:
        from preflab.report import Board, write_report

        n_rows = boards[0].ratings.n_comparisons
        summary = (f"{n_rows:,} comparisons from {file}; method {method}, ties {ties}"
                   + (f", {n_bootstrap} bootstrap rounds (seed {seed})" if n_bootstrap else ""))
        write_report(report, [Board(b.name, b.ratings, b.counts, note=_style_note(b))
                              for b in boards],
                     title="preflab leaderboard", summary=summary)
        console.print(f"report written to {report}")


def _style_note(board: Leaderboard) -> str:
    if board.style is None:
        return ""
    parts = [f"{r['feature']} {r['coef']:+.3f}" for r in board.style.to_dict()["style"]]
    return "Style coefficients (logit per s.d.): " + ", ".join(parts)


def _fast_counts(path: str, ties: str, input_options: dict[str, Any],
                 engine: str) -> PairCounts | None:
    """Counts streamed from a native comparisons file (no table in memory), when possible.

    Only without adapter options; any problem in the data falls back to the full reader,
    which reports every bad row with its row number, field and fix.
    """
    if any(v is not None for v in input_options.values()):
        return None
    from preflab.data import file_format

    try:
        if file_format(path) not in ("parquet", "csv", "jsonl"):
            return None
        counts = native_counts(path, ties=ties)
        if counts is not None and engine == "spark":
            from preflab.rank import stream_counts

            counts = stream_counts(path, engine="spark", ties=ties)
    except PreflabError:
        if engine == "spark":
            raise
        return None
    if counts is not None:
        console.print("detected format: native (streamed into counts)", highlight=False)
    return counts


def _emit(boards: list[Leaderboard], fmt: str, output: str | None, top: int | None) -> None:
    if fmt == "table":
        if output:
            raise PreflabError("--format table prints to the terminal; use --format "
                               "json/csv/parquet with -o")
        out = console.__class__(file=sys.stdout, width=max(console.width, 100))
        for b in boards:
            out.print(terminal_table(b, limit=top))
            if b.style is not None:
                out.print(style_table(b))
        return
    if fmt == "json":
        doc: Any = _board_dict(boards[0])
        if len(boards) > 1:
            doc["boards"] = {b.name: _board_dict(b) for b in boards[1:]}
        text = json.dumps(doc, indent=2)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
        else:
            click.echo(text)
        return
    table = _records_table(boards)
    if fmt == "parquet":
        if not output:
            raise PreflabError("--format parquet needs -o FILE.parquet")
        import pyarrow.parquet as pq

        pq.write_table(table, output)
        return
    import pyarrow.csv as pacsv

    if output:
        pacsv.write_csv(table, output)
    else:
        buf = pa.BufferOutputStream()
        pacsv.write_csv(table, buf)
        click.echo(buf.getvalue().to_pybytes().decode(), nl=False)


commands: list[click.Command] = [rank_command]
