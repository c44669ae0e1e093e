"""Style control (contextual BT) against FastChat's outputs on the same battles.

Reference: ``../shared/data/fastchat-reference/fastchat_style*_{10k,100k}.json``, produced by
FastChat's ``compute_style_control`` / ``compute_bootstrap_style_control`` (commit 0e6d3e4,
2025-04-12) on ``battles_{10k,100k}.parquet``. Tolerances: 0.2 rating point for the point fit
(FastChat's L-BFGS-B stops early), Monte-Carlo error for 100-round bootstrap bounds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.optimize import minimize
from scipy.stats import norm

from preflab._errors import DataError, ModelError
from preflab.rank._style_control import (
    ALPHA,
    _grad_hess,
    _loss,
    fit_contextual,
    fit_style_control,
    style_design,
)

RENAME = {
    "sum_assistant_a_tokens": "style_a_tokens", "header_count_a": "style_a_headers",
    "list_count_a": "style_a_lists", "bold_count_a": "style_a_bold",
    "sum_assistant_b_tokens": "style_b_tokens", "header_count_b": "style_b_headers",
    "list_count_b": "style_b_lists", "bold_count_b": "style_b_bold",
}


def load_battles(shared_data: Path, size: str) -> pa.Table:
    """FastChat's flat battle columns renamed to the comparisons table's style columns."""
    t = pq.read_table(shared_data / "fastchat-reference" / f"battles_{size}.parquet")
    t = t.rename_columns([RENAME.get(c, c) for c in t.column_names])
    winner = [("tie_bothbad" if w == "tie (bothbad)" else w) for w in t["winner"].to_pylist()]
    return t.set_column(t.column_names.index("winner"), "winner", pa.array(winner))


@pytest.mark.parametrize("size", ["10k", "100k"])
def test_point_fit_equals_fastchat(shared_data: Path, size: str) -> None:
    ref = json.loads((shared_data / "fastchat-reference"
                      / f"fastchat_style_noci_{size}.json").read_text())
    res = fit_style_control(load_battles(shared_data, size))
    diff = max(abs(res.ratings[m] - v) for m, v in ref["ratings"].items())
    assert diff < 0.2
    np.testing.assert_allclose(res.coef, ref["style_coef"], atol=2e-4)
    assert res.coef_names == ("tokens", "headers", "lists", "bold")
    assert abs(res.ratings.rating.mean() - 1000) < 1e-6  # the ridge centres the ratings


def test_newton_reaches_exact_optimum(shared_data: Path) -> None:
    d = style_design(load_battles(shared_data, "10k"))
    theta = fit_contextual(d)
    g, _ = _grad_hess(theta, d, d.w, 0.5)
    assert np.max(np.abs(g)) < 1e-7
    # a tight independent optimiser finds no lower loss
    other = minimize(lambda t: _loss(t, d, d.w, 0.5), theta + 0.01,
                     jac=lambda t: -_grad_hess(t, d, d.w, 0.5)[0], method="L-BFGS-B",
                     options={"gtol": 1e-10, "maxiter": 5000})
    assert _loss(theta, d, d.w, 0.5) <= other.fun + 1e-8


@pytest.mark.parametrize("size", ["10k", "100k"])
def test_bootstrap_intervals_match_fastchat(shared_data: Path, size: str) -> None:
    ref = json.loads((shared_data / "fastchat-reference"
                      / f"fastchat_style_{size}.json").read_text())
    res = fit_style_control(load_battles(shared_data, size), n_bootstrap=100, rng=1)
    r = res.ratings
    assert r.ci is not None and r.rank_ci is not None and res.coef_ci is not None
    models = list(ref["ci"])
    ours = np.array([r.ci[r.models.index(m)] for m in models])
    theirs = np.array([ref["ci"][m] for m in models])
    # Monte-Carlo standard error of a 2.5% quantile from 100 draws of a normal with the
    # bootstrap sd: sqrt(q(1-q)/B) / density; the difference of two such estimates is √2 larger
    sd = (theirs[:, 1] - theirs[:, 0]) / (2 * 1.96)
    se_q = np.sqrt(0.025 * 0.975 / 100) / (norm.pdf(1.96) / sd)
    z = (ours - theirs) / (np.sqrt(2) * se_q[:, None])
    assert np.mean(np.abs(z)) < 1.2  # E|N(0,1)| = 0.8; heavy tails of small-sample models
    widths_ratio = np.mean(ours[:, 1] - ours[:, 0]) / np.mean(theirs[:, 1] - theirs[:, 0])
    assert 0.93 < widths_ratio < 1.07
    # the coefficients' intervals hold FastChat's point coefficients
    assert np.all((res.coef_ci[:, 0] < ref["style_coef"]) & (ref["style_coef"] < res.coef_ci[:, 1]))


def test_sandwich_agrees_with_bootstrap(shared_data: Path) -> None:
    t = load_battles(shared_data, "10k")
    boot = fit_style_control(t, n_bootstrap=200, rng=0)
    sand = fit_style_control(t, intervals="sandwich")
    assert boot.ratings.ci is not None and sand.ratings.ci is not None
    wb = boot.ratings.ci[:, 1] - boot.ratings.ci[:, 0]
    ws = sand.ratings.ci[:, 1] - sand.ratings.ci[:, 0]
    assert 0.9 < np.median(ws / wb) < 1.15
    assert sand.ratings.interval_method == "sandwich"
    np.testing.assert_allclose(sand.coef, boot.coef)
    # clustering by singleton ids equals the unclustered sandwich up to the g/(g-1) factor
    ids = pa.array([str(i) for i in range(len(t))])
    cl = fit_style_control(t.append_column("prompt_id", ids), intervals="sandwich",
                           cluster="prompt_id")
    assert cl.ratings.ci is not None
    g = len(t)
    np.testing.assert_allclose((cl.ratings.ci[:, 1] - cl.ratings.ci[:, 0]) / np.sqrt(g / (g - 1)),
                               ws, rtol=1e-6)


@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_pass_equals_plain_gradient_and_hessian(shared_data: Path, weighted: bool) -> None:
    from preflab.rank._style_bootstrap import grad_hess_blocked, pair_blocks

    d = style_design(load_battles(shared_data, "10k"))
    rng = np.random.default_rng(2)
    w = rng.choice([0.5, 1.0, 3.0], len(d.y)) if weighted else d.w
    theta = rng.normal(0, 0.3, len(d.models) + d.x.shape[1])
    pb = pair_blocks(d, block_rows=700)  # many blocks, some pairs alone in theirs
    assert pb is not None and len(pb.rows) > 10
    g1, h1 = grad_hess_blocked(theta, d, w, 0.5, ALPHA, pb)
    g2, h2 = _grad_hess(theta, d, w, 0.5)
    np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(h1, h2, rtol=1e-10, atol=1e-8)
    # an unsorted design has no blocks (the plain pass is used)
    shuffled = type(d)(d.models, d.pairs, d.pair_id[::-1].copy(), d.y, d.w, d.x, d.features,
                       d.mean, d.std)
    assert pair_blocks(shuffled) is None


def test_anchor_and_logit_scale(shared_data: Path) -> None:
    t = load_battles(shared_data, "10k")
    base = fit_style_control(t)
    anch = fit_style_control(t, anchor=("model-000", 1200.0))
    assert anch.ratings["model-000"] == pytest.approx(1200.0)
    np.testing.assert_allclose(np.diff(anch.ratings.rating), np.diff(base.ratings.rating))
    logit = fit_style_control(t, scale="logit")
    np.testing.assert_allclose(logit.ratings.rating * 400 / np.log(10),
                               base.ratings.rating - 1000, atol=1e-9)
    assert ALPHA == pytest.approx(np.log(10))
    d = fit_style_control(t, intervals="sandwich").to_dict()
    assert [s["feature"] for s in d["style"]] == ["tokens", "headers", "lists", "bold"]


def test_recovers_simulated_style_effect() -> None:
    rng = np.random.default_rng(3)
    n, m = 20000, 8
    true = rng.normal(0, 0.5, m)
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    la, lb = rng.integers(50, 1000, n), rng.integers(50, 1000, n)
    d = (la - lb) / (la + lb + 1)
    x = (d - d.mean()) / d.std()
    p = 1 / (1 + np.exp(-(true[a] - true[b] + 0.4 * x)))
    win = np.where(rng.random(n) < p, "model_a", "model_b")
    names = np.array([f"m{i}" for i in range(m)])
    t = pa.table({"prompt_id": [str(i) for i in range(n)], "model_a": names[a],
                  "model_b": names[b], "winner": win, "style_a_tokens": la,
                  "style_b_tokens": lb})
    res = fit_style_control(t, features=("tokens",), intervals="sandwich", scale="logit")
    assert res.coef_ci is not None
    assert res.coef_ci[0, 0] < 0.4 < res.coef_ci[0, 1]
    est = res.ratings.rating
    assert np.max(np.abs(est - (true - true.mean()))) < 0.1


def test_errors_name_the_field() -> None:
    t = pa.table({"prompt_id": ["1", "2"], "model_a": ["x", "y"], "model_b": ["y", "x"],
                  "winner": ["model_a", "tie"], "style_a_tokens": [1, 2],
                  "style_b_tokens": [3, 4]})
    with pytest.raises(DataError, match="style_a_headers"):
        fit_style_control(t)
    with pytest.raises(DataError, match="never vary"):
        fit_style_control(t.set_column(4, "style_a_tokens", pa.array([3, 4])),
                          features=("tokens",))
    with pytest.raises(ModelError, match="intervals"):
        fit_style_control(t, features=("tokens",), intervals="jackknife")
    with pytest.raises(DataError, match="missing style value"):
        fit_style_control(t.set_column(4, "style_a_tokens", pa.array([1, None])),
                          features=("tokens",))


def test_style_columns_from_responses() -> None:
    from preflab.rank._style_features import add_style_columns, style_counts

    text = ("# Title\n## Part\nSome **bold** and __also bold__ text.\n- one\n* two\n"
            "1. first\n```\n# not a header\n- not a list\n**not bold**\n```\n")
    c = style_counts(text)
    assert (c["headers"], c["lists"], c["bold"]) == (2, 3, 2)
    assert style_counts("a b c", count_tokens=lambda s: 42)["tokens"] == 42
    comps = pa.table({"prompt_id": ["p1", "p1"], "model_a": ["x", "y"], "model_b": ["y", "x"],
                      "winner": ["model_a", "tie"]})
    resp = pa.table({"prompt_id": ["p1", "p1"], "model": ["x", "y"],
                     "text": [text, "plain answer"]})
    out = add_style_columns(comps, resp)
    assert out.column("style_a_headers").to_pylist() == [2.0, 0.0]
    assert out.column("style_b_bold").to_pylist() == [0.0, 2.0]
    assert out.column("style_b_tokens").to_pylist()[0] == 2.0
    with pytest.raises(DataError, match="no response text"):
        add_style_columns(comps, resp.slice(0, 1))


def test_bootstrap_is_the_same_with_workers(shared_data: Path) -> None:
    t = load_battles(shared_data, "10k")
    one = fit_style_control(t, n_bootstrap=20, rng=3, n_jobs=1)
    two = fit_style_control(t, n_bootstrap=20, rng=3, n_jobs=2)
    assert one.ratings.ci is not None and two.ratings.ci is not None
    np.testing.assert_array_equal(one.ratings.ci, two.ratings.ci)
    np.testing.assert_array_equal(one.coef_ci, two.coef_ci)


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_replicates_equal_exact_refits(shared_data: Path, weighted: bool) -> None:
    """Each chord-iterated replicate is within 0.06 rating point of the exact refit on its
    resample (measured: at most 0.02 over 100 rounds at 10k battles); one chord step alone is
    far off (> 1 point)."""
    from preflab.rank._style_bootstrap import _counts, replicates, round_data
    from preflab.rank._style_control import _pieces

    t = load_battles(shared_data, "10k")
    if weighted:  # non-unit battle weights take their own branch
        w = np.random.default_rng(0).choice([0.5, 1.0, 2.0], len(t))
        t = t.append_column("weight", pa.array(w))
    d = style_design(t)
    n = len(d.models)
    theta = fit_contextual(d)
    p_hat = _pieces(theta, d, d.w)[1]
    hinv = np.linalg.inv(_grad_hess(theta, d, d.w, 0.5, p_at=p_hat)[1])
    rd = round_data(d, p_hat)
    cnt = _counts(np.random.default_rng(7), len(d.y), 8)
    exact = np.column_stack([fit_contextual(d, weights=d.w * cnt[b], init=theta, tol=1e-11)
                             for b in range(len(cnt))])
    fast = replicates(d, rd, theta, hinv, cnt, 0.5, ALPHA)
    err = 400 * np.abs(fast[:n] - exact[:n]).max(axis=0)  # rating points, per replicate
    assert err.max() < 0.06
    np.testing.assert_allclose(fast[n:], exact[n:], atol=1e-4)  # style coefficients
    one_step = replicates(d, rd, theta, hinv, cnt, 0.5, ALPHA, tol=np.inf)
    assert (400 * np.abs(one_step[:n] - exact[:n]).max(axis=0)).max() > 1.0
    # chord steps that diverge (here: a step three times too long) fall back to exact refits
    safe = replicates(d, rd, theta, 3.0 * hinv, cnt, 0.5, ALPHA)
    np.testing.assert_allclose(safe, exact, atol=1e-6)


@pytest.mark.parametrize("ties", ["half", "drop"])
def test_design_indexing_equals_the_plain_table_readers(shared_data: Path, ties: str) -> None:
    from preflab.rank._indexing import models_and_outcomes

    t = load_battles(shared_data, "10k")
    models, ia, ib, y, keep = models_and_outcomes(t, ties)
    a, b = t.column("model_a").to_pylist(), t.column("model_b").to_pylist()
    winner = t.column("winner").to_pylist()
    ref_models = tuple(sorted(set(a) | set(b)))
    pos = {m: i for i, m in enumerate(ref_models)}
    value = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5,
             "tie_bothbad": 0.5}
    ref_y = np.array([value[x] for x in winner])
    assert models == ref_models
    np.testing.assert_array_equal(ia, [pos[x] for x in a])
    np.testing.assert_array_equal(ib, [pos[x] for x in b])
    np.testing.assert_array_equal(y, ref_y)
    np.testing.assert_array_equal(keep, np.ones(len(y), bool) if ties == "half" else ref_y != 0.5)
    bad = t.set_column(t.column_names.index("winner"), "winner",
                       pa.array(["model_a"] * 5 + ["A"] + ["tie"] * (len(t) - 6)))
    with pytest.raises(DataError, match="'A' is not one of") as e:
        models_and_outcomes(bad, ties)
    assert e.value.row == 5


def test_style_control_does_not_import_pandas(shared_data: Path) -> None:
    """pyarrow's to_numpy imports pandas (0.15 s of a 0.7 s run at 100k battles)."""
    import subprocess
    import sys

    path = shared_data / "fastchat-reference" / "battles_10k.parquet"
    code = ("import sys, pyarrow.parquet as pq\n"
            "from preflab.rank._style_control import fit_style_control\n"
            f"t = pq.ParquetFile({str(path)!r}).read()\n"
            f"t = t.rename_columns([{RENAME!r}.get(c, c) for c in t.column_names])\n"
            "fit_style_control(t, n_bootstrap=3, rng=0, n_jobs=1)\n"
            "print('pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


def test_bootstrap_counts_are_resamples_and_widen_past_uint8() -> None:
    from preflab.rank._style_bootstrap import _counts

    c = _counts(np.random.default_rng(0), 1000, 4)
    assert c.shape == (4, 1000) and np.all(c.sum(axis=1) == 1000)

    class AllFirst:  # a resample drawing the first battle every time
        def integers(self, low: int, high: int, size: int) -> np.ndarray:
            return np.zeros(size, np.int64)

    wide = _counts(AllFirst(), 300, 2)  # type: ignore[arg-type]
    assert wide[:, 0].tolist() == [300, 300] and wide.sum() == 600

