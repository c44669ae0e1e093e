"""Test helpers: hypothesis strategies for comparisons tables and a Bradley–Terry simulator.

Used by preflab's own tests; also handy for users testing code built on preflab. Requires
``hypothesis`` (the ``dev`` extra) for the strategies.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


def simulate_bt(
    strengths: np.ndarray,
    n_battles: int,
    *,
    rng: np.random.Generator | int | None = None,
    tie_rate: float = 0.0,
    pair_weights: np.ndarray | None = None,
) -> pa.Table:
    """Battles drawn from a Bradley–Terry model with ``strengths`` (natural-log scale).

    Each battle picks a pair (uniformly, or by ``pair_weights`` per model), then model_a wins
    with probability sigma(s_a - s_b). With ``tie_rate`` > 0 a share of battles become ties
    regardless of the pair; under ``ties="half"`` the MLE is then biased towards 0 in the
    logit scale, so coverage tests use ``tie_rate=0``.
    """
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m = len(strengths)
    p = None if pair_weights is None else pair_weights / pair_weights.sum()
    a = gen.choice(m, n_battles, p=p)
    b = gen.choice(m - 1, n_battles, p=None)
    b = np.where(b >= a, b + 1, b)
    pa_win = 1.0 / (1.0 + np.exp(strengths[b] - strengths[a]))
    u = gen.random(n_battles)
    winner = np.where(u < pa_win, "model_a", "model_b").astype(object)
    if tie_rate > 0:
        winner[gen.random(n_battles) < tie_rate] = "tie"
    names = np.array([f"m{i:03d}" for i in range(m)], dtype=object)
    return pa.table({
        "prompt_id": [str(i) for i in range(n_battles)],
        "model_a": names[a].tolist(),
        "model_b": names[b].tolist(),
        "winner": winner.tolist(),
    })


def comparisons(min_models: int = 3, max_models: int = 6, min_rows: int = 0,
                max_rows: int = 60, mle_exists: bool = True, weights: bool = False) -> Any:
    """A hypothesis strategy for comparisons tables.

    With ``mle_exists=True`` every model both wins and loses around a cycle, so the
    Bradley–Terry MLE is finite and unique (the "won or tied against" graph is strongly
    connected); random extra battles (including ties) are added on top.
    """
    from hypothesis import strategies as st

    @st.composite
    def build(draw: Any) -> pa.Table:
        m = draw(st.integers(min_models, max_models))
        names = [f"model-{i}" for i in range(m)]
        rows: list[tuple[str, str, str]] = []
        if mle_exists:
            for i in range(m):
                j = (i + 1) % m
                rows.append((names[i], names[j], "model_a"))
                rows.append((names[j], names[i], "model_a"))
        n_extra = draw(st.integers(min_rows, max_rows))
        for _ in range(n_extra):
            i = draw(st.integers(0, m - 1))
            j = draw(st.integers(0, m - 2))
            j = j + 1 if j >= i else j
            w = draw(st.sampled_from(["model_a", "model_b", "tie", "tie_bothbad"]))
            rows.append((names[i], names[j], w))
        cols: dict[str, Any] = {
            "prompt_id": [str(k) for k in range(len(rows))],
            "model_a": [r[0] for r in rows],
            "model_b": [r[1] for r in rows],
            "winner": [r[2] for r in rows],
        }
        if weights:
            cols["weight"] = draw(st.lists(st.sampled_from([1.0, 2.0, 3.0]),
                                           min_size=len(rows), max_size=len(rows)))
        return pa.table(cols)

    return build()
