r"""Arena-Hard-Auto v0.1 scores: battles vs one baseline, Bradley–Terry, bootstrap, style control.

Each question is judged in two games with swapped positions (game 1: baseline is A). A verdict
becomes battle rows against the baseline: ``A>B``/``B>A``/``A=B`` one row, a strong ``A>>B``/
``B>>A`` three identical rows [Li24]_. Arena-Hard fits Bradley–Terry by logistic regression on
those rows (a tie is half a win) and reports the predicted win rate against the baseline,

.. math:: \mathrm{score}_m = 100\,\sigma(s_m - s_b).

Every battle involves the baseline, so the comparison graph is a star and the MLE is closed
form: :math:`\sigma(s_m - s_b) = (W_m + T_m/2)/N_m`, the model's share of its battle rows with
ties halved (Arena-Hard's iterative fit agrees to its tolerance).

Intervals: Arena-Hard resamples the exploded battle rows with replacement (100 rounds) and
takes the 2.5/97.5 percentiles of the bootstrap ratings; we draw the same distribution as
multinomial counts over (question, model, outcome) cells (``bootstrap="rows"``). That treats the
two games and the three copies of a strong verdict as independent; ``bootstrap="questions"``
resamples whole questions (every model's rows of a drawn question together), the cluster
bootstrap that respects the design.

Style control (Arena-Hard v0.1, Sept 2024): per battle row the features
:math:`(a - b)/(a + b + 1)` of answer length and of header, list and bold counts (a = baseline,
b = model), standardised over rows, enter the logistic regression beside the model terms;
Arena-Hard fits it with scikit-learn's default L2 penalty (:math:`C = 1`), as we do, on rows
doubled so that a tie is one win and one loss. The controlled score uses the model terms only.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab._errors import ModelError
from preflab._json import json_number as num
from preflab.rank._arena_hard_io import ArenaHardBattles as ArenaHardBattles
from preflab.rank._arena_hard_io import check_star as check_star
from preflab.rank._arena_hard_io import read_arena_hard as read_arena_hard

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

logger = logging.getLogger(__name__)

LN10 = math.log(10.0)
BOOTSTRAPS = ("rows", "questions")
STYLE_NAMES = ("length", "headers", "lists", "bold")

@dataclass(frozen=True, slots=True)
class ArenaHardScore:
    """One model's score (percent) with the row-bootstrap and question-bootstrap 95% intervals."""

    model: str
    score: float
    ci_low: float
    ci_high: float
    question_ci_low: float
    question_ci_high: float
    n_questions: int
    n_battles: float
    avg_length: float


