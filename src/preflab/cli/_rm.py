"""``preflab rm ...`` (reward models) and ``preflab export pairs`` (pairs for DPO/TRL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from preflab._errors import PreflabError
from preflab.cli._common import console, handle_errors, rich_progress


def _emit(obj: dict[str, Any], output: str | None) -> None:
    text = json.dumps(obj, indent=2, default=float)
    if output:
        Path(output).write_text(text + "\n")
    else:
        click.echo(text)


def _parse_combine(value: str | None) -> dict[str, float] | str | None:
    if value is None or value == "learn":
        return value
    out = {}
    for part in value.split(","):
        name, _, w = part.partition("=")
        try:
            out[name.strip()] = float(w)
        except ValueError as exc:
            raise PreflabError(f"--combine: '{part}' is not aspect=weight",) from exc
    return out


@click.group("rm")
def rm() -> None:
    """Reward models: train, evaluate, score, judge, best-of-N, step-level preferences.

    \b
    Example:
      preflab rm train pairs.parquet -o my-rm && preflab rm eval my-rm test.parquet
    """


@rm.command("train")
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Model directory to write.")
@click.option("--responses", type=click.Path(exists=True, dir_okay=False),
              help="Responses table, when PAIRS is a comparisons table without texts.")
@click.option("--from", "source", help="Input format (pairs, judgebench, native, ...).")
@click.option("--where", default=None, help="SQL condition selecting rows of PAIRS (a split).")
@click.option("--backend", type=click.Choice(["embedded", "transformers"]), default="embedded",
              show_default=True)
@click.option("--base-model", type=click.Path(exists=True, file_okay=False),
              help="transformers backend: a checkpoint directory on disk.")
@click.option("--embeddings", default="none", show_default=True,
              help="embedded backend: none (hashed n-grams only, fast), auto, minilm or a "
                   "local model directory (about +2 points on hh-rlhf, minutes to encode).")
@click.option("--validation", default=0.2, show_default=True, help="Share of prompts held out.")
@click.option("--l2", default=None, help="L2 penalty, or comma-separated grid chosen on "
              "the validation split (default 1e-4,1e-3,1e-2).")
@click.option("--margin", default=0.0, show_default=True,
              help="Margin a unit of verdict strength above 1 (weight column).")
@click.option("--ties", type=click.Choice(["half", "drop"]), default="half", show_default=True)
@click.option("--epochs", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--lr", type=float, default=None)
@click.option("--patience", default=3, show_default=True, help="Early-stopping patience.")
@click.option("--bags", default=5, show_default=True,
              help="embedded backend: heads averaged over this many validation splits.")
@click.option("--combine", default=None,
              help="Aspect heads: 'learn' or aspect=weight,... (default: overall head).")
@click.option("--seed", default=0, show_default=True)
@click.option("--name", default=None, help="Model name (judge rm:<name>); default: dir name.")
@handle_errors
def train(pairs: str, output: str, responses: str | None, source: str | None,
          where: str | None, backend: str,
          base_model: str | None, embeddings: str, validation: float, l2: str | None,
          margin: float, ties: str, epochs: int | None, batch_size: int | None,
          lr: float | None, patience: int, bags: int, combine: str | None, seed: int,
          name: str | None) -> None:
    """Train a Bradley-Terry reward model on preference pairs and save it.

    PAIRS: prompt/chosen/rejected, hh-rlhf chosen/rejected dialogues, JudgeBench pairs, or a
    comparisons table (with --responses).

    \b
    Example:
      preflab rm train ../shared/data/hh-rlhf/pairs.parquet -o hh-rm \\
        --where "pair_index % 5 <> 0" --embeddings none
    """
    from preflab.rm import FeatureConfig, read_pairs, train_reward_model
    from preflab.rm._model import DEFAULT_L2

    data = read_pairs(pairs, responses=responses, source=source, where=where)
    grid = DEFAULT_L2 if l2 is None else tuple(float(v) for v in l2.split(","))
    feats = FeatureConfig(embeddings=None if embeddings == "none" else embeddings)
    with rich_progress("training", total=None) as progress:
        model = train_reward_model(
            data, backend=backend, features=feats, base_model=base_model,
            validation=validation, l2=grid, margin=margin, ties=ties, epochs=epochs,
            batch_size=batch_size, lr=lr, patience=patience, combine=_parse_combine(combine),
            rng=seed, name=name or Path(output).name, bags=bags, progress=progress)
    model.save(output)
    console.print(f"saved {backend} reward model to {output} "
                  f"({model.info.get('train_seconds', 0):.1f}s)")


def _load(model_dir: str) -> Any:
    from preflab.rm import load_reward_model

    return load_reward_model(model_dir)


@rm.command("eval")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False))
@click.option("--responses", type=click.Path(exists=True, dir_okay=False))
@click.option("--from", "source", help="Input format of PAIRS.")
@click.option("--where", default=None, help="SQL condition selecting rows of PAIRS (a split).")
@click.option("--aspect", default=None, help="Evaluate one aspect head.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table",
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the JSON here.")
@handle_errors
def eval_(model_dir: str, pairs: str, responses: str | None, source: str | None,
          where: str | None, aspect: str | None, fmt: str, output: str | None) -> None:
    """Accuracy (Wilson intervals, per subset and category), calibration and baselines.

    \b
    Example:
      preflab rm eval hh-rm ../shared/data/hh-rlhf/pairs.parquet \\
        --where "pair_index % 5 = 0" --format json
    """
    from preflab.rm import evaluate, read_pairs

    res = evaluate(_load(model_dir),
                   read_pairs(pairs, responses=responses, source=source, where=where),
                   aspect=aspect)
    d = res.to_dict()
    if fmt == "json" or output:
        _emit(d, output)
    if fmt == "table":
        from rich.table import Table

        t = Table("slice", "n", "accuracy", "95% CI")
        rows = [("overall", res.overall)] + [(f"subset {k}", v) for k, v in res.by_subset.items()]
        rows += [(f"category {k}", v) for k, v in res.by_category.items()]
        rows += [(f"baseline {k}", v) for k, v in res.baselines.items()]
        for label, a in rows:
            t.add_row(label, str(a.n), f"{a.accuracy:.3f}", f"{a.ci[0]:.3f}-{a.ci[1]:.3f}")
        console.print(t)
        console.print(f"ECE {res.ece:.3f}")


eval_.name = "eval"


@rm.command("score")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("responses", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--aspect", default=None, help="One aspect head (default: combined reward).")
@handle_errors
def score(model_dir: str, responses: str, output: str, aspect: str | None) -> None:
    """Score a responses table: writes a scores table (judge rm:<name>).

    \b
    Example:
      preflab rm score hh-rm responses.parquet -o scores.parquet
    """
    from preflab.data import read_table, write_table
    from preflab.rm._use import score_responses

    write_table(score_responses(_load(model_dir), read_table(responses), aspect=aspect,
                                path=responses), output)


@rm.command("judge")
@click.argument("responses", type=click.Path(exists=True, dir_okay=False))
@click.option("--judge", "judge", required=True, help="rm:MODEL_DIR")
@click.option("--comparisons", type=click.Path(exists=True, dir_okay=False),
              help="Pairs to judge (default: every pair of models a prompt).")
@click.option("--tie-margin", default=0.0, show_default=True)
@click.option("--aspect", default=None)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@handle_errors
def judge_cmd(responses: str, judge: str, comparisons: str | None, tie_margin: float,
              aspect: str | None, output: str) -> None:
    """The reward model as a pairwise judge: writes a comparisons table.

    \b
    Example:
      preflab rm judge responses.parquet --judge rm:hh-rm -o rm-votes.parquet
    """
    from preflab.data import read_comparisons, read_table, write_table
    from preflab.rm._use import rm_judge

    if not judge.startswith("rm:"):
        raise PreflabError(f"--judge must be rm:MODEL_DIR, not '{judge}'")
    comp = read_comparisons(comparisons)[0] if comparisons else None
    write_table(rm_judge(_load(judge[3:]), read_table(responses), comp, tie_margin=tie_margin,
                         aspect=aspect), output)


@rm.command("best-of-n")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("responses", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Selected responses.")
@click.option("--quality", default=None, help="Reference-quality column: report the gain.")
@click.option("--aspect", default=None)
@handle_errors
def best_of_n_cmd(model_dir: str, responses: str, output: str | None, quality: str | None,
                  aspect: str | None) -> None:
    """Pick the highest-reward response per prompt; with --quality, print the gain (JSON).

    \b
    Example:
      preflab rm best-of-n hh-rm candidates.parquet --quality correct -o best.parquet
    """
    from preflab.data import read_table, write_table
    from preflab.rm._use import best_of_n

    table, res = best_of_n(_load(model_dir), read_table(responses), quality=quality,
                           aspect=aspect)
    if output:
        write_table(table, output)
    if res is not None:
        _emit(res.to_dict(), None)


@rm.group("process")
def process() -> None:
    """Step-level (process) preferences: step pairs, PPM training, ProcessBench, best-of-N.

    \b
    Example:
      preflab rm process train ../shared/data/prm800k/step_pairs.parquet -o ppm
    """


@process.command("pairs")
@click.argument("trees", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--top-k", default=2, show_default=True)
@click.option("--min-gap", default=0.0, show_default=True)
@handle_errors
def process_pairs(trees: str, output: str, top_k: int, min_gap: float) -> None:
    """Same-prefix step pairs from solution trees (columns problem, tree with text/q/children).

    \b
    Example:
      preflab rm process pairs trees.jsonl -o step_pairs.parquet --top-k 2
    """
    import pyarrow as pa

    from preflab.data import write_table
    from preflab.rm._process_io import read_trees

    ps = read_trees(trees, top_k=top_k, min_gap=min_gap)
    write_table(pa.table({
        "problem": [p.problem for p in ps],
        "prefix_steps": pa.array([list(p.prefix) for p in ps], pa.list_(pa.string())),
        "chosen": [p.chosen for p in ps], "rejected": [p.rejected for p in ps],
        "q_chosen": [p.q_chosen for p in ps], "q_rejected": [p.q_rejected for p in ps]}),
        output)
    console.print(f"{len(ps)} step pairs")


@process.command("train")
@click.argument("step_pairs", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False))
@click.option("--split", default=None, help="Keep rows of this split (e.g. phase1_train).")
@click.option("--human-chosen/--no-human-chosen", default=True, show_default=True,
              help="Keep pairs whose chosen step was written by a labeller.")
@click.option("--embeddings", default="none", show_default=True)
@click.option("--seed", default=0, show_default=True)
@handle_errors
def process_train(step_pairs: str, output: str, split: str | None, human_chosen: bool,
                  embeddings: str, seed: int) -> None:
    """Train a process preference model (PPM) with the pairwise ranking loss.

    \b
    Example:
      preflab rm process train ../shared/data/prm800k/step_pairs.parquet \\
        --split phase1_train --no-human-chosen -o ppm
    """
    from preflab.rm import FeatureConfig, train_reward_model
    from preflab.rm._process_io import read_step_pairs

    data = read_step_pairs(step_pairs, split=split, human_chosen=human_chosen)
    model = train_reward_model(data, features=FeatureConfig(
        embeddings=None if embeddings == "none" else embeddings, cross=False, length=True),
        rng=seed, name=Path(output).name)
    model.save(output)
    console.print(f"saved PPM to {output} ({len(data)} pairs)")


@process.command("eval")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("items", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", default=None, help="Evaluate rows of this split.")
@click.option("--calibration-split", default=None,
              help="Choose the threshold on this split of ITEMS (else --threshold).")
@click.option("--calibration-max", default=2000, show_default=True,
              help="At most this many calibration items (seeded sample).")
@click.option("--threshold", type=float, default=None)
@handle_errors
def process_eval(model_dir: str, items: str, split: str | None, calibration_split: str | None,
                 calibration_max: int, threshold: float | None) -> None:
    """ProcessBench-style first-error evaluation (JSON: error/correct accuracy and F1).

    \b
    Example:
      preflab rm process eval ppm ../shared/data/prm800k/first_error.parquet \\
        --split phase1_test --calibration-split phase1_train
    """
    import numpy as np

    from preflab.rm._process import evaluate_processbench
    from preflab.rm._process_io import read_first_error

    model = _load(model_dir)
    cal = None
    if calibration_split is not None:
        cp, cs, cl = read_first_error(items, split=calibration_split)
        idx = np.random.default_rng(0).permutation(len(cp))[:calibration_max]
        cal = ([cp[i] for i in idx], [cs[i] for i in idx], [cl[i] for i in idx])
    p, s, lab = read_first_error(items, split=split)
    with rich_progress("scoring", total=len(p)) as progress:
        res = evaluate_processbench(model, p, s, lab, threshold=threshold, calibration=cal,
                                    progress=progress)
    _emit(res.to_dict(), None)


@process.command("best-of-n")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("candidates", type=click.Path(exists=True, dir_okay=False))
@click.option("--split", default=None)
@click.option("--aggregate", type=click.Choice(["last", "min", "mean"]), default="last",
              show_default=True)
@handle_errors
def process_best_of_n(model_dir: str, candidates: str, split: str | None,
                      aggregate: str) -> None:
    """Best-of-N with a PPM: CANDIDATES has group, problem, steps, quality (or is PRM800K's
    steps.parquet, whose rated alternatives become the candidates); prints the gain (JSON).

    \b
    Example:
      preflab rm process best-of-n ppm ../shared/data/prm800k/steps.parquet --split phase1_test
    """
    from preflab.data import read_table
    from preflab.rm._process import best_of_n_gain, solution_scores
    from preflab.rm._process_io import step_candidates

    t = read_table(candidates)
    if "completions" in t.column_names:
        t = step_candidates(candidates, split=split)
    r = solution_scores(_load(model_dir), t.column("problem").to_pylist(),
                        t.column("steps").to_pylist(), aggregate=aggregate)
    _, res = best_of_n_gain(t.column("group").to_pylist(), r, t.column("quality").to_numpy())
    _emit(res.to_dict(), None)


@click.group("export")
def export() -> None:
    """Export data for training elsewhere.

    \b
    Example:
      preflab export pairs votes.parquet --responses responses.parquet --format trl -o dpo.jsonl
    """


@export.command("pairs")
@click.argument("input_path", metavar="IN", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["trl", "jsonl"]), default="trl",
              show_default=True, help="trl: prompt, chosen, rejected only; jsonl: all columns.")
@click.option("--responses", type=click.Path(exists=True, dir_okay=False),
              help="Responses table (texts), when IN has none.")
@click.option("--from", "source", help="Input format of IN (comparisons inputs).")
@click.option("--ties", type=click.Choice(["drop", "keep"]), default="drop", show_default=True)
@click.option("--min-weight", type=float, default=None, help="Keep verdicts with weight >= this.")
@click.option("--dedupe/--no-dedupe", default=True, show_default=True)
@click.option("--max-per-prompt", type=int, default=None, help="Per-prompt balancing.")
@click.option("--method", type=click.Choice(["best-vs-random", "best-vs-worst"]),
              default="best-vs-random", show_default=True, help="Scores input: binarization.")
@click.option("--min-gap", default=0.0, show_default=True, help="Scores input: min score gap.")
@click.option("--aspect", default=None, help="Scores input: use this aspect's scores.")
@click.option("--seed", default=0, show_default=True)
@handle_errors
def export_pairs(input_path: str, output: str, fmt: str, responses: str | None,
                 source: str | None, ties: str, min_weight: float | None, dedupe: bool,
                 max_per_prompt: int | None, method: str, min_gap: float, aspect: str | None,
                 seed: int) -> None:
    """Preference pairs (prompt, chosen, rejected) for DPO/IPO/KTO and reward training.

    IN is a comparisons table (+ --responses) or pair file, or a scores table (prompt_id,
    model, score) with --responses, binarized UltraFeedback-style.

    \b
    Example:
      preflab export pairs scores.parquet --responses responses.parquet \\
        --method best-vs-worst --format trl -o dpo.jsonl
    """
    from preflab.data import read_input, read_table, write_table
    from preflab.rm._export import export_from_comparisons, export_from_scores

    raw = read_table(input_path)
    if "score" in raw.column_names and "winner" not in raw.column_names:
        if responses is None:
            raise PreflabError("a scores table needs --responses (prompt_id, model, text, prompt)")
        res = export_from_scores(raw, read_table(responses), method=method, min_gap=min_gap,
                                 aspect=aspect, dedupe=dedupe, rng=seed, path=input_path)
    else:
        got = read_input(input_path, source=source, strict=True)
        resp = read_table(responses) if responses else got.responses
        if resp is None:
            raise PreflabError(f"{input_path} has no texts; pass --responses")
        res = export_from_comparisons(got.table, resp, ties=ties, min_weight=min_weight,
                                      dedupe=dedupe, max_per_prompt=max_per_prompt, rng=seed,
                                      path=input_path)
    write_table(res.for_format(fmt), output)
    removed = ", ".join(f"{v} {k}" for k, v in res.removed.items() if v) or "none"
    console.print(f"{res.table.num_rows} pairs from {res.n_input} inputs (removed: {removed})")


commands: list[click.Command] = [rm, export]
