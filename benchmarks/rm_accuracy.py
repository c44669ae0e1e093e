"""Reward-model accuracy on the shared data, with the baselines, in one run.

hh-rlhf harmless-base test pairs: split 80/20 by ``pair_index % 5 == 0`` (test); the
embedded model trains on the 80% (its own validation split picks L2 and the stopping epoch)
and is scored on the 20%. JudgeBench: 5-fold cross-validation by pair (train on 4 folds,
score the fifth), since it has no train split. Peer: scikit-learn's TF-IDF + logistic
regression Bradley-Terry model (C chosen on the same validation split).

    python benchmarks/rm_accuracy.py [--embeddings none|auto|minilm]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from preflab.rm import FeatureConfig, evaluate, read_pairs, train_reward_model
from preflab.rm._eval import baseline_diffs, correct_of
from preflab.rm._model import validation_mask

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def sklearn_tfidf_bt(train, test, rng=0):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    is_val = validation_mask(train, 0.2, np.random.default_rng(rng))
    fit, val = train.take(~is_val), train.take(is_val)
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    vec.fit(list(fit.chosen) + list(fit.rejected))

    def diff(p):  # type: ignore[no-untyped-def]
        return vec.transform(p.chosen) - vec.transform(p.rejected)

    dfit = diff(fit)
    x = sp.vstack([dfit, -dfit])
    y = np.r_[np.ones(dfit.shape[0]), np.zeros(dfit.shape[0])]
    best = (-1.0, None)
    for c in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
        m = LogisticRegression(C=c, fit_intercept=False, max_iter=3000).fit(x, y)
        acc = float(np.mean(correct_of(diff(val) @ m.coef_.ravel())))
        if acc > best[0]:
            best = (acc, m)
    return float(np.mean(correct_of(diff(test) @ best[1].coef_.ravel())))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--embeddings", default="none")
    ap.add_argument("--skip-judgebench", action="store_true")
    args = ap.parse_args()
    emb = None if args.embeddings == "none" else args.embeddings
    cfg = FeatureConfig(embeddings=emb)
    out: dict[str, object] = {"embeddings": args.embeddings}

    pairs = read_pairs(DATA / "hh-rlhf" / "pairs.parquet")
    test = np.array([int(i) % 5 == 0 for i in pairs.pair_id])
    train, held = pairs.take(~test), pairs.take(test)
    t0 = time.perf_counter()
    model = train_reward_model(train, features=cfg, rng=0)
    t_train = time.perf_counter() - t0
    res = evaluate(model, held)
    base = {k: v.accuracy for k, v in res.baselines.items()}
    peer = sklearn_tfidf_bt(train, held)
    out["hh_rlhf"] = {"n_train": len(train), "n_test": len(held), "accuracy": res.accuracy,
                      "ci": res.overall.ci, "ece": res.ece, "train_seconds": t_train,
                      "baselines": base, "sklearn_tfidf_bt": peer}
    print(f"hh-rlhf harmless test ({len(held)} pairs): embedded {res.accuracy:.3f} "
          f"[{res.overall.ci[0]:.3f}, {res.overall.ci[1]:.3f}], ECE {res.ece:.3f}; "
          f"shorter {base['shorter']:.3f}, longer {base['longer']:.3f}; sklearn TF-IDF BT "
          f"{peer:.3f}; ratio embedded/peer {res.accuracy / peer:.3f}; train {t_train:.1f}s")

    if not args.skip_judgebench:
        jb = read_pairs(DATA / "judgebench" / "pairs.parquet")
        folds = np.arange(len(jb)) % 5
        diffs = np.zeros(len(jb))
        for k in range(5):
            m = train_reward_model(jb.take(folds != k), features=cfg, rng=0)
            part = jb.take(folds == k)
            diffs[folds == k] = (m.score(part.prompt, part.chosen)
                                 - m.score(part.prompt, part.rejected))
        acc = float(np.mean(correct_of(diffs)))
        b = {k: float(np.mean(correct_of(v))) for k, v in baseline_diffs(jb).items()}
        out["judgebench_cv"] = {"accuracy": acc, "baselines": b}
        print(f"JudgeBench 5-fold CV ({len(jb)} pairs): embedded {acc:.3f}; longer "
              f"{b['longer']:.3f}, shorter {b['shorter']:.3f}")
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
