"""Arena-Hard scores.

Golden numbers: ``../shared/data/arenahard/reference_5_models.csv`` (arena-hard-auto leaderboard
20240731: gpt-3.5-turbo-0125 23.34, baseline 50) and the folder README (gpt-4-0613 37.9);
tolerance 0.1 point. Style control checked against scikit-learn's LogisticRegression built the
way Arena-Hard's ``construct_style_matrices``/``fit_bt`` build it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from preflab._errors import DataError
from preflab.cli._main import cli
from preflab.rank._arena_hard import arena_hard_scores, read_arena_hard, style_matrix


@pytest.fixture(scope="session")
def ah(shared_data: Path) -> Path:
    return shared_data / "arenahard"


@pytest.fixture(scope="session")
def battles(ah: Path):  # type: ignore[no-untyped-def]
    return read_arena_hard(str(ah / "battles.parquet"),
                           answers_meta=str(ah / "answers_meta.parquet"))


def test_published_scores(battles, ah: Path) -> None:  # type: ignore[no-untyped-def]
    board = arena_hard_scores(battles, n_rounds=50, rng=0)
    rows = {r.model: r for r in board.models}
    ref = pd.read_csv(ah / "reference_5_models.csv", index_col=0)
    for model in ("gpt-4-0314", "gpt-3.5-turbo-0125"):
        assert rows[model].score == pytest.approx(ref.loc[model, "score"], abs=0.1)
    assert rows["gpt-4-0613"].score == pytest.approx(37.9, abs=0.1)
    assert rows["gpt-4-0314"].ci_low == rows["gpt-4-0314"].ci_high == 50.0
    for r in board.models:
        assert r.ci_low <= r.score <= r.ci_high
    # chars, honestly labelled
    assert board.length_unit == "chars" and any("characters" in n for n in board.notes)


def test_bt_fit_equals_logistic_regression(battles) -> None:  # type: ignore[no-untyped-def]
    """Arena-Hard's compute_mle_elo (a logistic regression on battle rows) on a star graph."""
    sk = pytest.importorskip("sklearn.linear_model", reason="peer check needs scikit-learn")
    b = battles
    n_m = len(b.models)
    rows = np.repeat(np.arange(len(b.count)), b.count.astype(int))
    x = np.zeros((2 * len(rows), n_m))
    base = b.models.index(b.baseline)
    x[:, base] = np.log(10)
    x[np.arange(2 * len(rows)), np.tile(b.model[rows], 2)] -= np.log(10)
    y_base = 1.0 - b.outcome[rows]  # tie: one win + one loss over the doubled rows
    y = np.concatenate([np.where(y_base == 0.5, 1.0, y_base), np.where(y_base == 0.5, 0.0, y_base)])
    lr = sk.LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10_000)
    lr.fit(x, y)
    coef = lr.coef_[0]
    peer = 100 / (1 + 10 ** (coef[base] - coef))
    ours = {r.model: r.score for r in arena_hard_scores(b, n_rounds=2).models}
    for i, m in enumerate(b.models):
        assert ours[m] == pytest.approx(peer[i], abs=1e-4)


def test_question_bootstrap_is_wider(battles) -> None:  # type: ignore[no-untyped-def]
    board = arena_hard_scores(battles, n_rounds=300, rng=1)
    assert board.width_ratio > 1.1  # rows understate the width (measured ~1.36 at 1000 rounds)


def test_style_control_matches_sklearn(battles) -> None:  # type: ignore[no-untyped-def]
    sk = pytest.importorskip("sklearn.linear_model", reason="peer check needs scikit-learn")
    b = battles
    z = style_matrix(b)
    rows = np.repeat(np.arange(len(b.count)), b.count.astype(int))
    n_m = len(b.models)
    base = b.models.index(b.baseline)
    x = np.zeros((2 * len(rows), n_m + 4))
    x[:, base] = np.log(10)
    x[np.arange(2 * len(rows)), np.tile(b.model[rows], 2)] -= np.log(10)
    x[:, n_m:] = np.tile(z[rows], (2, 1))
    y_base = 1.0 - b.outcome[rows]
    y = np.concatenate([np.where(y_base == 0.5, 1.0, y_base), np.where(y_base == 0.5, 0.0, y_base)])
    lr = sk.LogisticRegression(fit_intercept=False, tol=1e-10, max_iter=10_000)  # L2, C=1
    lr.fit(x, y)
    coef = lr.coef_[0]
    board = arena_hard_scores(b, n_rounds=2, style_control=True)
    assert np.allclose([board.style_coefficients[k] for k in ("length", "headers", "lists",
                                                             "bold")], coef[n_m:], atol=1e-5)
    ours = {r.model: r.score for r in board.models}
    for i, m in enumerate(b.models):
        assert ours[m] == pytest.approx(100 / (1 + 10 ** (coef[base] - coef[i])), abs=1e-3)


