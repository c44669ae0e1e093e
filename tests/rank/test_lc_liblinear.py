"""The replay of liblinear's L1-regularised logistic regression (``_lc_liblinear``).

Peer: scikit-learn's ``LogisticRegression(solver="liblinear")`` (and AlpacaEval's
``fit_LogisticRegressionCV`` when alpaca-eval is installed) on the same inputs; coefficients
equal to 1e-9 and the same Newton iteration counts. Skipped without scikit-learn (the
``bench`` extra).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from alpaca_peer import alpaca_eval_glm

import preflab.rank._lc_liblinear as ll
from preflab.rank._lc_cv import cv_folds, fit_lc_glm
from preflab.rank._lc_liblinear import FitBlock, liblinear_l1_logistic, liblinear_seeds
from preflab.rank._lc_newglmnet import mt19937_stream


def _problem(seed: int, n: int, scale: float, hard: float) -> tuple[np.ndarray, ...]:
    """AlpacaEval-shaped design (tanh length, difficulty, model indicator), soft targets of
    which a share ``hard`` is rounded to 0/1 (instances of weight 0), gamed-like weights."""
    rng = np.random.default_rng(seed)
    x = np.column_stack([np.tanh(rng.normal(size=n)), rng.normal(size=n),
                         (rng.random(n) < 0.6).astype(float)])
    p = np.exp(-np.logaddexp(0.0, -(x @ np.array([-1.0, 0.8, 0.3])) * scale
                             - rng.normal(scale=0.5, size=n)))
    p = np.where(rng.random(n) < hard, np.round(p), p)
    return x, p, np.where(x[:, 2] == 0, 0.1, 1.0)


def _sklearn_fit(x: np.ndarray, p: np.ndarray, w: np.ndarray, c: float, random_state: int,
                 max_iter: int = 100) -> tuple[np.ndarray, int]:
    sklearn = pytest.importorskip("sklearn", reason="peer check needs scikit-learn")
    from sklearn.linear_model import LogisticRegression

    major, minor = (int(v) for v in sklearn.__version__.split(".")[:2])
    l1 = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    n = len(p)
    m = LogisticRegression(C=c, solver="liblinear", fit_intercept=False, tol=1e-4,
                           max_iter=max_iter, random_state=random_state, **l1)  # type: ignore[arg-type]
    with warnings.catch_warnings():  # liblinear warns when it stops at max_iter
        warnings.simplefilter("ignore")
        m.fit(np.vstack([x, x]), np.r_[np.ones(n), np.zeros(n)],
              sample_weight=np.r_[p * w, (1 - p) * w])
    return m.coef_[0], int(m.n_iter_[0])


def _ours(x: np.ndarray, p: np.ndarray, w: np.ndarray, c: float, random_state: int,
          max_iter: int = 100) -> tuple[np.ndarray, int]:
    blk = FitBlock(x[None], (p * w)[None], ((1 - p) * w)[None], np.zeros(1, dtype=np.int64),
                   np.array([c]), np.zeros(1, dtype=np.int64))
    coef, n_iter = liblinear_l1_logistic([blk], liblinear_seeds(random_state, 1),
                                         max_iter=max_iter)
    return coef[0][0], int(n_iter[0][0])


@pytest.fixture
def path_counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts how often the exact line-search sum and the halvings run."""
    counts = {"cond": 0, "backtrack": 0}
    cond, backtrack = ll._cond, ll._backtrack

    def count_cond(*a, **k):  # type: ignore[no-untyped-def]
        counts["cond"] += 1
        return cond(*a, **k)

    def count_backtrack(*a, **k):  # type: ignore[no-untyped-def]
        counts["backtrack"] += 1
        return backtrack(*a, **k)

    monkeypatch.setattr(ll, "_cond", count_cond)
    monkeypatch.setattr(ll, "_backtrack", count_backtrack)
    yield counts


def test_mt19937_stream_is_the_standard_engine() -> None:
    """C++ requires the 10000th output of a default-constructed std::mt19937 (seed 5489)."""
    assert int(mt19937_stream(5489, 10000)[-1]) == 4123659995


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(("scale", "hard"), [(1.0, 0.0), (8.0, 0.5), (30.0, 0.5)])
def test_single_fits_match_sklearn_liblinear(seed: int, scale: float, hard: float) -> None:
    x, p, w = _problem(seed, 200 + 37 * seed, scale, hard)
    for c in (1e-3, 0.36, 21.5, 1e4):
        theirs, it_theirs = _sklearn_fit(x, p, w, c, seed + 7)
        ours, it_ours = _ours(x, p, w, c, seed + 7)
        assert it_ours == it_theirs
        assert np.allclose(ours, theirs, rtol=0, atol=1e-9)


