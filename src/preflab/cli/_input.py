"""The input options every command that reads comparisons accepts, and the loader behind them.

Use them together::

    @click.command()
    @click.argument("path", type=click.Path(dir_okay=False))
    @comparison_input_options
    @handle_errors
    def rank(path, **options):
        table = load_comparisons(path, **input_options(options))

Options (stable) and the keyword each becomes in the command's ``**params``:
``--from FORMAT`` (``source``), ``--model-a COL`` (``model_a``), ``--model-b COL``
(``model_b``), ``--winner COL`` (``winner``), ``--winner-map LABEL=WINNER,...``
(``winner_map``), ``--prompt-id COL`` (``prompt_id``), ``--judge-col COL`` (``judge_col``),
``--judge-prefix TEXT`` (``judge_prefix``), ``--weight-col COL`` (``weight_col``),
``--id-col COL`` (``id_col``), ``--baseline MODEL`` (``baseline``), ``--skip-invalid REJECTS``
(``skip_invalid``). :func:`adapter_kwargs` turns them into :func:`preflab.data.read_input`
keyword arguments; :func:`load_comparisons` returns the table, :func:`read_with_options` the
whole :class:`preflab.data.ReadResult` (responses, rejects, format).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
import pyarrow as pa
import pyarrow.compute as pc

from preflab.cli._common import console
from preflab.data import FORMATS, ReadResult, read_input, write_table

F = TypeVar("F", bound=Callable[..., Any])

INPUT_OPTION_NAMES: tuple[str, ...] = (
    "source", "model_a", "model_b", "winner", "winner_map", "prompt_id", "judge_col",
    "judge_prefix", "weight_col", "id_col", "baseline", "skip_invalid",
)
"""Keyword names :func:`comparison_input_options` adds to a command's parameters."""

_OPTIONS = [
    click.option("--from", "source", type=click.Choice(FORMATS), default=None,
                 help="Input format; detected from the columns when absent."),
    click.option("--model-a", "model_a", metavar="COL", default=None,
                 help="Column holding the first model (implies --from columns)."),
    click.option("--model-b", "model_b", metavar="COL", default=None,
                 help="Column holding the second model."),
    click.option("--winner", "winner", metavar="COL", default=None,
                 help="Column holding the verdict."),
    click.option("--winner-map", "winner_map", metavar="LABEL=WINNER,...", default=None,
                 help="Map the input's labels to model_a, model_b, tie, tie_bothbad, "
                      "e.g. left=model_a,right=model_b,tie=tie."),
    click.option("--prompt-id", "prompt_id", metavar="COL", default=None,
                 help="Column holding the prompt id (else ids are generated as row:<n>)."),
    click.option("--judge-col", "judge_col", metavar="COL", default=None,
                 help="Column holding who judged (a voter id, a judge model)."),
    click.option("--judge-prefix", "judge_prefix", metavar="TEXT", default=None,
                 help="Prefix for --judge-col values, e.g. 'human:' for crowd workers."),
    click.option("--weight-col", "weight_col", metavar="COL", default=None,
                 help="Column holding a weight per comparison."),
    click.option("--id-col", "id_col", metavar="COL", default=None,
                 help="Column that must be unique (e.g. a battle id)."),
    click.option("--baseline", "baseline", metavar="MODEL", default=None,
                 help="Arena-Hard baseline when the judgments do not name it "
                      "(default gpt-4-0314)."),
    click.option("--skip-invalid", "skip_invalid", metavar="REJECTS", default=None,
                 type=click.Path(dir_okay=False),
                 help="Keep going past invalid rows; write them, with the reason, to REJECTS "
                      "(.jsonl, .csv, .parquet)."),
]


def say(text: str) -> None:
    """Print a plain message (no markup, no highlighting, no wrapping) on stderr."""
    console.print(text, highlight=False, markup=False, soft_wrap=True)


def comparison_input_options(func: F) -> F:
    """Add the shared input options (see the module docstring) to a click command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def input_options(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the shared input options out of a command's ``**params`` (mutates ``params``)."""
    return {name: params.pop(name, None) for name in INPUT_OPTION_NAMES}


def adapter_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """The CLI option values as :func:`preflab.data.read_input` keyword arguments."""
    return {
        "model_a": options.get("model_a"), "model_b": options.get("model_b"),
        "winner": options.get("winner"), "winner_map": options.get("winner_map"),
        "prompt_id": options.get("prompt_id"), "judge": options.get("judge_col"),
        "judge_prefix": options.get("judge_prefix"), "weight": options.get("weight_col"),
        "id_column": options.get("id_col"), "baseline": options.get("baseline"),
    }


def read_with_options(path: str, **options: Any) -> ReadResult:
    """:func:`preflab.data.read_input` driven by the CLI options; reports on stderr.

    Prints ``detected format: X`` when ``--from`` was not given, and the number of rejected
    rows (written to ``--skip-invalid`` when given). Strict unless ``skip_invalid`` is set:
    the first invalid row raises :class:`preflab._errors.DataError`.
    """
    skip = options.get("skip_invalid")
    result = read_input(path, source=options.get("source"), strict=skip is None,
                        **adapter_kwargs(options))
    if result.detected:
        say(f"detected format: {result.format}")
    n_bad = result.rejects.num_rows
    if skip is not None:
        write_table(result.rejects, skip)
        say(f"{n_bad} of {result.n_input} rows rejected, written to {skip}")
    elif n_bad:
        reasons = pc.value_counts(result.rejects.column("reason")).to_pylist()
        top = "; ".join(f"{r['counts']} x {r['values']}" for r in reasons[:3])
        say(f"{n_bad} of {result.n_input} rows set aside: {top} "
            "(write them with --skip-invalid FILE)")
    return result


def load_comparisons(path: str, **options: Any) -> pa.Table:
    """The comparisons table of ``path`` read with the shared input options (see
    :func:`read_with_options`); every command that reads comparisons calls this."""
    return read_with_options(path, **options).table
