"""Training the embedded reward model, saving/reloading it, and evaluating it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from rm_helpers import FAST, synthetic_pairs

import preflab.rm
from preflab._errors import PreflabError
from preflab.rm import (
    FeatureConfig,
    evaluate,
    load_reward_model,
    read_pairs,
    train_reward_model,
    wilson_interval,
)
from preflab.rm._eval import calibration, evaluate_diffs


def test_all_is_public() -> None:
    for name in preflab.rm.__all__:
        assert hasattr(preflab.rm, name)


def test_import_without_torch_and_hint() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import preflab.rm\n"
        "from preflab.rm import FeatureConfig, train_reward_model\n"
        "from preflab.rm._pairs import PreferencePairs\n"
        "p = PreferencePairs.from_lists(['q'] * 4, ['a b'] * 4, ['c'] * 4)\n"
        "try:\n"
        "    train_reward_model(p, backend='transformers', base_model='.')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
        "m = train_reward_model(p, features=FeatureConfig(embeddings='auto'), validation=0)\n"
        "print(m.featurizer.config.embeddings)\n"
        "print('loaded', any(k.startswith(('torch', 'transformers')) for k in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "PreflabError" in out and "pip install 'preflab[rm]'" in out
    # 'auto' falls back to hashed features only, and nothing heavy was imported
    assert out.strip().endswith("None\nloaded False")


@pytest.fixture(scope="module")
def hh(shared_data: Path) -> tuple[object, object]:
    pairs = read_pairs(shared_data / "hh-rlhf" / "pairs.parquet")
    test = np.array([int(i) % 5 == 0 for i in pairs.pair_id])
    return pairs.take(~test), pairs.take(test)


@pytest.fixture(scope="module")
def hh_model(hh: tuple[object, object]) -> object:
    train, _ = hh
    # one L2 value keeps the test quick; the benchmark uses the default validation-chosen grid
    return train_reward_model(train, features=FeatureConfig(embeddings=None), l2=1e-3, rng=0)


def test_hh_reads_dialogues(hh: tuple[object, object]) -> None:
    train, test = hh
    assert len(train) + len(test) == 2312 and len(test) == 463
    assert test.prompt[0].endswith("\n\nAssistant:")
    assert "Human:" not in test.chosen[0]


def test_hh_training_reduces_loss_and_beats_length(hh: tuple[object, object],
                                                    hh_model: object) -> None:
    _, test = hh
    head = hh_model.info["heads"]["overall"]
    curve = hh_model.curves["overall"]
    assert curve[head["best_epoch"] - 1]["train_loss"] < curve[0]["train_loss"]
    assert curve[0]["train_loss"] < np.log(2)  # below the loss of a constant reward
    res = evaluate(hh_model, test)
    # measured 0.631 [0.586, 0.673] on the 463 held-out pairs (5 bags, l2 = 1e-3);
    # shorter-is-better 0.596, longer 0.404, scikit-learn TF-IDF BT 0.606
    assert res.accuracy > 0.62
    assert res.accuracy > res.baselines["shorter"].accuracy
    assert res.accuracy > res.baselines["longer"].accuracy
    assert res.overall.ci[0] < res.accuracy < res.overall.ci[1]
    assert res.overall.n == 463 and 0 <= res.ece < 0.1
    assert set(res.by_subset) == {"harmless-base"}


def test_save_reload_scores_identically(hh: tuple[object, object], hh_model: object,
                                        tmp_path: Path) -> None:
    _, test = hh
    hh_model.save(tmp_path / "m")
    assert {"config.json", "heads.npz", "curve.json", "curve.png"} <= {
        p.name for p in (tmp_path / "m").iterdir()}
    again = load_reward_model(tmp_path / "m")
    a = hh_model.score(test.prompt[:50], test.chosen[:50])
    b = again.score(test.prompt[:50], test.chosen[:50])
    assert_array_equal(a, b)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["backend"] == "embedded" and cfg["info"]["heads"]["overall"]["l2_grid"]


def test_judgebench_eval_has_categories(shared_data: Path) -> None:
    jb = read_pairs(shared_data / "judgebench" / "pairs.parquet")
    assert len(jb) == 620
    d = np.array([len(c) - len(r) for c, r in zip(jb.chosen, jb.rejected, strict=True)], float)
    res = evaluate_diffs(d, jb, model="longer")
    assert set(res.by_category) == {"knowledge", "reasoning", "math", "coding"}
    assert sum(a.n for a in res.by_category.values()) == 620
    assert res.accuracy == pytest.approx(res.baselines["longer"].accuracy)
    assert res.by_subset  # source column, e.g. mmlu-pro-law


def test_wilson_interval_known_values() -> None:
    # Wilson (1927) score interval, z = 1.96: 8/10 -> (0.4902, 0.9433); 0/10 -> (0, 0.2775)
    assert_allclose(wilson_interval(8, 10), (0.4902, 0.9433), atol=1e-4)
    assert_allclose(wilson_interval(0, 10), (0.0, 0.2775), atol=1e-4)


def test_calibration_of_a_calibrated_model() -> None:
    gen = np.random.default_rng(0)
    d = gen.normal(0, 2, 20000)
    # outcome drawn from the model's own probability: relabel pairs the model gets "wrong"
    win = gen.random(20000) < 1 / (1 + np.exp(-d))
    ece, table = calibration(np.where(win, d, -d))
    assert ece < 0.02 and sum(r["n"] for r in table) == 40000
    assert calibration(np.where(win, 5 * d, -5 * d))[0] > 0.05  # overconfident


def test_ties_are_skipped_in_eval_and_half_in_training() -> None:
    p = synthetic_pairs(60)
    tie = np.zeros(60, bool)
    tie[:10] = True
    from dataclasses import replace

    p = replace(p, tie=tie)
    m = train_reward_model(p, features=FAST, rng=0)
    res = evaluate(m, p)
    assert res.n_ties_skipped == 10 and res.overall.n == 50
    with pytest.raises(PreflabError):
        train_reward_model(p, features=FAST, ties="bogus")
    assert train_reward_model(p, features=FAST, ties="drop").info["n_pairs"] == 50