def test_judgment_formats_agree(ah: Path, battles) -> None:  # type: ignore[no-untyped-def]
    """The per-game table gives the battle table's scores for the models it shares."""
    j = read_arena_hard(str(ah / "judgments.parquet"))
    a = {r.model: r.score for r in arena_hard_scores(battles, n_rounds=2).models}
    bj = {r.model: r.score for r in arena_hard_scores(j, n_rounds=2).models}
    for m, s in a.items():
        assert bj[m] == pytest.approx(s, abs=1e-9)
    assert any("parseable" in n for n in j.notes)  # malformed labels are counted, not hidden


def test_judgment_jsonl_hand_case(tmp_path: Path) -> None:
    """Game 1 A>>B (baseline strongly wins: 3 rows), game 2 A>B (model as A wins: 1 row);
    second question: A=B twice. Model share = (1 + 1) / (3 + 1 + 2) = 1/3."""
    recs = [{"question_id": "q1", "model": "m", "judge": "j",
             "games": [{"score": "A>>B"}, {"score": "A>B"}]},
            {"question_id": "q2", "model": "m", "judge": "j",
             "games": [{"score": "A=B"}, {"score": "B=A"}]},
            {"question_id": "q3", "model": "m", "judge": "j",
             "games": [{"score": None}, {"score": "A>>A"}]}]
    p = tmp_path / "m.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    b = read_arena_hard(str(p), baseline="base")
    rows = {r.model: r for r in arena_hard_scores(b, n_rounds=5).models}
    assert rows["m"].score == pytest.approx(100 / 3)
    assert any("2 games" in n for n in b.notes)


def test_bad_battles_name_the_row(tmp_path: Path) -> None:
    p = tmp_path / "b.csv"
    p.write_text("question_id,model_a,model_b,winner\nq,base,m,model_a\nq,x,m,model_b\n")
    with pytest.raises(DataError, match=r"row 1.*baseline"):
        read_arena_hard(str(p), baseline="base")
    p.write_text("question_id,model_a,model_b,winner\nq,base,m,A\n")
    with pytest.raises(DataError, match=r"row 0.*winner"):
        read_arena_hard(str(p), baseline="base")


def test_cli_arena_hard(ah: Path, tmp_path: Path) -> None:
    out = tmp_path / "ah.json"
    res = CliRunner().invoke(cli, ["arena-hard", str(ah / "battles.parquet"), "--n-rounds", "20",
                                   "--output", str(out), "--report", str(tmp_path / "ah.html")])
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text())
    assert data["baseline"] == "gpt-4-0314"
    row = next(m for m in data["models"] if m["model"] == "gpt-3.5-turbo-0125")
    assert row["score"] == pytest.approx(23.34, abs=0.1)
    assert {"model", "score", "ci_low", "ci_high"} <= set(row)
    assert "<svg" in (tmp_path / "ah.html").read_text()


def _simulate(rng: np.random.Generator, n_q: int, theta: float):  # type: ignore[no-untyped-def]
    """Two games per question; per-question effects make games of a question correlated;
    a strong verdict (half the games) is 3 battle rows, as Arena-Hard explodes them."""
    from preflab.rank._arena_hard import ArenaHardBattles

    u = rng.normal(0.0, 1.5, n_q)
    p = 1 / (1 + np.exp(-(theta + u)))
    q_idx, out, cnt = [], [], []
    for q in range(n_q):
        for _game in range(2):
            y = float(rng.random() < p[q])
            q_idx.append(q)
            out.append(y)
            cnt.append(3.0 if rng.random() < 0.5 else 1.0)
    n = len(out)
    return ArenaHardBattles("base", ("base", "m"), tuple(str(i) for i in range(n_q)),
                            np.array(q_idx), np.ones(n, dtype=np.int64), np.array(out),
                            np.array(cnt), None, np.full(2, np.nan), "chars")


def test_question_bootstrap_covers_row_bootstrap_does_not() -> None:
    """Coverage of the 95% intervals of the battle-row share under question effects."""
    rng = np.random.default_rng(7)
    theta, n_q = -0.8, 150
    u = rng.normal(0.0, 1.5, 2_000_000)
    truth = 100 * float(np.mean(1 / (1 + np.exp(-(theta + u)))))
    hit_rows = hit_q = 0
    n_sim = 120
    for _ in range(n_sim):
        board = arena_hard_scores(_simulate(rng, n_q, theta), n_rounds=150, rng=rng)
        r = next(x for x in board.models if x.model == "m")
        hit_rows += r.ci_low <= truth <= r.ci_high
        hit_q += r.question_ci_low <= truth <= r.question_ci_high
    assert 0.88 <= hit_q / n_sim <= 0.995
    assert hit_rows / n_sim < hit_q / n_sim - 0.05
