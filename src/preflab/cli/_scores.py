"""``preflab winrate`` (AlpacaEval win rates, LC win rates) and ``preflab arena-hard``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.table import Table

from preflab.cli._common import console, handle_errors, rich_progress


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _emit(data: dict[str, object], output: str | None, as_json: bool) -> None:
    text = json.dumps(data, indent=2, allow_nan=False)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}")
    if as_json:
        click.echo(text)


@click.command("winrate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--baseline", default=None,
              help="Baseline model (generator_1); default: the one in the file.")
@click.option("--length-controlled", is_flag=True,
              help="Also fit AlpacaEval 2.0's length-controlled GLM.")
@click.option("--difficulty", type=click.Path(dir_okay=False), default=None,
              help="instruction_difficulty.csv (index, instruction_difficulty).")
@click.option("--gamed", type=click.Path(dir_okay=False), default=None,
              help="df_gamed.csv: gamed-baseline annotations that regularise the LC GLM.")
@click.option("--difficulty-lookup", type=click.Choice(["position", "instruction"]),
              default="position", show_default=True,
              help="position reproduces AlpacaEval (its quirk); instruction corrects it.")
@click.option("--lc-solver", type=click.Choice(["liblinear", "exact"]), default="liblinear",
              show_default=True,
              help="liblinear replays the solver AlpacaEval uses (its numbers, early stop "
                   "included); exact solves every fit of the LC GLM to its optimum.")
@click.option("--duplicates", type=click.Choice(["error", "drop", "keep"]), default="error",
              show_default=True,
              help="A model with the same instruction twice: stop, drop identical "
                   "repeats, or keep all.")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON on stdout.")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Write an HTML report.")
@handle_errors
def winrate(file: str, baseline: str | None, length_controlled: bool, difficulty: str | None,
            gamed: str | None, difficulty_lookup: str, lc_solver: str, duplicates: str,
            output: str | None, as_json: bool, report: str | None) -> None:
    """Win rates against a baseline from AlpacaEval annotations (and LC win rates).

    Reads AlpacaEval's annotation columns (generator_1, output_1, generator_2, output_2,
    preference). Without --difficulty/--gamed the LC GLM uses a difficulty estimated from the
    file and no regularisation, and says so.

    \b
    Example:
      preflab winrate annotations.parquet --baseline gpt4_1106_preview --length-controlled \\
        --gamed lc_inputs/gamed_annotations.csv --difficulty lc_inputs/instruction_difficulty.csv
    """
    from preflab.rank._winrate import (
        read_alpacaeval_annotations,
        read_difficulty,
        read_gamed,
        win_rate_board,
    )

    ann = read_alpacaeval_annotations(file, baseline=baseline, duplicates=duplicates)
    if (difficulty or gamed) and not length_controlled:
        console.print("[yellow]--difficulty/--gamed only matter with --length-controlled[/]")
    diff = read_difficulty(difficulty) if difficulty and length_controlled else None
    gam = read_gamed(gamed) if gamed and length_controlled else None
    with rich_progress("win rates", total=len(ann.models)) as progress:
        board = win_rate_board(ann, length_controlled=length_controlled, difficulty=diff, gamed=gam,
                               difficulty_lookup=difficulty_lookup, solver=lc_solver,
                               progress=progress)
    table = Table(title=f"Win rates against {board.baseline}")
    for col in ("model", "LC win rate", "LC SE", "win rate", "SE", "discrete", "wins", "draws",
                "n", "avg length"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in board.models:
        table.add_row(r.model, _fmt(r.lc_win_rate), _fmt(r.lc_standard_error), _fmt(r.win_rate),
                      _fmt(r.standard_error), _fmt(r.discrete_win_rate), str(r.n_wins),
                      str(r.n_draws), str(r.n_total), str(r.avg_length))
    console.print(table)
    for note in board.notes:
        console.print(f"[yellow]note:[/] {note}")
    data = board.to_dict()
    _emit(data, output, as_json)
    if report:
        from preflab.report._benchmark import winrate_section, write_html

        write_html(report, "Win rates", [winrate_section(board)])
        console.print(f"wrote {report}")


@click.command("arena-hard")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--baseline", default="gpt-4-0314", show_default=True,
              help="The baseline every model faces.")
@click.option("--answers-meta", type=click.Path(dir_okay=False), default=None,
              help="Answer lengths/markdown counts (model, question_id, len_chars or "
                   "token_len, n_headers, "
                   "n_bold, n_list_items) for style control and average length.")
@click.option("--style-control", is_flag=True,
              help="Control for length and markdown (Arena-Hard v0.1).")
@click.option("--n-rounds", default=100, show_default=True,
              help="Bootstrap rounds (Arena-Hard: 100).")
@click.option("--seed", default=0, show_default=True, help="Random seed of the bootstraps.")
@click.option("--question-bootstrap/--no-question-bootstrap", default=True, show_default=True,
              help="Also resample whole questions (cluster bootstrap).")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON on stdout.")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="Write an HTML report.")
@handle_errors
def arena_hard(file: str, baseline: str, answers_meta: str | None, style_control: bool,
               n_rounds: int,
               seed: int, question_bootstrap: bool, output: str | None, as_json: bool,
               report: str | None) -> None:
    """Arena-Hard scores: win rate against the baseline from a Bradley–Terry fit, with intervals.

    FILE is Arena-Hard's battle table (show_result.py), its judgment JSONL (two games per
    question), or a per-game judgment table. Intervals: Arena-Hard's row bootstrap and a
    bootstrap over whole questions.

    \b
    Example:
      preflab arena-hard battles.parquet --baseline gpt-4-0314 \\
        --answers-meta answers_meta.parquet \\
        --style-control --n-rounds 1000 --output arena_hard.json
    """
    from preflab.rank._arena_hard import arena_hard_scores, read_arena_hard

    battles = read_arena_hard(file, baseline=baseline, answers_meta=answers_meta)
    board = arena_hard_scores(battles, n_rounds=n_rounds, rng=seed, style_control=style_control,
                              question_bootstrap=question_bootstrap)
    title = "Arena-Hard scores" + (" (style-controlled)" if style_control else "")
    table = Table(title=f"{title} against {board.baseline}")
    for col in ("model", "score", "95% CI (rows)", "95% CI (questions)", "questions",
                f"avg length ({board.length_unit})"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for r in board.models:
        table.add_row(r.model, _fmt(r.score), f"{_fmt(r.ci_low)} – {_fmt(r.ci_high)}",
                      f"{_fmt(r.question_ci_low)} – {_fmt(r.question_ci_high)}", str(r.n_questions),
                      _fmt(r.avg_length, 0))
    console.print(table)
    if question_bootstrap:
        console.print(f"question-bootstrap intervals are {board.width_ratio:.2f}× as wide as "
                      "the row "
                      "bootstrap's (Arena-Hard's)")
    if board.style_coefficients:
        console.print("style coefficients: " + ", ".join(
            f"{k} {v:+.3f}" for k, v in board.style_coefficients.items()))
    for note in board.notes:
        console.print(f"[yellow]note:[/] {note}")
    _emit(board.to_dict(), output, as_json)
    if report:
        from preflab.report._benchmark import arena_hard_section, write_html

        write_html(report, "Arena-Hard", [arena_hard_section(board)])
        console.print(f"wrote {report}")


commands: list[click.Command] = [winrate, arena_hard]
