"""``evaluate_benchmark``: judge models' answers on a built benchmark and audit the benchmark.

Every model's answer to each benchmark prompt is judged against the baseline's in two games
with the positions swapped (the judge's pairwise template, Arena-Hard's by default) through the
judge runner. The verdicts become Arena-Hard battle cells (a strong verdict counts 3 battle
rows, others 1) and :func:`preflab.rank.arena_hard_scores` gives the scores with row- and
question-bootstrap intervals [Li24]_. The benchmark audit reports separability with confidence
(share of pairs of evaluated models whose 95% intervals do not overlap; the baseline, whose
interval is the point 50, is left out), and with a reference board the
agreement, correlations and Brier score of :func:`preflab.audit._benchmark.audit_benchmark`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import DataError
from preflab._json import json_number as num
from preflab.audit._benchmark import BenchmarkAudit, ScoreBoard, audit_benchmark, separability
from preflab.judge import AnswerCache, JudgeConfig, pairs_from_responses, run_judge
from preflab.judge._engine import ProgressFn
from preflab.rank._arena_hard import ArenaHardBattles, ArenaHardBoard, arena_hard_scores


@dataclass(frozen=True, slots=True)
class BenchEvaluation:
    """Scores, separability (row- and question-bootstrap intervals), the audit against a
    reference (``None`` without one), the comparisons and the judge run's counts."""

    board: ArenaHardBoard
    separability: float
    question_separability: float
    audit: BenchmarkAudit | None
    comparisons: pa.Table
    verdicts: pa.Table
    run: dict[str, Any]
    notes: tuple[str, ...]

    def score_board(self) -> ScoreBoard:
        """The board as the audit's :class:`ScoreBoard` (row-bootstrap intervals)."""
        return board_to_scoreboard(self.board)

    def to_dict(self) -> dict[str, object]:
        """JSON layout of ``preflab bench evaluate``."""
        return {"board": self.board.to_dict(), "separability": num(self.separability),
                "question_separability": num(self.question_separability),
                "audit": self.audit.to_dict() if self.audit is not None else None,
                "judge_run": self.run, "notes": list(self.notes)}


def board_to_scoreboard(board: ArenaHardBoard, *, question_ci: bool = False) -> ScoreBoard:
    """Scores and 95% intervals of an Arena-Hard board for the benchmark audit.

    Each interval is widened to contain its score: for a model that won or lost every battle
    the logit-scale bootstrap bounds sit a rounding error (1e-10) off 0 or 100.
    """
    rows = board.models
    ci = [(min(r.question_ci_low, r.score), max(r.question_ci_high, r.score)) if question_ci
          else (min(r.ci_low, r.score), max(r.ci_high, r.score)) for r in rows]
    return ScoreBoard(tuple(r.model for r in rows), np.array([r.score for r in rows]),
                      np.array(ci, dtype=np.float64).reshape(-1, 2), "arena-hard score")


def battles_from_comparisons(comparisons: pa.Table, baseline: str,
                             lengths: dict[str, float] | None = None) -> ArenaHardBattles:
    """Arena-Hard battle cells from judged comparisons against ``baseline`` (weights = rows)."""
    cells: dict[tuple[str, str, float], float] = {}
    for i, r in enumerate(comparisons.to_pylist()):
        a, b, w = r["model_a"], r["model_b"], r["winner"]
        if (a == baseline) == (b == baseline):
            raise DataError(f"comparison between '{a}' and '{b}' does not involve the baseline "
                            f"'{baseline}' exactly once", row=i, field="model_a",
                            fix="Judge every model against the baseline.")
        model, side = (b, "model_b") if a == baseline else (a, "model_a")
        y = 0.5 if w in ("tie", "tie_bothbad") else (1.0 if w == side else 0.0)
        key = (str(r["prompt_id"]), str(model), y)
        cells[key] = cells.get(key, 0.0) + float(r.get("weight") or 1.0)
    if not cells:
        raise DataError("no parsed verdicts to score", fix="Check the judge log for unparsed "
                        "or failed calls and re-run (answers are cached).")
    keys = list(cells)
    models = tuple(dict.fromkeys([baseline] + [k[1] for k in keys]))
    questions = tuple(dict.fromkeys(k[0] for k in keys))
    mi = {m: i for i, m in enumerate(models)}
    qi = {q: i for i, q in enumerate(questions)}
    lens = np.array([(lengths or {}).get(m, np.nan) for m in models], dtype=np.float64)
    return ArenaHardBattles(
        baseline, models, questions, np.array([qi[k[0]] for k in keys], dtype=np.int64),
        np.array([mi[k[1]] for k in keys], dtype=np.int64), np.array([k[2] for k in keys]),
        np.array([cells[k] for k in keys]), None, lens, "chars")


