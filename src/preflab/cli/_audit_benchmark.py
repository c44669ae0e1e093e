"""``preflab audit benchmark``: separability, agreement, correlations, Brier vs a reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import click
from rich.table import Table

from preflab.cli._common import console, handle_errors


def _pct(v: float | None) -> str:
    return "—" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


@click.command("benchmark")
@click.argument("scores", type=click.Path(dir_okay=False))
@click.option("--reference", required=True, type=click.Path(dir_okay=False),
              help="Reference board with intervals (e.g. Chatbot Arena), same formats as SCORES.")
@click.option("--metric", default=None,
              help="Score column of SCORES (default: lc_win_rate, score, rating, win_rate).")
@click.option("--reference-metric", default=None, help="Score column of the reference.")
@click.option("--method", type=click.Choice(["fisher", "bootstrap"]), default="fisher",
              show_default=True,
              help="Intervals of the correlations.")
@click.option("--seed", default=0, show_default=True, help="Seed of the correlation bootstrap.")
@click.option("--output", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON on stdout.")
@click.option("--report", type=click.Path(dir_okay=False), default=None,
              help="HTML report with the benchmark-vs-reference scatter.")
@handle_errors
def benchmark(scores: str, reference: str, metric: str | None, reference_metric: str | None,
              method: str,
              seed: int, output: str | None, as_json: bool, report: str | None) -> None:
    """Can the benchmark be trusted? Separability, agreement, correlations, Brier vs a reference.

    SCORES and --reference are the JSON of `preflab rank`, `preflab arena-hard` or
    `preflab winrate`, or CSV/Parquet with model, score and ci_low/ci_high columns.

    \b
    Example:
      preflab audit benchmark arena_hard.json --reference arena_board.json --report audit.html
    """
    from preflab.audit._benchmark import audit_benchmark, read_board

    bench = read_board(scores, metric=metric)
    ref = read_board(reference, metric=reference_metric)
    res = audit_benchmark(bench, ref, method=method, rng=seed)
    table = Table(title=f"{Path(scores).name} ({bench.source}) vs "
                        f"{Path(reference).name} ({ref.source})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_row("models / pairs", f"{len(res.models)} / {res.n_pairs}", "")
    table.add_row("separability", _pct(res.separability), "")
    table.add_row("reference separability", _pct(res.reference_separability), "")
    table.add_row("agreement with CI (paper: +1/−1/0, all pairs)", _pct(res.agreement),
                  f"over {res.n_pairs} pairs")
    table.add_row("agreement with CI (notebook: 1/0.5/0)", _pct(res.agreement_notebook),
                  f"over {res.n_reference_separated} reference-separated pairs")
    for name, c in (("Pearson", res.pearson), ("Spearman", res.spearman), ("Kendall", res.kendall)):
        table.add_row(name, f"{c.value:.3f}", f"{c.ci_low:.3f} – {c.ci_high:.3f}")
    table.add_row("Brier score (pairwise)", f"{res.brier:.4f}", "")
    console.print(table)
    if res.missing_in_reference:
        console.print(f"[yellow]not on the reference:[/] {', '.join(res.missing_in_reference)}")
    text = json.dumps(res.to_dict(), indent=2)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}")
    if as_json:
        click.echo(text)
    if report:
        from preflab.report._benchmark import audit_section, write_html

        write_html(report, "Benchmark audit", [audit_section(res, bench, ref)])
        console.print(f"wrote {report}")


audit_commands: list[click.Command] = [benchmark]
