"""``preflab audit judge`` and ``preflab audit scores``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from preflab.cli._common import handle_errors


def _clean(obj: Any) -> Any:
    """JSON-safe: NaN -> null, tuples -> lists."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


@click.command("judge")
@click.argument("verdicts", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--truth", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Gold or human labels: prompt_id, model_a, model_b, winner (majority per pair).")
@click.option("--family", "families", multiple=True, metavar="MODEL=FAMILY",
              help="Model family for the self-preference check (repeatable).")
@click.option("--n-boot", type=int, default=1000, show_default=True, help="Bootstrap rounds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Save a per-category accuracy / flip-rate plot (PNG).")
@handle_errors
def audit_judge_command(verdicts: Path, truth: Path | None, families: tuple[str, ...], n_boot: int,
                        seed: int, fmt: str, plot: Path | None) -> None:
    """How far to trust a judge: agreement, position/length/self bias, transitivity.

    VERDICTS has one row per judgment: prompt_id, model_a (shown first), model_b, winner,
    and optionally judge, game, category, status, len_a, len_b (what `preflab judge` writes
    to its .verdicts file, or its comparisons output). Two games of a pair are combined with
    JudgeBench's rule (sum of +1/-1 votes).

    \b
    Example:
      preflab audit judge judged.verdicts.parquet --truth labels.parquet --plot audit.png
      preflab audit judge judged.parquet --format json
    """
    from preflab._errors import DataError
    from preflab.audit import audit_judge, plot_judge_audit
    from preflab.data import read_table

    fam: dict[str, str] = {}
    for item in families:
        if "=" not in item:
            raise DataError(f"--family {item!r} is not MODEL=FAMILY", field="family",
                            fix="Write e.g. --family gpt-4o=openai.")
        k, v = item.split("=", 1)
        fam[k] = v
    table = read_table(verdicts)
    rows = table.to_pylist()
    labels = read_table(truth).to_pylist() if truth is not None else None
    audits = audit_judge(rows, labels, family=fam or None, n_boot=n_boot, rng=seed,
                         path=str(verdicts))
    if plot is not None:
        plot_judge_audit(audits, plot)
    if fmt == "json":
        click.echo(json.dumps(_clean({k: a.to_dict() for k, a in audits.items()}), indent=2))
        return
    for name, a in audits.items():
        click.echo(f"judge {name}: {a.n_pairs} pairs, {a.n_games} judgments, "
                   f"{a.n_unparsed} unparsed")
        if a.agreement is not None:
            g = a.agreement
            click.echo(f"  accuracy {_pct(g.accuracy)} [{_pct(g.accuracy_ci[0])}, "
                       f"{_pct(g.accuracy_ci[1])}] on {g.n} pairs; kappa {g.kappa:.3f} "
                       f"[{g.kappa_ci[0]:.3f}, {g.kappa_ci[1]:.3f}]; non-tie truth "
                       f"{_pct(g.accuracy_non_tie)} (n={g.n_non_tie})")
        p = a.position
        click.echo(f"  position: flip rate {_pct(p.flip_rate)} of {p.n_pairs_both_orders} pairs "
                   f"judged both ways; first shown wins {_pct(p.first_win_rate)} "
                   f"[{_pct(p.first_win_ci[0])}, {_pct(p.first_win_ci[1])}] of {p.n_decisive}")
        if a.length is not None:
            lb = a.length
            click.echo(f"  length: longer wins {_pct(lb.longer_win_rate)}; log-odds slope "
                       f"{lb.slope:.3f} per log length ratio [{lb.slope_ci[0]:.3f}, "
                       f"{lb.slope_ci[1]:.3f}]")
        if a.self_preference is not None:
            s = a.self_preference
            extra = "" if s.difference is None else (
                f" vs truth {_pct(s.truth_win_rate)}: difference {100 * s.difference:+.1f} points")
            click.echo(f"  self-preference ({s.family}): own family wins "
                       f"{_pct(s.judge_win_rate)}{extra} (n={s.n})")
        t = a.transitivity
        click.echo(f"  transitivity: {t.n_cyclic_per_prompt}/{t.n_triads_per_prompt} cyclic "
                   f"triads within prompts, {t.n_cyclic_overall}/{t.n_triads_overall} overall")
        for cat, d in a.by_category.items():
            ag = d["agreement"]
            click.echo(f"    {cat:>20}: n={d['n_pairs']:<5} accuracy "
                       f"{_pct(ag['accuracy'] if ag else None)}  flip "
                       f"{_pct(d['position']['flip_rate'])}")


@click.command("scores")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--score", required=True, help="Column with the judge's scores.")
@click.option("--truth", required=True, help="Column with the reference (human grade, pass/fail).")
@click.option("--group", required=True, help="Column grouping items (the problem/prompt).")
@click.option("--n-boot", type=int, default=1000, show_default=True, help="Bootstrap rounds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True)
@handle_errors
def audit_scores_command(table: Path, score: str, truth: str, group: str, n_boot: int, seed: int,
                         fmt: str) -> None:
    """Example- and corpus-level Kendall tau-b, Spearman, Pearson of a score vs the truth.

    Example level: per group, then averaged; groups where either column is constant are
    dropped and counted. Corpus level: all rows pooled. Bootstrap intervals over groups.

    \b
    Example:
      preflab audit scores graded.parquet --score gpt35_nsnr --truth human_grade \\
          --group problem_id --format json
    """
    from preflab.audit import audit_scores
    from preflab.data import read_table

    res = audit_scores(read_table(table), score=score, truth=truth, group=group, n_boot=n_boot,
                       rng=seed, path=str(table))
    d = res.to_dict()
    if fmt == "json":
        click.echo(json.dumps(_clean(d), indent=2))
        return
    for level in ("example", "corpus"):
        x = d[level]
        click.echo(f"{level:>8}: " + "  ".join(
            f"{m} {x[m]:.3f} [{x[m + '_ci'][0]:.3f}, {x[m + '_ci'][1]:.3f}]"
            for m in ("kendall", "spearman", "pearson"))
            + f"  groups {x['n_groups']} (dropped {x['n_dropped']})")


audit_commands: list[click.Command] = [audit_judge_command, audit_scores_command]
