r"""Bradley–Terry with ties as a third outcome: Davidson's model [Dav70]_.

.. math::
    P(i \succ j) = \frac{\pi_i}{D},\quad P(j \succ i) = \frac{\pi_j}{D},\quad
    P(i = j) = \frac{\nu\sqrt{\pi_i \pi_j}}{D},\quad D = \pi_i + \pi_j + \nu\sqrt{\pi_i\pi_j}

with :math:`\pi_i = e^{s_i}`. Given that the comparison was decisive,
:math:`P(i \succ j) = \sigma(s_i - s_j)`, so the scores live on the same scale as plain
Bradley–Terry. (Rao–Kupper's threshold model is the other classic choice; Davidson's keeps
the tie probability largest for equal models and the likelihood concave in
:math:`(s, \log\nu)`.) Fitted by L-BFGS with the analytic gradient to tight tolerance.
"""

from __future__ import annotations

import numpy as np

from preflab._errors import ModelError
from preflab.rank._counts import PairCounts
from preflab.rank._ratings import FloatArray


def davidson_mle(counts: PairCounts, *, prior: float = 0.0,
                 init: FloatArray | None = None) -> tuple[FloatArray, float]:
    """Scores (natural-log strengths, centred) and the tie parameter ``nu``."""
    from scipy.optimize import minimize  # imported here: slow to import, rarely needed

    m = counts.n_models
    a, b = counts.matchups[:, 0], counts.matchups[:, 1]
    w = counts.weights
    win_a = w * (counts.outcomes == 1.0)
    win_b = w * (counts.outcomes == 0.0)
    tie = w * (counts.outcomes == 0.5)
    if tie.sum() == 0:
        raise ModelError("ties='davidson' needs ties in the data; there are none. "
                         "Use --ties half (identical without ties).")

    def negll(x: FloatArray) -> tuple[float, FloatArray]:
        s, lnu = x[:m], x[m]
        sa, sb = s[a], s[b]
        half = 0.5 * (sa + sb)
        # log D via logsumexp of (sa, sb, lnu + half)
        stack = np.stack([sa, sb, lnu + half])
        mx = stack.max(axis=0)
        ex = np.exp(stack - mx)
        den = ex.sum(axis=0)
        log_d = mx + np.log(den)
        pa, pb, pt = ex[0] / den, ex[1] / den, ex[2] / den
        ll = (win_a * (sa - log_d) + win_b * (sb - log_d) + tie * (lnu + half - log_d)).sum()
        tot = win_a + win_b + tie
        # d log D / d sa = pa + pt/2 ; d/d lnu = pt
        ga = win_a + 0.5 * tie - tot * (pa + 0.5 * pt)
        gb = win_b + 0.5 * tie - tot * (pb + 0.5 * pt)
        gs = np.bincount(a, ga, m) + np.bincount(b, gb, m) - prior * s
        gnu = (tie - tot * pt).sum()
        return -(ll - 0.5 * prior * s @ s), -np.concatenate([gs, [gnu]])

    x0 = np.zeros(m + 1)
    if init is not None:
        x0[:m] = init
    x0[m] = np.log(max(tie.sum(), 1e-9) / max((win_a + win_b).sum(), 1e-9) + 1e-9)
    res = minimize(negll, x0, jac=True, method="L-BFGS-B",
                   options={"gtol": 1e-9, "ftol": 0.0, "maxiter": 20_000, "maxcor": 30})
    s = res.x[:m]
    if prior == 0.0:
        s = s - s.mean()
    return s, float(np.exp(res.x[m]))
