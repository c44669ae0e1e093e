"""``preflab judge``: run an LLM judge over a pairs (or responses) table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from preflab.cli._common import console, handle_errors, rich_progress


def _sidecar(out: Path, suffix: str) -> Path:
    name = out.name
    for ext in (".parquet", ".csv", ".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + suffix)


@click.command("judge")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Comparisons table (pairwise templates) or scores table (rubric templates).",
)
@click.option(
    "--judge",
    "judge_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Judge definition (TOML). Other options override its fields.",
)
@click.option("--model", help="Judge model name on the server (instead of --judge).")
@click.option("--base-url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
@click.option("--api-key-env", help="Environment variable holding the API key ('' for none).")
@click.option(
    "--template", help="Built-in template name or a template .toml file (default arena-hard)."
)
@click.option("--concurrency", type=int, help="Calls in flight at once.")
@click.option("--rpm", type=float, help="Requests-per-minute limit.")
@click.option("--tpm", type=float, help="Tokens-per-minute limit.")
@click.option("--n-samples", type=int, help="Samples per judgment (multi-sample judging).")
@click.option("--temperature", type=float, help="Sampling temperature.")
@click.option("--max-tokens", type=int, help="Maximum reply tokens.")
@click.option("--price-input", type=float, help="USD per million input tokens.")
@click.option("--price-output", type=float, help="USD per million output tokens.")
@click.option("--baseline", help="PAIRS is a responses table; judge every model against this one.")
@click.option("--single-game", is_flag=True, help="Judge each pair in its given order only.")
@click.option("--budget", type=float, help="Stop starting new calls once this many USD are spent.")
@click.option(
    "--cache",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite answer cache (default: OUTPUT stem + .cache.sqlite). Re-runs reuse it.",
)
@click.option(
    "--log",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Per-call JSONL log (default: OUTPUT stem + .log.jsonl).",
)
@click.option(
    "--verdicts",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Every judgment with status and raw reply (default: OUTPUT stem + .verdicts.parquet).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the retry jitter.")
@handle_errors
def judge_command(
    pairs: Path,
    output: Path,
    judge_file: Path | None,
    model: str | None,
    base_url: str | None,
    api_key_env: str | None,
    template: str | None,
    concurrency: int | None,
    rpm: float | None,
    tpm: float | None,
    n_samples: int | None,
    temperature: float | None,
    max_tokens: int | None,
    price_input: float | None,
    price_output: float | None,
    baseline: str | None,
    single_game: bool,
    budget: float | None,
    cache: Path | None,
    log: Path | None,
    verdicts: Path | None,
    seed: int,
) -> None:
    """Judge PAIRS with an LLM; resumable (re-run the same command after a crash).

    PAIRS has prompt_id, prompt, model_a, response_a, model_b, response_b (or, with
    --baseline, is a responses table prompt_id, model, text, prompt). Every answer is cached in
    SQLite as it arrives: a re-run pays only for what is missing, and failed calls are retried.

    \b
    Example:
      preflab judge pairs.parquet --judge gpt4o.toml -o judged.parquet
      preflab judge pairs.parquet --model llama3 --base-url http://127.0.0.1:8000/v1 \\
          --api-key-env '' --concurrency 32 -o judged.parquet
    """
    from preflab._errors import DataError
    from preflab.data import read_table, write_table
    from preflab.judge import judge_from_dict, pairs_from_responses, run_judge

    overrides: dict[str, Any] = {
        k: v
        for k, v in {
            "model": model,
            "base_url": base_url,
            "api_key_env": api_key_env,
            "template": template,
            "concurrency": concurrency,
            "rpm": rpm,
            "tpm": tpm,
            "n_samples": n_samples,
            "temperature": temperature,
            "max_tokens": max_tokens,
            "price_input": price_input,
            "price_output": price_output,
        }.items()
        if v is not None
    }
    if judge_file is not None:
        import tomllib

        data = tomllib.loads(judge_file.read_text(encoding="utf-8")) | overrides
        judge = judge_from_dict(data, path=str(judge_file), base=judge_file.parent)
    elif model is not None:
        judge = judge_from_dict(overrides)
    else:
        raise DataError(
            "no judge given", fix="Pass --judge J.toml, or --model NAME --base-url URL."
        )
    table = read_table(pairs)
    if baseline is not None:
        table = pairs_from_responses(table, baseline)
    cache = cache or _sidecar(output, ".cache.sqlite")
    log = log or _sidecar(output, ".log.jsonl")
    verdicts = verdicts or _sidecar(output, ".verdicts.parquet")
    with rich_progress(
        f"judging with {judge.judge_name}", extra="${task.fields[cost]:.4f}"
    ) as progress:
        run = run_judge(
            table,
            judge,
            cache=cache,
            both_orders=not single_game,
            log=log,
            budget=budget,
            progress=progress,
            rng=seed,
        )
    result = run.comparisons if run.comparisons is not None else run.scores
    assert result is not None
    write_table(result, output)
    write_table(run.verdicts, verdicts)
    console.print(json.dumps(run.summary()))
    if run.stopped == "budget":
        console.print(
            f"[yellow]budget of ${budget} reached: {run.n_pending} calls not made; "
            "re-run with a larger --budget to finish (answers so far are cached)."
        )
    if run.n_failed:
        raise click.ClickException(
            f"{run.n_failed} calls failed (see {log}); outputs hold the rest. Re-run the same "
            "command to retry them: answers already received are cached and not paid again."
        )


@click.command("verify")
@click.argument("table", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["code", "math"]), required=True,
              help="code: run the response against the tests column; math: compare final answers.")
@click.option("-o", "--output", "output", required=True,
              type=click.Path(dir_okay=False, path_type=Path), help="Scores table.")
@click.option("--pairs", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write preference pairs (the better-verified response wins).")
@click.option("--details", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write per-response results (per-test status or extracted answer).")
@click.option("--response", default="response", show_default=True, help="Response column.")
@click.option("--tests", default="tests", show_default=True,
              help="Tests column (list of Python snippets or a JSON list).")
@click.option("--reference", default="reference", show_default=True,
              help="Reference answer column (math).")
@click.option("--timeout", type=float, default=5.0, show_default=True,
              help="Seconds per test (code).")
@click.option("--memory-mb", type=int, default=1024, show_default=True,
              help="Memory limit per candidate process (code).")
@click.option("--workers", type=int, default=2, show_default=True,
              help="Candidate processes at a time.")
@handle_errors
def verify_command(table: Path, kind: str, output: Path, pairs: Path | None,
                   details: Path | None, response: str, tests: str, reference: str,
                   timeout: float, memory_mb: int, workers: int) -> None:
    """Verify responses (code against tests, math against reference answers).

    TABLE has prompt_id, model, the response column, and tests (code) or reference (math).
    Writes a scores table (judge verifier:code / verifier:math) and, with --pairs,
    CodeDPO-style comparisons where a response that verifies better beats one that does not.

    \b
    Example:
      preflab verify solutions.parquet --kind code -o scores.parquet --pairs pairs.parquet
      preflab verify answers.jsonl --kind math -o scores.parquet
    """
    from preflab.data import read_table, write_table
    from preflab.judge import run_verifier

    rows = read_table(table)
    with rich_progress(f"verifying ({kind})") as progress:
        run = run_verifier(rows, kind, response=response, tests=tests, reference=reference,
                           timeout=timeout, memory_mb=memory_mb, workers=workers,
                           progress=progress)
    write_table(run.scores, output)
    if pairs is not None:
        write_table(run.comparisons, pairs)
    if details is not None:
        write_table(run.details, details)
    statuses = run.details.column("status").to_pylist()
    console.print(json.dumps({s: statuses.count(s) for s in sorted(set(statuses))}))


commands: list[click.Command] = [judge_command, verify_command]
