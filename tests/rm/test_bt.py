"""The Bradley-Terry loss and its optimizer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from preflab.rm._bt import bt_loss, fit_linear_bt, pair_accuracy


@given(d=st.floats(-20, 20), m=st.floats(0, 3), tie=st.booleans())
@settings(max_examples=60, deadline=None)
def test_bt_gradient_matches_finite_difference(d: float, m: float, tie: bool) -> None:
    h = 1e-6
    t = np.array([tie])
    mm = np.array([m])
    loss, grad = bt_loss(np.array([d]), t, mm)
    num = (bt_loss(np.array([d + h]), t, mm)[0] - bt_loss(np.array([d - h]), t, mm)[0]) / (2 * h)
    assert_allclose(grad, num, atol=1e-5)
    assert loss[0] >= 0


def test_bt_loss_values() -> None:
    loss, _ = bt_loss(np.array([0.0, 0.0, 2.0]), np.array([False, True, True]), np.zeros(3))
    assert_allclose(loss[:2], np.log(2.0))
    # a tie is minimized at d = 0: equal rewards
    assert loss[2] > loss[1]


def test_fit_recovers_direction_and_stops_early() -> None:
    gen = np.random.default_rng(1)
    w_true = np.array([2.0, -1.0, 0.0])
    x = gen.standard_normal((2000, 3))
    p = 1 / (1 + np.exp(-x @ w_true))
    y = gen.random(2000) < p
    diff = np.where(y[:, None], x, -x)  # chosen minus rejected
    tie = np.zeros(2000, bool)
    fit = fit_linear_bt(diff[:1600], tie[:1600], np.zeros(1600), val_diff=diff[1600:],
                        val_tie=tie[1600:], val_margin=np.zeros(400), l2=1e-4, epochs=40,
                        lr=0.05, rng=0)
    assert fit.curve[fit.best_epoch - 1]["train_loss"] < fit.curve[0]["train_loss"] + 1e-9
    cos = fit.weights @ w_true / np.linalg.norm(fit.weights) / np.linalg.norm(w_true)
    assert cos > 0.98
    assert_allclose(fit.weights, w_true, atol=0.35)  # the MLE of a well-specified BT model
    assert pair_accuracy(diff[1600:] @ fit.weights) > 0.7


def test_ties_pull_rewards_together() -> None:
    x = np.ones((50, 1))
    fit = fit_linear_bt(x, np.ones(50, bool), np.zeros(50), l2=0.0, epochs=150, lr=0.05,
                        init=np.array([3.0]), rng=0)
    assert abs(fit.weights[0]) < 0.2


def test_margin_pushes_difference_further() -> None:
    gen = np.random.default_rng(2)
    x = np.abs(gen.standard_normal((400, 1)))
    tie = np.zeros(400, bool)
    plain = fit_linear_bt(x, tie, np.zeros(400), l2=0.05, epochs=30, rng=0)
    margin = fit_linear_bt(x, tie, np.full(400, 1.0), l2=0.05, epochs=30, rng=0)
    assert margin.weights[0] > plain.weights[0]
