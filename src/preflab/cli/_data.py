"""``preflab convert`` and ``preflab validate``: the data layer's commands."""

from __future__ import annotations

from typing import Any

import click
import pyarrow.compute as pc

from preflab.cli._common import handle_errors
from preflab.cli._input import (
    adapter_kwargs,
    comparison_input_options,
    input_options,
    read_with_options,
    say,
)
from preflab.data import check_comparisons_file, read_input, write_table
from preflab.data._validate import first_problems


@click.command("convert")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to write the comparisons table (.parquet, .csv, .jsonl, .json).")
@click.option("--responses", "responses", default=None, type=click.Path(dir_okay=False),
              help="Also write the texts (prompt_id, model, text, prompt) when the input has them.")
@handle_errors
def convert(path: str, output: str, responses: str | None, **params: Any) -> None:
    """Convert PATH (any supported format) into a validated comparisons table.

    Formats: native, arena (Chatbot Arena battles), columns (your own column names via
    --model-a/--model-b/--winner/--winner-map), alpacaeval, arena-hard, pairs
    (chosen/rejected), judgebench, rankings (K-wise, broken into pairs). Without --from the
    format is detected from the columns.

    \b
    Example:
      preflab convert crowd_votes.parquet --model-a left --model-b right --winner winner \\
        --winner-map left=model_a,right=model_b,tie=tie --prompt-id prompt_id \\
        --judge-col worker --judge-prefix human: -o votes.parquet
      preflab convert annotations.json --from alpacaeval -o ae.parquet --responses texts.parquet
    """
    result = read_with_options(path, **input_options(params))
    write_table(result.table, output)
    say(f"wrote {result.table.num_rows} comparisons to {output}")
    if responses is not None:
        if result.responses is None:
            raise click.ClickException(
                f"{path}: the {result.format} format has no response texts; drop --responses.")
        write_table(result.responses, responses)
        say(f"wrote {result.responses.num_rows} responses to {responses}")


@click.command("validate")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@comparison_input_options
@click.option("--max-errors", default=10, show_default=True,
              help="How many invalid rows to describe.")
@click.option("--stream", is_flag=True,
              help="Native comparisons files of any size: stream through DuckDB without "
                   "loading (counts per field and the first invalid row; no rejects file).")
@handle_errors
def validate(path: str, max_errors: int, stream: bool, **params: Any) -> None:
    """Check PATH row by row and report every problem (file, row, field, fix).

    Exits with status 1 when a row is invalid, unless --skip-invalid REJECTS is given (then the
    rejected rows are written there with their reason and the count is reported).

    \b
    Example:
      preflab validate battles.jsonl --from arena
      preflab validate votes.csv --winner-map A=model_a,B=model_b --skip-invalid rejects.jsonl
      preflab validate battles_100M.parquet --stream
    """
    options = input_options(params)
    skip = options.get("skip_invalid")
    if stream:
        _validate_stream(path, options)
        return
    result = read_input(path, source=options.get("source"), strict=False,
                        **adapter_kwargs(options))
    if result.detected:
        say(f"detected format: {result.format}")
    t = result.table
    n_models = len(set(pc.unique(t.column("model_a")).to_pylist())
                   | set(pc.unique(t.column("model_b")).to_pylist()))
    say(f"{result.n_input} comparisons read, {t.num_rows} valid, "
        f"{result.rejects.num_rows} invalid; {n_models} models")
    if result.rejects.num_rows:
        for message in first_problems(result.rejects, path, limit=max_errors):
            say(message)
        counts = pc.value_counts(result.rejects.column("field")).to_pylist()
        say("invalid rows by field: " + ", ".join(
            f"{c['values']}: {c['counts']}" for c in counts))
    if skip is not None:
        write_table(result.rejects, skip)
        say(f"{result.rejects.num_rows} rejected rows written to {skip}")
    elif result.rejects.num_rows:
        raise click.ClickException(
            f"{result.rejects.num_rows} invalid rows in {path}; fix them, or keep going with "
            "--skip-invalid rejects.jsonl.")
    click.echo("ok")


def _validate_stream(path: str, options: dict[str, Any]) -> None:
    used = [k for k, v in options.items() if v is not None and k != "source"]
    if options.get("source") not in (None, "native") or used:
        raise click.UsageError("--stream checks native comparisons files only; drop "
                               + ", ".join(["--from"] + [f"--{u.replace('_', '-')}" for u in used]))
    check = check_comparisons_file(path, strict=False)
    say(f"{check.n_rows} comparisons read, {check.n_rows - check.n_invalid} valid, "
        f"{check.n_invalid} invalid")
    if check.n_invalid:
        say("invalid rows by field: " + ", ".join(
            f"{k}: {v}" for k, v in check.invalid_by_field.items()))
        check_comparisons_file(path, strict=True)  # raises, naming the first invalid row
    click.echo("ok")


commands: list[click.Command] = [convert, validate]