_TEXT_COLS = ("text", "response", "output", "answer")


def _answer_text(choices: Any) -> str | None:
    """First turn's content of Arena-Hard's ``choices: [{"turns": [{"content": ...}]}]``."""
    try:
        turn = choices[0]["turns"][0]
        return str(turn["content"] if isinstance(turn, dict) else turn)
    except (IndexError, KeyError, TypeError):
        return None


def answers_from_table(table: pa.Table, *, path: str | None = None) -> pa.Table:
    """A responses table ``prompt_id, model, text`` from a responses table or from Arena-Hard's
    ``model_answer`` layout (``question_id, model_id, choices[0].turns[0].content``).

    Also accepted: ``question_id`` for ``prompt_id``; ``model_id`` for ``model``; ``response``,
    ``output`` or ``answer`` for ``text``. A row without text is an error naming it.
    """
    cols = set(table.column_names)
    pid = next((c for c in ("prompt_id", "question_id") if c in cols), None)
    model = next((c for c in ("model", "model_id") if c in cols), None)
    text = next((c for c in _TEXT_COLS if c in cols), None)
    if pid is None or model is None or (text is None and "choices" not in cols):
        raise DataError(f"not an answers table (have {', '.join(sorted(cols))})", path=path,
                        fix="Give prompt_id, model, text (or Arena-Hard's model_answer JSONL: "
                            "question_id, model_id, choices).")
    ids = [str(v) for v in table.column(pid).to_pylist()]
    models = [None if v is None else str(v) for v in table.column(model).to_pylist()]
    if text is not None:
        texts = [None if v is None else str(v) for v in table.column(text).to_pylist()]
        field = text
    else:
        texts = [_answer_text(v) for v in table.column("choices").to_pylist()]
        field = "choices"
    for i, (m, t) in enumerate(zip(models, texts, strict=True)):
        if m is None or t is None:
            raise DataError("answer without " + ("a model" if m is None else "text"), path=path,
                            row=i, field=model if m is None else field,
                            fix="Fill it in or drop the row.")
    return pa.table({"prompt_id": ids, "model": models, "text": texts})


def read_answers(path: str | Path) -> pa.Table:
    """Read answers from a file, or from every ``*.jsonl``/``*.parquet`` file of a directory
    (Arena-Hard keeps one ``model_answer/<model>.jsonl`` per model); see
    :func:`answers_from_table`."""
    from preflab.data import read_table

    p = Path(path)
    files = (sorted([*p.glob("*.jsonl"), *p.glob("*.parquet")]) if p.is_dir() else [p])
    if not files:
        raise DataError("no .jsonl or .parquet files in the directory", path=str(p),
                        fix="Point --answers at a responses file or a model_answer folder.")
    return pa.concat_tables([answers_from_table(read_table(f), path=str(f)) for f in files])


