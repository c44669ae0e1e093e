"""The judge audit: agreement with labels, position/length/self bias, transitivity.

Input convention (what ``preflab judge`` writes): one row per judgment (a *game*) with
``prompt_id, model_a, model_b, winner`` (or an Arena-Hard ``label`` such as ``A>B``) where
``model_a`` is the response shown first;
optional ``judge``, ``game``, ``category``, ``status`` (rows not ``ok`` count as unparsed),
``len_a``/``len_b`` (response lengths, for the length bias).

Games of the same unordered pair are combined with JudgeBench's rule [Tan24]_: each game
votes +1 for the model it prefers (0 for a tie or an unparsed reply); the pair goes to the
sign of the sum. For gold labels without ties this is exactly JudgeBench's accuracy.
Truth labels (``prompt_id, model_a, model_b, winner``, several rows per pair allowed, e.g. crowd
votes) are reduced to the strict majority per pair (a label with more votes than any other);
pairs without one are left out and counted.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from preflab._errors import DataError
from preflab.audit._judge_stats import (
    LengthBias,
    bootstrap_kappa,
    cohen_kappa,
    cyclic_triads,
    length_bias,
    wilson_interval,
)

PairKey = tuple[str, str, str]  # prompt_id, x, y with x < y
_SIGN = {"model_a": 1, "model_b": -1, "tie": 0, "tie_bothbad": 0}
_LABEL_WINNER = {"A>>B": "model_a", "A>B": "model_a", "A=B": "tie", "B>A": "model_b",
                 "B>>A": "model_b"}


@dataclass(frozen=True, slots=True)
class Agreement:
    """Agreement of the combined verdicts with the truth labels on ``n`` pairs."""

    n: int
    accuracy: float
    accuracy_ci: tuple[float, float]
    kappa: float
    kappa_ci: tuple[float, float]
    n_non_tie: int
    accuracy_non_tie: float
    n_no_majority: int


@dataclass(frozen=True, slots=True)
class PositionBias:
    """Position bias. ``flip_rate``: share of pairs judged in both orders whose verdicts (by
    model) differ; ``first_win_rate``: share of decisive games won by the response shown first."""

    n_pairs_both_orders: int
    flip_rate: float
    flip_ci: tuple[float, float]
    n_decisive: int
    first_win_rate: float
    first_win_ci: tuple[float, float]
    tie_rate: float


@dataclass(frozen=True, slots=True)
class SelfPreference:
    """Win rate of the judge's own family by the judge vs by the truth, on the same pairs."""

    family: str
    n: int
    judge_win_rate: float
    truth_win_rate: float | None
    difference: float | None
    difference_ci: tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class Transitivity:
    """Intransitive triads (cycles A>B>C>A) among complete triads, per prompt and overall."""

    n_triads_per_prompt: int
    n_cyclic_per_prompt: int
    n_triads_overall: int
    n_cyclic_overall: int

    @property
    def rate_per_prompt(self) -> float:
        """Cyclic share of per-prompt triads."""
        t = self.n_triads_per_prompt
        return self.n_cyclic_per_prompt / t if t else float("nan")


@dataclass(frozen=True, slots=True)
class JudgeAudit:
    """Everything the audit says about one judge."""

    judge: str
    n_games: int
    n_unparsed: int
    n_pairs: int
    agreement: Agreement | None
    position: PositionBias
    length: LengthBias | None
    self_preference: SelfPreference | None
    transitivity: Transitivity
    by_category: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["transitivity"]["rate_per_prompt"] = self.transitivity.rate_per_prompt
        return d


@dataclass
class _Game:
    key: PairKey
    first_is_x: bool
    outcome: int | None  # +1 x wins, 0 tie, -1 y wins, None unparsed
    category: str | None
    len_first: float | None
    len_second: float | None


def _key(prompt_id: Any, a: str, b: str) -> tuple[PairKey, bool]:
    x, y = (a, b) if a <= b else (b, a)
    return (str(prompt_id), x, y), a == x