@pytest.mark.slow
def test_line_search_halvings_match(path_counts: dict[str, int],
                                    caplog: pytest.LogCaptureFixture) -> None:
    """Near-separable data with C = 1e4: at iteration 92 the full step is rejected and
    halved, at 93 all 20 halvings fail (w stays, as do tau and D); coefficients grow past 250,
    exp(w'x) overflows, and the run says so. (~4 s: thousands of inner sweeps.)"""
    x, p, w = _problem(3, 311, 1000.0, 0.9)
    theirs, it_theirs = _sklearn_fit(x, p, w, 1e4, 10, 93)
    with caplog.at_level(logging.WARNING, logger="preflab.rank._lc_liblinear"):
        ours, it_ours = _ours(x, p, w, 1e4, 10, 93)
    assert it_ours == it_theirs == 93
    assert np.allclose(ours, theirs, rtol=0, atol=1e-8)
    assert path_counts["backtrack"] >= 2 and path_counts["cond"] > 0
    assert "near-separable" in caplog.text


def test_taylor_shortcut_changes_nothing(monkeypatch: pytest.MonkeyPatch,
                                         path_counts: dict[str, int]) -> None:
    """The line search skips liblinear's log pass only where a bound decides its sign: with
    the shortcut off (every step summed) the iterates are bitwise the same."""
    blocks, seeds = [], liblinear_seeds(123, 10)
    for seed in range(3):
        x, p, w = _problem(seed, 150, 2.0, 0.2)
        blocks.append(FitBlock(x[None], (p * w)[None], ((1 - p) * w)[None],
                               np.zeros(10, dtype=np.int64), np.logspace(-4, 4, 10),
                               np.arange(10)))
    fast, it_fast = liblinear_l1_logistic(blocks, seeds)
    n_fast = path_counts["cond"]
    monkeypatch.setattr(ll, "_SOFTPLUS3", np.inf)
    slow, it_slow = liblinear_l1_logistic(blocks, seeds)
    assert path_counts["cond"] - n_fast > 3 * n_fast   # the shortcut did skip most sums
    for a, b, i, j in zip(fast, slow, it_fast, it_slow, strict=True):
        assert np.array_equal(a, b) and np.array_equal(i, j)


def test_blocks_and_groups_do_not_change_fits() -> None:
    """Fits packed with others (padded rows of weight 0, several groups) equal fits alone."""
    probs = [_problem(s, 120 + 11 * s, 3.0, 0.1) for s in range(4)]
    seeds = liblinear_seeds(123, 10)
    cs = np.array([0.36, 21.5, 1e4])
    m = max(len(p) for _x, p, _w in probs)
    xs = np.zeros((4, m, 3))
    wp, wn = np.zeros((4, m)), np.zeros((4, m))
    for g, (x, p, w) in enumerate(probs):
        xs[g, :len(p)], wp[g, :len(p)], wn[g, :len(p)] = x, p * w, (1 - p) * w
    packed = FitBlock(xs, wp, wn, np.repeat(np.arange(4), 3), np.tile(cs, 4),
                      np.tile(np.arange(3), 4))
    together = liblinear_l1_logistic([packed], seeds)[0][0].reshape(4, 3, 3)
    for g, (x, p, w) in enumerate(probs):
        alone = FitBlock(x[None], (p * w)[None], ((1 - p) * w)[None],
                         np.zeros(3, dtype=np.int64), cs, np.arange(3))
        assert np.allclose(liblinear_l1_logistic([alone], seeds)[0][0], together[g],
                           rtol=0, atol=1e-12)


@pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning",
                            "ignore::UserWarning")
def test_cv_matches_alpaca_evals_logistic_regression_cv() -> None:
    """fit_lc_glm against AlpacaEval's own fit_LogisticRegressionCV (GroupKFold, its soft
    log-loss scorer, refit): same C, coefficients to 1e-9."""
    pytest.importorskip("sklearn", reason="peer check needs scikit-learn")

    import pandas as pd
    import sklearn

    fit_LogisticRegressionCV = alpaca_eval_glm().fit_LogisticRegressionCV  # noqa: N806

    try:
        for seed, n in ((0, 301), (1, 452), (2, 613)):
            x, p, w = _problem(seed, n, 1.5, 0.05)
            data = pd.DataFrame(x, columns=["len", "difficulty", "model"])
            data["preference"] = p
            model = fit_LogisticRegressionCV(data, "preference", is_ytrue_proba=True,
                                             sample_weight=pd.Series(w), n_splits=5)
            beta, c = fit_lc_glm(x, p, w)
            assert c == pytest.approx(float(model.C_[0]), rel=1e-12)
            assert np.allclose(beta, model.coef_[0], rtol=0, atol=1e-9)
    finally:
        sklearn.set_config(enable_metadata_routing=False)


@pytest.mark.parametrize("n_splits", [2, 3, 5, 7])
def test_folds_are_group_kfolds(n_splits: int) -> None:
    """cv_folds equals scikit-learn's GroupKFold on two copies of each row."""
    pytest.importorskip("sklearn", reason="peer check needs scikit-learn")
    from sklearn.model_selection import GroupKFold

    for n in (7, 37, 805, 2413, 2414):
        groups = np.r_[np.arange(n), np.arange(n)]
        fold = np.empty(n, dtype=np.int64)
        for f, (_tr, te) in enumerate(GroupKFold(n_splits).split(np.zeros(2 * n),
                                                                  groups=groups)):
            fold[groups[te]] = f
        assert np.array_equal(fold, cv_folds(n, n_splits))
