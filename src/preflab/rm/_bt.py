r"""Bradley-Terry reward learning on feature differences (pure functions on arrays).

A reward model :math:`r(x) = w^\top \phi(x)` is trained on pairs with the Bradley-Terry
loss of InstructGPT/Anthropic reward models [Ouyang22]_, [Bai22]_:

.. math:: \ell = -\log \sigma(r(x_c) - r(x_r) - m)

where the optional margin :math:`m = \text{margin} \cdot (\text{strength} - 1)` grows with
the verdict strength (Llama 2's margin loss [Touvron23]_; strength 1 gives no margin).
A tie contributes :math:`-\tfrac12 \log\sigma(d) - \tfrac12 \log\sigma(-d)`, the likelihood
of "half a win each side" that Chatbot Arena uses for ties; it pulls the two rewards
together. Optimized with Adam on mini-batches plus an L2 penalty
:math:`\tfrac{\lambda}{2}\lVert w \rVert^2`; training stops early when the validation loss
has not improved for ``patience`` epochs and returns the best weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from preflab.rm._util import as_rng

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def _log_sigmoid(x: FloatArray) -> FloatArray:
    return -np.logaddexp(0.0, -x)


def _sigmoid(x: FloatArray) -> FloatArray:
    return np.exp(_log_sigmoid(x))


def bt_loss(d: FloatArray, tie: BoolArray, margin: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Per-pair loss and its derivative with respect to ``d = r(chosen) - r(rejected)``."""
    win = ~tie
    loss = np.where(win, -_log_sigmoid(d - margin),
                    -0.5 * _log_sigmoid(d) - 0.5 * _log_sigmoid(-d))
    grad = np.where(win, -_sigmoid(-(d - margin)), _sigmoid(d) - 0.5)
    return loss, grad


def pair_accuracy(d: FloatArray, tie: BoolArray | None = None) -> float:
    """Share of non-tie pairs with ``d > 0`` (``d == 0`` counts half)."""
    keep = np.ones(len(d), bool) if tie is None else ~tie
    if not keep.any():
        return float("nan")
    dd = d[keep]
    return float(np.mean((dd > 0) + 0.5 * (dd == 0)))


@dataclass(frozen=True, slots=True)
class LinearFit:
    """Result of :func:`fit_linear_bt`.

    ``curve`` holds one dict a finished epoch: ``epoch, train_loss, val_loss,
    val_accuracy``; ``best_epoch`` is the epoch whose weights were kept.
    """

    weights: FloatArray
    curve: tuple[dict[str, float], ...]
    best_epoch: int
    l2: float
    stopped_early: bool


def fit_linear_bt(
    diff: Any,
    tie: BoolArray,
    margin: FloatArray,
    *,
    val_diff: Any = None,
    val_tie: BoolArray | None = None,
    val_margin: FloatArray | None = None,
    l2: float = 1e-4,
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 0.05,
    patience: int = 3,
    rng: np.random.Generator | int | None = None,
    init: FloatArray | None = None,
    progress: Callable[..., None] | None = None,
) -> LinearFit:
    """Fit ``w`` by minimizing the mean Bradley-Terry loss of ``diff @ w`` plus L2.

    Parameters
    ----------
    diff:
        ``(n, p)`` features of chosen minus features of rejected (sparse or dense).
    tie, margin:
        Per-pair tie flags and margins (see the module docstring).
    val_diff, val_tie, val_margin:
        Validation pairs for early stopping; without them training runs all ``epochs``.
    """
    gen = as_rng(rng)
    n, p = diff.shape
    diff = sp.csr_matrix(diff) if sp.issparse(diff) else np.asarray(diff, float)
    w = np.zeros(p) if init is None else np.array(init, float)
    m1 = np.zeros(p)
    m2 = np.zeros(p)
    b1, b2, eps = 0.9, 0.999, 1e-8
    step = 0
    has_val = val_diff is not None and val_diff.shape[0] > 0
    best = (np.inf, w.copy(), 0)
    curve: list[dict[str, float]] = []
    bad = 0
    stopped = False
    for epoch in range(1, epochs + 1):
        order = gen.permutation(n)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            xb = diff[idx]
            loss, g = bt_loss(np.asarray(xb @ w).ravel(), tie[idx], margin[idx])
            total += float(loss.sum())
            grad = np.asarray(xb.T @ g).ravel() / len(idx) + l2 * w
            step += 1
            m1 = b1 * m1 + (1 - b1) * grad
            m2 = b2 * m2 + (1 - b2) * grad * grad
            w -= lr * (m1 / (1 - b1**step)) / (np.sqrt(m2 / (1 - b2**step)) + eps)
        row: dict[str, float] = {"epoch": float(epoch), "train_loss": total / max(n, 1)}
        if has_val:
            assert val_tie is not None and val_margin is not None
            dv = np.asarray(val_diff @ w).ravel()
            vl = float(bt_loss(dv, val_tie, val_margin)[0].mean())
            row.update(val_loss=vl, val_accuracy=pair_accuracy(dv, val_tie))
            if vl < best[0] - 1e-6:
                best = (vl, w.copy(), epoch)
                bad = 0
            else:
                bad += 1
        else:
            best = (row["train_loss"], w.copy(), epoch)
        curve.append(row)
        if progress is not None:
            progress(advance=1, **{k: v for k, v in row.items() if k != "epoch"})
        if has_val and bad >= patience:
            stopped = True
            break
    return LinearFit(best[1], tuple(curve), best[2], l2, stopped)