@dataclass(frozen=True, slots=True)
class ArenaHardBoard:
    """Arena-Hard board; ``width_ratio`` = mean question-CI width / mean row-CI width."""

    baseline: str
    models: tuple[ArenaHardScore, ...]
    style_control: bool
    style_coefficients: dict[str, float]
    n_rounds: int
    width_ratio: float
    length_unit: str
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON layout of ``preflab arena-hard``."""
        return {
            "baseline": self.baseline,
            "style_control": self.style_control,
            "style_coefficients": self.style_coefficients,
            "n_rounds": self.n_rounds,
            "question_to_row_ci_width_ratio": num(self.width_ratio),
            "length_unit": self.length_unit,
            "notes": list(self.notes),
            "models": [
                {"model": r.model, "score": num(r.score), "ci_low": num(r.ci_low),
                 "ci_high": num(r.ci_high), "question_ci_low": num(r.question_ci_low),
                 "question_ci_high": num(r.question_ci_high), "n_questions": r.n_questions,
                 "n_battles": num(r.n_battles), "avg_length": num(r.avg_length)}
                for r in self.models
            ],
        }


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _percentiles_logit(p: FloatArray) -> tuple[FloatArray, FloatArray]:
    """2.5/97.5 percentiles taken on the rating (logit) scale, as Arena-Hard, back as rates.

    Rounds where a model drew no battle (NaN) are skipped, as Arena-Hard's refit drops it.
    """
    lo, hi = np.full(p.shape[1], np.nan), np.full(p.shape[1], np.nan)
    q = np.clip(p, 1e-12, 1.0 - 1e-12)  # a round where a model won none/all of its rows
    logit = np.log(q) - np.log1p(-q)
    for j in range(p.shape[1]):
        v = logit[:, j][~np.isnan(logit[:, j])]
        if len(v):
            lo[j], hi[j] = np.percentile(v, [2.5, 97.5])
    return 1.0 / (1.0 + np.exp(-lo)), 1.0 / (1.0 + np.exp(-hi))


def _rates(win: FloatArray, total: FloatArray) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore"):
        out: FloatArray = win / total
    return out


def _cell_weights(b: ArenaHardBattles, how: str, n_rounds: int,
                  gen: np.random.Generator) -> FloatArray:
    """(n_rounds, cells) bootstrap counts of each cell."""
    if how == "rows":
        total = b.count.sum()
        draws: FloatArray = gen.multinomial(int(round(total)), b.count / total,
                                            size=n_rounds).astype(np.float64)
        return draws
    n_q = len(b.questions)
    mult = np.stack([np.bincount(gen.integers(0, n_q, n_q), minlength=n_q)
                     for _ in range(n_rounds)]).astype(np.float64)
    out: FloatArray = mult[:, b.question] * b.count[None, :]
    return out


def _star_scores(b: ArenaHardBattles, weights: FloatArray) -> FloatArray:
    """Win share of each model from (rounds, cells) weights -> (rounds, models)."""
    n_m = len(b.models)
    idx = b.model[None, :] + n_m * np.arange(weights.shape[0])[:, None]
    win = np.bincount(idx.ravel(), (weights * b.outcome).ravel(),
                      weights.shape[0] * n_m).astype(np.float64)
    tot = np.bincount(idx.ravel(), weights.ravel(), weights.shape[0] * n_m).astype(np.float64)
    return _rates(win, tot).reshape(weights.shape[0], n_m)


def style_matrix(b: ArenaHardBattles) -> FloatArray:
    """Standardised Arena-Hard style features (cells, 4): (a - b)/(a + b + 1), a = baseline."""
    if b.style is None:
        raise ModelError("style control needs style features (length, headers, lists, bold)")
    a, m = b.style[:, 0, :], b.style[:, 1, :]
    raw = (a - m) / (a + m + 1.0)
    w = b.count / b.count.sum()
    mean = (w[:, None] * raw).sum(axis=0)
    sd = np.sqrt((w[:, None] * (raw - mean) ** 2).sum(axis=0))
    if np.any(sd == 0):
        raise ModelError("a style feature is constant over all battles; it cannot be controlled")
    out: FloatArray = (raw - mean) / sd
    return out


def _style_fit(b: ArenaHardBattles, z: FloatArray, weights: FloatArray,
               c: float = 1.0, init: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
    r"""L2 logistic fit of Arena-Hard's style control (Newton); returns (model terms, style).

    Minimises :math:`C\sum_c 2 n_c\,\mathrm{xent}(y_c, \eta_c) + \lVert\beta\rVert^2/2` with
    :math:`\eta_c = \ln 10\,(\beta_b - \beta_m) + z_c\gamma`, :math:`y_c` the baseline's result.
    """
    n_m, k = len(b.models), z.shape[1]
    base = b.models.index(b.baseline)
    y = 1.0 - b.outcome
    w = 2.0 * c * weights
    # the model columns are one-hot: keep them as indices, the style block dense
    theta = np.zeros(n_m + k) if init is None else init.copy()
    m_idx = b.model
    for _ in range(100):
        eta = LN10 * (theta[base] - theta[m_idx]) + z @ theta[n_m:]
        mu = 1.0 / (1.0 + np.exp(-eta))
        r = w * (mu - y)
        v = w * mu * (1.0 - mu)
        g = np.zeros(n_m + k)
        g[base] += LN10 * r.sum()
        g[:n_m] -= LN10 * np.bincount(m_idx, r, n_m)
        g[n_m:] = z.T @ r
        g += theta
        h = np.zeros((n_m + k, n_m + k))
        vm = np.bincount(m_idx, v, n_m)
        h[:n_m, base] -= LN10 ** 2 * vm
        h[base, :n_m] -= LN10 ** 2 * vm
        h[:n_m, :n_m] += np.diag(LN10 ** 2 * vm)
        h[base, base] += LN10 ** 2 * v.sum()
        zv = z * v[:, None]
        cross = -LN10 * np.stack([np.bincount(m_idx, zv[:, j], n_m) for j in range(k)], axis=1)
        cross[base] += LN10 * zv.sum(axis=0)
        h[:n_m, n_m:] = cross
        h[n_m:, :n_m] = cross.T
        h[n_m:, n_m:] = z.T @ zv
        h += np.eye(n_m + k)
        step = np.linalg.solve(h, g)
        theta -= step
        if np.max(np.abs(step)) < 1e-11:
            break
    return theta[:n_m], theta[n_m:]


def _style_scores(b: ArenaHardBattles, z: FloatArray, weights: FloatArray,
                  init: FloatArray) -> FloatArray:
    base = b.models.index(b.baseline)
    out = np.empty((weights.shape[0], len(b.models)))
    for r in range(weights.shape[0]):
        beta, _ = _style_fit(b, z, weights[r], init=init)
        out[r] = 1.0 / (1.0 + np.exp(-LN10 * (beta - beta[base])))
    return out


def arena_hard_scores(
    battles: ArenaHardBattles,
    *,
    n_rounds: int = 100,
    rng: np.random.Generator | int | None = 0,
    style_control: bool = False,
    question_bootstrap: bool = True,
) -> ArenaHardBoard:
    """Arena-Hard scores with row-bootstrap (Arena-Hard's) and question-bootstrap intervals.

    ``score`` is the predicted win rate against the baseline in percent (50 for the baseline).
    ``question_bootstrap=False`` skips the cluster bootstrap (its columns become NaN).
    """
    if n_rounds < 2:
        raise ModelError("n_rounds must be at least 2")
    gen = _rng(rng)
    b = battles
    base = b.models.index(b.baseline)
    coefs: dict[str, float] = {}
    if style_control:
        z = style_matrix(b)
        beta, gamma = _style_fit(b, z, b.count)
        point = 1.0 / (1.0 + np.exp(-LN10 * (beta - beta[base])))
        coefs = {n: float(v) for n, v in zip(STYLE_NAMES, gamma, strict=True)}

        init = np.concatenate([beta, gamma])

        def scores_of(w: FloatArray) -> FloatArray:
            return _style_scores(b, z, w, init)
    else:
        point = _star_scores(b, b.count[None, :])[0]
        point[base] = 0.5

        def scores_of(w: FloatArray) -> FloatArray:
            return _star_scores(b, w)

    boot_rows = scores_of(_cell_weights(b, "rows", n_rounds, gen))
    lo, hi = _percentiles_logit(boot_rows)
    if question_bootstrap:
        boot_q = scores_of(_cell_weights(b, "questions", n_rounds, gen))
        qlo, qhi = _percentiles_logit(boot_q)
    else:
        qlo = qhi = np.full(len(b.models), np.nan)
    for arr in (lo, hi, qlo, qhi):
        arr[base] = 0.5
    n_q = np.array([len(np.unique(b.question[b.model == i])) for i in range(len(b.models))])
    n_b = np.bincount(b.model, b.count, len(b.models))
    rows = [ArenaHardScore(m, 100 * point[i], 100 * lo[i], 100 * hi[i], 100 * qlo[i],
                           100 * qhi[i], int(n_q[i]), float(n_b[i]), float(b.lengths[i]))
            for i, m in enumerate(b.models)]
    rows.sort(key=lambda r: (-r.score, r.model))
    others = [i for i in range(len(b.models)) if i != base]
    ratio = float("nan")
    if question_bootstrap and others:
        ratio = float(np.mean((qhi - qlo)[others]) / np.mean((hi - lo)[others]))
    notes = list(b.notes)
    if b.length_unit == "chars":
        notes.append("avg_length is in characters (Arena-Hard reports tiktoken tokens; the "
                     "tokenizer is not available offline; chars/4 approximates tokens)")
    return ArenaHardBoard(b.baseline, tuple(rows), style_control, coefs, n_rounds, ratio,
                          b.length_unit, tuple(notes))
