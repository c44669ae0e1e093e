r"""Step-level (process) preferences, as rStar-Math's process preference model (PPM) [Guan25]_.

Solution trees carry a value :math:`Q` for every step (e.g. the share of rollouts through the
step that reach the right answer). For each prefix (node) the children with the highest
:math:`Q` are positives and those with the lowest :math:`Q` negatives; every
positive x negative pair at the same prefix is a step preference pair, so the comparison
never mixes prefixes. The PPM is trained with the pairwise (Bradley-Terry) ranking loss
:math:`-\log\sigma(r(x, s^+) - r(x, s^-))` on ``(problem + prefix, step)`` texts.

ProcessBench-style evaluation [Zheng24]_: a solution's predicted first wrong step is the
first step whose reward falls below a threshold (``-1`` if none); accuracy on erroneous
items (exact index) and on correct items (predict ``-1``) are combined by their harmonic
mean, ProcessBench's F1. The threshold is chosen on separate calibration items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from preflab._errors import DataError
from preflab.rm._pairs import PreferencePairs

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class StepNode:
    """A step of a solution tree: its text, its value ``q`` and the steps that follow it."""

    text: str
    q: float
    children: tuple[StepNode, ...] = ()

    @staticmethod
    def from_dict(d: dict[str, Any], *, where: str = "tree") -> StepNode:
        """Build from ``{"text": ..., "q": ..., "children": [...]}`` (the root may omit text/q)."""
        if not isinstance(d, dict):
            raise DataError(f"{where}: a tree node must be an object with text, q, children",
                            field="tree", fix="Write nodes as {\"text\", \"q\", \"children\"}.")
        kids = tuple(StepNode.from_dict(c, where=f"{where}.children[{i}]")
                     for i, c in enumerate(d.get("children") or []))
        q = d.get("q")
        return StepNode(str(d.get("text") or ""), float("nan") if q is None else float(q), kids)


@dataclass(frozen=True, slots=True)
class StepPair:
    """A same-prefix step preference: ``chosen`` (higher Q) over ``rejected`` (lower Q)."""

    problem: str
    prefix: tuple[str, ...]
    chosen: str
    rejected: str
    q_chosen: float
    q_rejected: float


def step_pairs_from_tree(
    problem: str, root: StepNode, *, top_k: int = 2, min_gap: float = 0.0,
    positive_min: float | None = 0.0, negative_max: float | None = 0.0,
) -> list[StepPair]:
    """Step pairs of one solution tree (rStar-Math's construction).

    At every node with at least two children, the ``top_k`` children by Q with
    ``q > positive_min`` are positives and the ``top_k`` lowest with ``q < negative_max`` are
    negatives (``None`` disables a bound; rStar-Math uses Q in [-1, 1] with positives > 0
    and negatives < 0); every positive x negative pair with ``q+ - q- >= min_gap`` (and
    ``q+ > q-``) is kept. Children with an undefined Q are skipped.
    """
    out: list[StepPair] = []
    stack: list[tuple[StepNode, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        kids = [c for c in node.children if not np.isnan(c.q)]
        if len(kids) >= 2:
            by_q = sorted(kids, key=lambda c: -c.q)
            pos = [c for c in by_q if positive_min is None or c.q > positive_min][:top_k]
            neg = [c for c in reversed(by_q) if negative_max is None or c.q < negative_max][:top_k]
            for p in pos:
                for n in neg:
                    if p is not n and p.q > n.q and p.q - n.q >= min_gap:
                        out.append(StepPair(problem, prefix, p.text, n.text, p.q, n.q))
        for c in reversed(node.children):
            stack.append((c, prefix + (c.text,)))
    return out


def step_context(problem: str, prefix: Sequence[str]) -> str:
    """The text a PPM conditions on: the problem and the steps so far, one a line."""
    return problem + "\n\n" + "\n".join(prefix)


def step_pairs_to_preferences(pairs: Sequence[StepPair]) -> PreferencePairs:
    """:class:`PreferencePairs` whose prompt is :func:`step_context` and replies the steps."""
    return PreferencePairs.from_lists(
        [step_context(p.problem, p.prefix) for p in pairs], [p.chosen for p in pairs],
        [p.rejected for p in pairs])


def step_rewards(model: Any, problem: str, steps: Sequence[str]) -> FloatArray:
    """PPM reward of each step given the steps before it."""
    ctx = [step_context(problem, steps[:k]) for k in range(len(steps))]
    return np.asarray(model.score(ctx, list(steps)), float)


def first_error_prediction(rewards: FloatArray, threshold: float) -> int:
    """Index of the first step with reward below ``threshold``, else ``-1``."""
    below = np.flatnonzero(np.asarray(rewards) < threshold)
    return int(below[0]) if len(below) else -1


@dataclass(frozen=True, slots=True)
class ProcessBenchResult:
    """ProcessBench-style scores: accuracy on erroneous and correct items, and their F1."""

    threshold: float
    error_accuracy: float
    correct_accuracy: float
    f1: float
    n_error: int
    n_correct: int

    def to_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}


def processbench_scores(rewards: Sequence[FloatArray], labels: Sequence[int],
                        threshold: float) -> ProcessBenchResult:
    """Score first-error predictions at ``threshold`` against ``labels`` (``-1`` = correct)."""
    lab = np.asarray(labels, int)
    pred = np.array([first_error_prediction(r, threshold) for r in rewards], int)
    err, ok = lab >= 0, lab < 0
    acc_e = float(np.mean(pred[err] == lab[err])) if err.any() else float("nan")
    acc_c = float(np.mean(pred[ok] == -1)) if ok.any() else float("nan")
    f1 = 0.0 if acc_e + acc_c == 0 else 2 * acc_e * acc_c / (acc_e + acc_c)
    return ProcessBenchResult(float(threshold), acc_e, acc_c, float(f1), int(err.sum()),
                              int(ok.sum()))


def choose_threshold(rewards: Sequence[FloatArray], labels: Sequence[int],
                     n_grid: int = 101) -> float:
    """The threshold (over quantiles of all step rewards) maximizing F1 on these items."""
    allr = np.concatenate([np.asarray(r, float) for r in rewards if len(r)])
    grid = np.unique(np.quantile(allr, np.linspace(0, 1, n_grid)))
    best = max(grid, key=lambda t: processbench_scores(rewards, labels, float(t)).f1)
    return float(best)


def evaluate_processbench(
    model: Any, problems: Sequence[str], steps: Sequence[Sequence[str]], labels: Sequence[int],
    *, threshold: float | None = None, calibration: tuple[Any, Any, Any] | None = None,
    progress: Callable[..., None] | None = None,
) -> ProcessBenchResult:
    """ProcessBench evaluation of a PPM on first-error items.

    ``threshold`` is used as given; else it is chosen on ``calibration = (problems, steps,
    labels)`` (other items than the evaluated ones); with neither, 0 (a reward below 0 means
    "more likely a worse step than a typical one" for a zero-mean Bradley-Terry model).
    """
    if threshold is None and calibration is not None:
        cp, cs, cl = calibration
        cal = [step_rewards(model, p, list(s)) for p, s in zip(cp, cs, strict=True)]
        threshold = choose_threshold(cal, list(cl))
    rewards = []
    for p, s in zip(problems, steps, strict=True):
        rewards.append(step_rewards(model, p, list(s)))
        if progress is not None:
            progress(advance=1)
    return processbench_scores(rewards, labels, 0.0 if threshold is None else threshold)


@dataclass(frozen=True, slots=True)
class BestOfNResult:
    """Best-of-N selection quality against random and oracle choice on the same groups.

    ``gain`` is the expected gain of picking by reward over picking at random:
    mean quality of the selected candidate minus the mean quality of all candidates.
    """

    selected: float
    random: float
    oracle: float
    gain: float
    n_groups: int
    mean_n: float

    def to_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in self.__dataclass_fields__}


def best_of_n_gain(groups: Sequence[Any], rewards: FloatArray, quality: FloatArray
                   ) -> tuple[npt.NDArray[np.int64], BestOfNResult]:
    """Pick the highest-reward candidate in each group (first on ties) and measure its gain.

    Returns the selected row indices and a :class:`BestOfNResult` over groups with >= 2
    candidates.
    """
    g = np.asarray(groups, dtype=object)
    r = np.asarray(rewards, float)
    q = np.asarray(quality, float)
    picks, sel, rnd, ora, sizes = [], [], [], [], []
    for key in dict.fromkeys(g.tolist()):
        idx = np.flatnonzero(g == key)
        best = idx[int(np.argmax(r[idx]))]
        picks.append(best)
        if len(idx) >= 2:
            sel.append(q[best])
            rnd.append(q[idx].mean())
            ora.append(q[idx].max())
            sizes.append(len(idx))
    res = BestOfNResult(float(np.mean(sel)) if sel else float("nan"),
                        float(np.mean(rnd)) if rnd else float("nan"),
                        float(np.mean(ora)) if ora else float("nan"),
                        float(np.mean(sel) - np.mean(rnd)) if sel else float("nan"),
                        len(sel), float(np.mean(sizes)) if sizes else 0.0)
    return np.array(picks, np.int64), res


AGGREGATES = ("last", "min", "mean")


def solution_scores(model: Any, problems: Sequence[str], steps: Sequence[Sequence[str]], *,
                    aggregate: str = "min") -> FloatArray:
    """One score a solution from its step rewards: ``min`` (the weakest step, the usual PRM
    choice [Lightman23]_), ``mean``, or ``last`` (rStar-Math scores the final step)."""
    if aggregate not in AGGREGATES:
        raise DataError(f"aggregate must be one of {', '.join(AGGREGATES)}, not '{aggregate}'")
    if aggregate == "last":
        ctx = [step_context(p, list(s)[:-1]) for p, s in zip(problems, steps, strict=True)]
        return np.asarray(model.score(ctx, [s[-1] if len(s) else "" for s in steps]), float)
    fn = np.min if aggregate == "min" else np.mean
    return np.array([float(fn(step_rewards(model, p, list(s)))) if len(s) else 0.0
                     for p, s in zip(problems, steps, strict=True)])
