"""Training time of the embedded reward model on 10k real pairs (PRM800K step pairs, train
split) against scikit-learn's TF-IDF + logistic regression peer on the same pairs.

    python benchmarks/rm_speed.py
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from preflab.rm import FeatureConfig, train_reward_model
from preflab.rm._process_io import read_step_pairs

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "prm800k"


def main() -> None:
    pairs = read_step_pairs(DATA / "step_pairs.parquet", split="phase1_train")
    pairs = pairs.take(np.random.default_rng(0).permutation(len(pairs))[:10_000])
    t0, c0 = time.perf_counter(), time.process_time()
    m = train_reward_model(pairs, features=FeatureConfig(embeddings=None), rng=0)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    head = m.info["heads"]["overall"]
    print(f"preflab embedded: 10,000 pairs, {len(head['l2_grid'])} L2 values x early-stopped "
          f"epochs: {wall:.1f}s wall, {cpu:.1f}s CPU")

    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    t0, c0 = time.perf_counter(), time.process_time()
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    vec.fit(list(pairs.chosen) + list(pairs.rejected))
    d = vec.transform(pairs.chosen) - vec.transform(pairs.rejected)
    x = sp.vstack([d, -d])
    y = np.r_[np.ones(d.shape[0]), np.zeros(d.shape[0])]
    LogisticRegression(C=1.0, fit_intercept=False, max_iter=3000).fit(x, y)
    pwall, pcpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"sklearn TF-IDF + LogisticRegression (one C): {pwall:.1f}s wall, {pcpu:.1f}s CPU; "
          f"ratio preflab/peer wall {wall / pwall:.2f}")
    # the same amount of model selection as preflab's default: 5 splits x 3 penalties
    t0 = time.perf_counter()
    gen = np.random.default_rng(0)
    n = d.shape[0]
    for _ in range(5):
        fit = gen.random(n) >= 0.2
        xf = sp.vstack([d[fit], -d[fit]])
        yf = np.r_[np.ones(fit.sum()), np.zeros(fit.sum())]
        for c in (0.1, 1.0, 10.0):
            LogisticRegression(C=c, fit_intercept=False, max_iter=3000).fit(xf, yf)
    swall = time.perf_counter() - t0 + pwall
    print(f"sklearn with 5 splits x 3 C values: {swall:.1f}s wall; ratio preflab/peer wall "
          f"{wall / swall:.2f}")


if __name__ == "__main__":
    main()