def evaluate_benchmark(
    bench: pa.Table,
    answers: pa.Table,
    judge: JudgeConfig,
    *,
    baseline: str,
    models: list[str] | None = None,
    reference: ScoreBoard | None = None,
    cache: AnswerCache | str | Path = ":memory:",
    log: str | Path | None = None,
    budget: float | None = None,
    n_rounds: int = 100,
    progress: ProgressFn | None = None,
    rng: int = 0,
) -> BenchEvaluation:
    """Judge ``answers`` (prompt_id, model, text) on ``bench``'s prompts against ``baseline``.

    Answers to prompts outside the benchmark are ignored (counted in ``notes``); the baseline
    must have answered every benchmark prompt. ``models`` restricts the models judged.
    """
    if judge.template.kind != "pairwise":
        raise DataError(f"the judge's template {judge.template.name!r} is not pairwise",
                        field="template", fix='Use template = "arena-hard" (the default).')
    for col in ("prompt_id", "prompt"):
        if col not in bench.column_names:
            raise DataError(f"the benchmark has no column {col!r}", field=col,
                            fix="Pass the output of `preflab bench build`.")
    for col in ("prompt_id", "model", "text"):
        if col not in answers.column_names:
            raise DataError(f"the answers table has no column {col!r}", field=col,
                            fix="Answers are a responses table: prompt_id, model, text.")
    prompts = dict(zip(bench.column("prompt_id").to_pylist(), bench.column("prompt").to_pylist(),
                       strict=True))
    rows = answers.select(["prompt_id", "model", "text"]).to_pylist()
    notes: list[str] = []
    outside = sum(str(r["prompt_id"]) not in prompts for r in rows)
    if outside:
        notes.append(f"{outside} answers to prompts outside the benchmark were ignored")
    keep = set(models) | {baseline} if models else None
    rows = [dict(r, prompt_id=str(r["prompt_id"]), prompt=prompts[str(r["prompt_id"])])
            for r in rows if str(r["prompt_id"]) in prompts
            and (keep is None or r["model"] in keep)]
    for i, r in enumerate(rows):
        if r["text"] is None:
            raise DataError(f"model '{r['model']}' has no text for prompt '{r['prompt_id']}'",
                            row=i, field="text", fix="Fill in the answer or drop the row.")
    have_base = {r["prompt_id"] for r in rows if r["model"] == baseline}
    missing = [p for p in prompts if str(p) not in have_base]
    if missing:
        raise DataError(f"baseline '{baseline}' has no answer for {len(missing)} benchmark "
                        f"prompts, e.g. '{missing[0]}'", field="prompt_id",
                        fix="Give the baseline's answer to every benchmark prompt.")
    per_model: dict[str, int] = {}
    for r in rows:
        per_model[r["model"]] = per_model.get(r["model"], 0) + 1
    for m, c in sorted(per_model.items()):
        if c < len(prompts):
            notes.append(f"{m} answered {c} of {len(prompts)} benchmark prompts")
    if len(per_model) < 2:
        raise DataError("no model to compare with the baseline", field="model",
                        fix="The answers table needs the baseline and at least one model.")
    pairs = pairs_from_responses(rows, baseline)
    run = run_judge(pairs, judge, cache=cache, both_orders=True, log=log, budget=budget,
                    progress=progress, rng=rng)
    comps = run.comparisons
    assert comps is not None
    if run.n_unparsed or run.n_failed or run.n_pending:
        notes.append(f"{run.n_unparsed} unparsed, {run.n_failed} failed and {run.n_pending} "
                     "pending games were left out of the scores")
    lengths: dict[str, float] = {}
    for m in per_model:
        lens = [len(r["text"]) for r in rows if r["model"] == m]
        lengths[m] = float(np.mean(lens))
    battles = battles_from_comparisons(comps, baseline, lengths)
    board = arena_hard_scores(battles, n_rounds=n_rounds, rng=rng)
    others = [r for r in board.models if r.model != baseline]
    sep = qsep = float("nan")
    if len(others) >= 2:  # the baseline's interval is a point at 50: leave it out
        idx = [i for i, r in enumerate(board.models) if r.model != baseline]
        sep = separability(board_to_scoreboard(board).ci[idx])
        qsep = separability(board_to_scoreboard(board, question_ci=True).ci[idx])
    if len(others) < 2:
        notes.append("separability needs at least two models besides the baseline")
    audit = None
    if reference is not None:
        audit = audit_benchmark(board_to_scoreboard(board), reference, rng=rng)
    return BenchEvaluation(board, sep, qsep, audit, comps, run.verdicts, run.summary(),
                           tuple(notes) + board.notes)