def _rows(table: pa.Table | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return table.to_pylist() if isinstance(table, pa.Table) else [dict(r) for r in table]


def _games(rows: list[dict[str, Any]], path: str | None) -> dict[str, list[_Game]]:
    for col in ("prompt_id", "model_a", "model_b"):
        if rows and col not in rows[0]:
            raise DataError(f"no column {col!r}", path=path, field=col,
                            fix="Verdicts need prompt_id, model_a (shown first), model_b, winner.")
    out: dict[str, list[_Game]] = defaultdict(list)
    for i, r in enumerate(rows):
        key, first_is_x = _key(r["prompt_id"], str(r["model_a"]), str(r["model_b"]))
        w = r.get("winner")
        if w is None and r.get("label") is not None:  # a `preflab judge` verdicts table
            w = _LABEL_WINNER.get(str(r["label"]))
        ok = r.get("status", "ok") in ("ok", None) and w is not None
        if ok and w not in _SIGN:
            raise DataError(f"winner {w!r} is not model_a, model_b, tie or tie_bothbad", path=path,
                            row=i, field="winner", fix="Map the labels before the audit.")
        outcome = None if not ok else _SIGN[str(w)] * (1 if first_is_x else -1)
        la, lb = r.get("len_a"), r.get("len_b")
        out[str(r.get("judge") or "judge")].append(_Game(
            key, first_is_x, outcome, r.get("category"),
            None if la is None else float(la), None if lb is None else float(lb)))
    return out


def majority_labels(truth: pa.Table | Sequence[Mapping[str, Any]], *,
                    path: str | None = None) -> tuple[dict[PairKey, int], int]:
    """Strict-majority label (+1/0/-1 for the unordered pair) per pair, and the number of pairs
    without one."""
    votes: dict[PairKey, Counter[int]] = defaultdict(Counter)
    for i, r in enumerate(_rows(truth)):
        w = r.get("winner")
        if w not in _SIGN:
            raise DataError(f"winner {w!r} is not model_a, model_b, tie or tie_bothbad", path=path,
                            row=i, field="winner", fix="Map the labels before the audit.")
        key, first_is_x = _key(r["prompt_id"], str(r["model_a"]), str(r["model_b"]))
        votes[key][_SIGN[w] * (1 if first_is_x else -1)] += 1
    labels: dict[PairKey, int] = {}
    for key, c in votes.items():
        top = c.most_common(2)
        if len(top) == 1 or top[0][1] > top[1][1]:
            labels[key] = top[0][0]
    return labels, len(votes) - len(labels)


def default_family(model: str) -> str:
    """Model family: the lower-cased name up to the first ``-``, ``_``, space or digit run
    (``gpt-4o`` -> ``gpt``, ``claude-3-haiku`` -> ``claude``, ``Llama 2 70B`` -> ``llama``)."""
    import re

    m = re.match(r"[a-zA-Z]+", model.strip().split("/")[-1])
    return m.group(0).lower() if m else model.lower()


def _position(games: list[_Game], level: float) -> PositionBias:
    parsed = [g for g in games if g.outcome is not None]
    first_wins = sum(1 for g in parsed
                     if g.outcome is not None and g.outcome != 0
                     and (g.outcome > 0) == g.first_is_x)
    decisive = sum(1 for g in parsed if g.outcome != 0)
    by_pair: dict[PairKey, dict[bool, list[int]]] = defaultdict(lambda: {True: [], False: []})
    for g in parsed:
        by_pair[g.key][g.first_is_x].append(int(g.outcome))  # type: ignore[arg-type]
    both = [(v[True][0], v[False][0]) for v in by_pair.values() if v[True] and v[False]]
    flips = sum(1 for a, b in both if a != b)
    return PositionBias(
        len(both), flips / len(both) if both else float("nan"),
        wilson_interval(flips, len(both), level),
        decisive, first_wins / decisive if decisive else float("nan"),
        wilson_interval(first_wins, decisive, level),
        (len(parsed) - decisive) / len(parsed) if parsed else float("nan"))


def _combined(games: list[_Game]) -> dict[PairKey, int]:
    net: dict[PairKey, int] = defaultdict(int)
    for g in games:
        net[g.key] += g.outcome or 0
    return {k: int(np.sign(v)) for k, v in net.items()}


def _agreement(pred: dict[PairKey, int], labels: dict[PairKey, int], n_no_majority: int,
               n_boot: int, rng: Any, level: float) -> Agreement | None:
    keys = [k for k in pred if k in labels]
    if not keys:
        return None
    p = np.array([pred[k] + 1 for k in keys], dtype=np.int64)
    t = np.array([labels[k] + 1 for k in keys], dtype=np.int64)
    correct = int(np.sum(p == t))
    nt = t != 1
    n_nt = int(nt.sum())
    return Agreement(len(keys), correct / len(keys), wilson_interval(correct, len(keys), level),
                     cohen_kappa(p, t), bootstrap_kappa(p, t, n_boot=n_boot, rng=rng, level=level),
                     n_nt, float(np.mean(p[nt] == t[nt])) if n_nt else float("nan"), n_no_majority)


def _transitivity(pred: dict[PairKey, int]) -> Transitivity:
    per_prompt: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    overall: dict[tuple[str, str], int] = defaultdict(int)
    for (pid, x, y), s in pred.items():
        if s:
            per_prompt[pid][(x, y)] = s
        overall[(x, y)] += s
    tp = cp = 0
    for edges in per_prompt.values():
        if len(edges) >= 3:
            t, c = cyclic_triads(edges)
            tp, cp = tp + t, cp + c
    to, co = cyclic_triads({k: int(np.sign(v)) for k, v in overall.items() if v})
    return Transitivity(tp, cp, to, co)


def _self_preference(judge: str, pred: dict[PairKey, int], labels: dict[PairKey, int] | None,
                     family: Callable[[str], str], n_boot: int, rng: Any,
                     level: float) -> SelfPreference | None:
    fam = family(judge)
    own: list[tuple[float, float | None]] = []
    for (pid, x, y), s in pred.items():
        fx, fy = family(x) == fam, family(y) == fam
        if fx == fy:
            continue
        sign = 1 if fx else -1
        jw = (1 + sign * s) / 2
        tw = None
        if labels is not None and (pid, x, y) in labels:
            tw = (1 + sign * labels[(pid, x, y)]) / 2
        own.append((jw, tw))
    if not own:
        return None
    jwin = float(np.mean([a for a, _ in own]))
    paired = np.array([(a, b) for a, b in own if b is not None], dtype=float)
    if len(paired) == 0:
        return SelfPreference(fam, len(own), jwin, None, None, None)
    diff = paired[:, 0] - paired[:, 1]
    gen = np.random.default_rng(rng)
    boots = [diff[gen.integers(0, len(diff), len(diff))].mean() for _ in range(n_boot)]
    lo, hi = np.percentile(boots, [50 * (1 - level), 50 * (1 + level)])
    return SelfPreference(fam, len(paired), float(paired[:, 0].mean()), float(paired[:, 1].mean()),
                          float(diff.mean()), (float(lo), float(hi)))


def audit_judge(verdicts: pa.Table | Sequence[Mapping[str, Any]],
                truth: pa.Table | Sequence[Mapping[str, Any]] | None = None, *,
                family: Callable[[str], str] | Mapping[str, str] | None = None,
                n_boot: int = 1000, rng: np.random.Generator | int | None = 0,
                level: float = 0.95, path: str | None = None) -> dict[str, JudgeAudit]:
    """Audit every judge in ``verdicts`` (see the module docstring for the columns).

    Parameters
    ----------
    verdicts:
        One row per game; ``model_a`` is the response shown first.
    truth:
        Gold or human labels per pair (majority taken), or ``None`` (no agreement figures).
    family:
        Model -> family (a function or a mapping; default :func:`default_family`), used for
        self-preference: does the judge favour models of its own family more than the truth does?
    n_boot, rng, level:
        Bootstrap rounds and generator for the kappa and self-preference intervals; interval level.
    """
    fam_fn: Callable[[str], str]
    if isinstance(family, Mapping):
        fmap = dict(family)
        fam_fn = lambda m: fmap.get(m, default_family(m))  # noqa: E731
    else:
        fam_fn = family or default_family
    by_judge = _games(_rows(verdicts), path)
    labels: dict[PairKey, int] | None = None
    n_nomaj = 0
    if truth is not None:
        labels, n_nomaj = majority_labels(truth)
    out: dict[str, JudgeAudit] = {}
    for judge, games in sorted(by_judge.items()):
        pred = _combined(games)
        cats = sorted({g.category for g in games if g.category is not None})
        by_cat: dict[str, dict[str, Any]] = {}
        for c in cats:
            gs = [g for g in games if g.category == c]
            pc = _combined(gs)
            ag = _agreement(pc, labels, 0, n_boot, rng, level) if labels is not None else None
            by_cat[c] = {"n_pairs": len(pc), "agreement": None if ag is None else asdict(ag),
                         "position": asdict(_position(gs, level))}
        lb = None
        with_len = [g for g in games if g.outcome is not None and g.len_first is not None
                    and g.len_second is not None]
        if with_len:
            lf = [g.len_first for g in with_len]
            ls = [g.len_second for g in with_len]
            y = [(1 + (g.outcome if g.first_is_x else -g.outcome)) / 2 for g in with_len]  # type: ignore[operator]
            lb = length_bias(lf, ls, y, level)  # type: ignore[arg-type]
        out[judge] = JudgeAudit(
            judge=judge, n_games=len(games), n_unparsed=sum(g.outcome is None for g in games),
            n_pairs=len(pred),
            agreement=(_agreement(pred, labels, n_nomaj, n_boot, rng, level)
                       if labels is not None else None),
            position=_position(games, level), length=lb,
            self_preference=_self_preference(judge, pred, labels, fam_fn, n_boot, rng, level),
            transitivity=_transitivity(pred), by_category=by_cat)
    return out
