"""Rankings at scale: active sampling, robustness, power, incremental boards, K-wise votes."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import pyarrow as pa

from preflab._errors import DataError
from preflab.cli._common import console, handle_errors, rich_progress
from preflab.cli._input import comparison_input_options, load_comparisons
from preflab.rank._ratings import SCALES, Ratings


def _anchor(value: str | None) -> tuple[str, float] | None:
    from preflab.cli._rank import parse_anchor

    return parse_anchor(value)


def _is_board(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _state(path: str, input_options: dict[str, Any]) -> Any:
    """A board file or a comparisons file, as something the rank functions accept."""
    from preflab.rank._incremental import Board

    if _is_board(path):
        return Board(path)
    return load_comparisons(path, **input_options)


def _emit_ratings(r: Ratings, fmt: str, output: str | None, title: str) -> None:
    if fmt == "json":
        text = json.dumps(r.to_dict(), indent=2)
        if output:
            Path(output).write_text(text + "\n", encoding="utf-8")
        else:
            click.echo(text)
        return
    if fmt == "csv":
        import pyarrow.csv as pacsv

        table = pa.Table.from_pylist(r.to_records())
        if output:
            pacsv.write_csv(table, output)
        else:
            buf = pa.BufferOutputStream()
            pacsv.write_csv(table, buf)
            click.echo(buf.getvalue().to_pybytes().decode(), nl=False)
        return
    from rich.table import Table

    t = Table(title=f"{title}: {r.method} ({r.scale}), {r.n_comparisons:,} votes",
              title_justify="left")
    for col in ("rank", "UB", "model", "rating", "95% CI", "n"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for rec in r.to_records():
        ci = ("" if rec["ci_low"] is None
              else f"{rec['ci_low'] - rec['rating']:+.1f} / {rec['ci_high'] - rec['rating']:+.1f}")
        t.add_row(str(rec["rank"]), str(rec["rank_ub"]), rec["model"], f"{rec['rating']:.1f}",
                  ci, "" if rec["n"] is None else f"{rec['n']:.0f}")
    console.__class__(file=sys.stdout, width=max(console.width, 100)).print(t)


@click.command("next-pairs")
@click.argument("state", type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@click.option("-n", "n", type=int, default=50, show_default=True, help="Pairs to propose.")
@click.option("--strategy", type=click.Choice(["info", "ucb", "uniform"]), default="info",
              show_default=True, help="info: expected information on adjacent orders; ucb: "
              "most-overlapping neighbours; uniform: random pairs.")
@click.option("--budget", "budgets", multiple=True, metavar="MODEL=N",
              help="At most N new comparisons for MODEL in this batch (repeatable).")
@click.option("--new-model", "new_models", multiple=True, metavar="MODEL",
              help="A model without comparisons yet (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@handle_errors
def next_pairs_command(state: str, n: int, strategy: str, budgets: tuple[str, ...],
                       new_models: tuple[str, ...], seed: int, fmt: str,
                       **input_options: Any) -> None:
    """Propose the next comparisons that most reduce ranking uncertainty.

    STATE is a comparisons file or a board made with `preflab board init`.

    \b
    Example:
      preflab next-pairs arena.board -n 50 --strategy info --budget gpt-4o=10
    """
    caps: dict[str, int] = {}
    for item in budgets:
        name, sep, value = item.rpartition("=")
        if not sep or not name or not value.isdigit():
            raise click.BadParameter(f"'{item}' is not MODEL=N", param_hint="--budget")
        caps[name] = int(value)
    from preflab.rank._active import next_pairs

    pairs = next_pairs(_state(state, input_options), n, strategy=strategy, budgets=caps,
                       rng=seed, models=list(new_models))
    if fmt == "json":
        click.echo(json.dumps([{"model_a": a, "model_b": b} for a, b in pairs], indent=2))
    elif fmt == "csv":
        click.echo("model_a,model_b")
        for a, b in pairs:
            click.echo(f"{a},{b}")
    else:
        for a, b in pairs:
            click.echo(f"{a}\tvs\t{b}")


@click.command("fragility")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@click.option("--pair", "pair", nargs=2, default=None, metavar="MODEL MODEL",
              help="Check the order of these two models instead of the top rank.")
@click.option("--max-share", type=float, default=0.5, show_default=True,
              help="Give up after removing this share of the votes.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@handle_errors
def fragility_command(file: str, pair: tuple[str, str] | None, max_share: float,
                      fmt: str, **input_options: Any) -> None:
    """The fewest votes whose removal changes the top rank (or the order of a pair).

    Verified by refitting without them.

    \b
    Example:
      preflab fragility arena.parquet
      preflab fragility arena.parquet --pair gpt-4o claude-3-opus
    """
    from preflab.rank._robustness import fragility

    pair_a, pair_b = pair if pair else (None, None)
    state = _state(file, input_options)
    src = state.counts() if hasattr(state, "counts") else state
    res = fragility(src, pair_a, pair_b, max_share=max_share)
    if fmt == "json":
        click.echo(json.dumps(asdict(res), indent=2))
        return
    verdict = "verified by refit" if res.verified else f"not reached within {max_share:.0%}"
    click.echo(f"{res.model_a} leads {res.model_b} by {res.gap_before:.1f} points; removing "
               f"{res.n_removed:,} votes ({res.share:.2%}) reverses it "
               f"(gap {res.gap_after:+.1f}; {verdict}):")
    for a, b, w, k in res.removed:
        click.echo(f"  {k:6d} x  {a} vs {b}, winner {w}")


@click.command("power")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.argument("first", metavar="MODEL_A")
@click.argument("second", metavar="MODEL_B")
@comparison_input_options
@click.option("--level", type=float, default=0.95, show_default=True)
@click.option("--power", "power_", type=float, default=0.8, show_default=True,
              help="Probability of separating them, if the current gap is the true one.")
@click.option("--design", type=click.Choice(["direct", "proportional"]), default="direct",
              show_default=True, help="direct: new votes are A vs B; proportional: new votes "
              "follow the current mix of pairs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@handle_errors
def power_command(file: str, first: str, second: str, level: float, power_: float,
                  design: str, fmt: str, **input_options: Any) -> None:
    """How many more votes until MODEL_A and MODEL_B are separated at LEVEL.

    \b
    Example:
      preflab power arena.parquet gpt-4o claude-3-opus --level 0.95 --power 0.8
    """
    from preflab.rank._robustness import power

    state = _state(file, input_options)
    src = state.counts() if hasattr(state, "counts") else state
    res = power(src, first, second, level=level, power=power_, design=design)
    if fmt == "json":
        d = asdict(res)
        d["votes_needed"] = None if math.isinf(res.votes_needed) else res.votes_needed
        click.echo(json.dumps(d, indent=2))
        return
    need = ("never (the gap is zero)" if math.isinf(res.votes_needed)
            else f"{res.votes_needed:,.0f} more votes ({design})")
    click.echo(f"{first} - {second}: gap {res.gap:+.1f} ± {res.se:.1f} (z = {res.z:.2f}); "
               f"to separate at {level:.0%} with power {power_:.0%}: {need}")


@click.command("voter-influence")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@click.option("--by", default="judge", show_default=True, help="Column naming the voter.")
@click.option("--top", type=int, default=20, show_default=True)
@handle_errors
def voter_influence_command(file: str, by: str, top: int, **input_options: Any) -> None:
    """Leave-one-voter-out influence: how far each voter moves the ratings.

    \b
    Example:
      preflab voter-influence arena.parquet --by judge --top 20
    """
    from preflab.rank._robustness import voter_influence

    table = voter_influence(load_comparisons(file, **input_options), by=by)
    click.echo(f"{'voter':30s} {'votes':>8s} {'max shift':>10s} {'top shift':>10s} {'exact':>8s}")
    for row in table.slice(0, top).to_pylist():
        exact = "" if row["exact_max_shift"] is None else f"{row['exact_max_shift']:.2f}"
        click.echo(f"{str(row['voter'])[:30]:30s} {row['n_votes']:8.0f} {row['max_shift']:10.2f} "
                   f"{row['top_shift']:+10.2f} {exact:>8s}")


@click.group("board")
def board_group() -> None:
    """Incremental leaderboards: counts on disk, append, refit in milliseconds.

    \b
    Example:
      preflab board init arena.board && preflab board append arena.board today.parquet
      preflab board show arena.board --anchor gpt-4-0314=1000
    """


@board_group.command("init")
@click.argument("board", type=click.Path(dir_okay=False))
@click.option("--ties", type=click.Choice(["half", "drop"]), default="half", show_default=True)
@handle_errors
def board_init(board: str, ties: str) -> None:
    """Create an empty board file.

    \b
    Example:
      preflab board init arena.board --ties half
    """
    from preflab.rank._incremental import Board

    Board.create(board, ties=ties).close()
    click.echo(f"created {board}")


@board_group.command("append")
@click.argument("board", type=click.Path(exists=True, dir_okay=False))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@handle_errors
def board_append(board: str, files: tuple[str, ...], **input_options: Any) -> None:
    """Add the comparisons of FILES to BOARD.

    \b
    Example:
      preflab board append arena.board battles-2024-06-01.parquet
    """
    from preflab.rank._incremental import Board

    with Board(board) as b:
        for f in files:
            added = b.append(load_comparisons(f, **input_options))
            click.echo(f"{f}: {added:,} comparisons added ({b.n_comparisons:,} in total)")


@board_group.command("show")
@click.argument("board", type=click.Path(exists=True, dir_okay=False))
@click.option("--anchor", default=None, metavar="MODEL=RATING")
@click.option("--scale", type=click.Choice(list(SCALES)), default="elo", show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@handle_errors
def board_show(board: str, anchor: str | None, scale: str, fmt: str,
               output: str | None) -> None:
    """Refit (warm-started) and print the board.

    \b
    Example:
      preflab board show arena.board --format json -o board.json
    """
    from preflab.rank._incremental import Board

    with Board(board) as b:
        r = b.fit(anchor=_anchor(anchor), scale=scale)
        console.print(f"refit in {b.last_fit_seconds * 1000:.1f} ms "
                      f"({b.last_iterations} Newton steps)", highlight=False)
    _emit_ratings(r, fmt, output, board)


@click.command("rank-kwise")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--method", type=click.Choice(["mm", "spectral"]), default="mm", show_default=True)
@click.option("--bootstrap", "n_bootstrap", type=int, default=0, show_default=True, metavar="N")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--anchor", default=None, metavar="MODEL=RATING")
@click.option("--scale", type=click.Choice(list(SCALES)), default="elo", show_default=True)
@click.option("--expand", type=click.Choice(["pair", "vote"]), default=None,
              help="Instead of fitting, write the implied pairwise comparisons to -o "
                   "(pair: each pair weight 1, as K-Sort Arena; vote: a vote weighs 1).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@handle_errors
def rank_kwise(file: str, method: str, n_bootstrap: int, seed: int, anchor: str | None,
               scale: str, expand: str | None, fmt: str, output: str | None) -> None:
    """Plackett-Luce ratings from K-wise votes (a rankings table: `models` = groups, best first).

    \b
    Example:
      preflab rank-kwise votes.parquet --method mm --bootstrap 1000 --seed 0
      preflab rank-kwise votes.parquet --expand pair -o pairs.parquet
    """
    from preflab.data import read_table, write_table
    from preflab.rank._plackett_luce import fit_plackett_luce, rankings_to_comparisons

    table = read_table(file)
    if "models" in table.column_names and pa.types.is_string(table.column("models").type):
        # JSON-encoded groups in CSV files
        table = table.set_column(table.column_names.index("models"), "models",
                                 pa.array([json.loads(x) for x in table.column("models")
                                           .to_pylist()], pa.list_(pa.list_(pa.string()))))
    if expand is not None:
        if not output:
            raise DataError("--expand writes a comparisons file", field="-o",
                            fix="Add -o pairs.parquet.")
        pairs = rankings_to_comparisons(table, weighting=expand)
        write_table(pairs, output)
        click.echo(f"{pairs.num_rows:,} pairwise comparisons written to {output}")
        return
    if n_bootstrap:
        with rich_progress("bootstrap", total=n_bootstrap) as progress:
            r = fit_plackett_luce(table, method=method, n_bootstrap=n_bootstrap, rng=seed,
                                  anchor=_anchor(anchor), scale=scale, progress=progress)
    else:
        r = fit_plackett_luce(table, method=method, anchor=_anchor(anchor), scale=scale)
    _emit_ratings(r, fmt, output, file)


commands: list[click.Command] = [next_pairs_command, fragility_command, power_command,
                                 voter_influence_command, board_group, rank_kwise]
