"""Style control (contextual Bradley-Terry) vs FastChat, whole processes, same battles and rounds.

Run:  python benchmarks/style_control_vs_fastchat.py [--sizes 100k,1m] [--rounds 100]
          [--fastchat PATH/rating_systems.py] [--skip-fastchat-above 1000000]

FastChat's code is ``fastchat/serve/monitor/rating_systems.py`` at commit 0e6d3e4 (not on PyPI;
point --fastchat at a copy of that file, e.g. from `git show 0e6d3e4:fastchat/serve/monitor/
rating_systems.py`). It is run as its leaderboard calls it: ``compute_style_control`` then
``compute_bootstrap_style_control`` (a process pool over all cores). Sizes above
--skip-fastchat-above (default 1M: FastChat runs live at 100k and 1M) are compared with its
time quoted in the issue (475 s / 2.2 GB at 1M, 100 rounds;
../shared/data/fastchat-reference/README.md), marked as "recorded". Besides wall time the
table gives the CPU seconds of each whole process (with its worker processes), which a busy
shared machine inflates much less than wall time. Battles: ``100k`` is
../shared/data/fastchat-reference/battles_100k.parquet; other sizes are generated (true style
effect on length) under $PREFLAB_BENCH_DATA (default benchmarks/_work/).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "fastchat-reference"
RECORDED = {1_000_000: (475.0, 2200.0), 100_000: (53.6, None)}
FLAT = ["sum_assistant_a_tokens", "header_count_a", "list_count_a", "bold_count_a",
        "sum_assistant_b_tokens", "header_count_b", "list_count_b", "bold_count_b"]

OURS = r"""
import sys, time, json
t0 = time.time()
import pyarrow.parquet as pq
from preflab.rank._style_control import fit_style_control
path, rounds = sys.argv[1], int(sys.argv[2])
t = pq.ParquetFile(path).read()  # pq.read_table imports pyarrow.dataset, which imports pandas
ren = {"sum_assistant_a_tokens": "style_a_tokens", "header_count_a": "style_a_headers",
       "list_count_a": "style_a_lists", "bold_count_a": "style_a_bold",
       "sum_assistant_b_tokens": "style_b_tokens", "header_count_b": "style_b_headers",
       "list_count_b": "style_b_lists", "bold_count_b": "style_b_bold"}
t = t.rename_columns([ren.get(c, c) for c in t.column_names])
if rounds > 0:
    r = fit_style_control(t, n_bootstrap=rounds, rng=0)
else:
    r = fit_style_control(t, intervals="sandwich")
t1 = time.time()
print(json.dumps({"ratings": r.ratings.as_dict(), "coef": r.coef.tolist(),
                  "ci": {m: list(map(float, r.ratings.ci[i]))
                         for i, m in enumerate(r.ratings.models)}, "in_process_s": t1 - t0}))
"""

THEIRS = r"""
import sys, json, importlib, os
import numpy as np, pandas as pd
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))  # importable by name: the
rs = importlib.import_module(os.path.basename(sys.argv[1])[:-3])  # pool pickles its functions
path, rounds = sys.argv[2], int(sys.argv[3])
df = pd.read_parquet(path)
flat = FLAT_LIST
df["conv_metadata"] = [dict(zip(flat, row)) for row in df[flat].itertuples(index=False)]
ratings, coef = rs.compute_style_control(df)
np.random.seed(42)
boot, _ = rs.compute_bootstrap_style_control(df, num_round=rounds)
ci = {m: [float(boot[m].quantile(0.025)), float(boot[m].quantile(0.975))] for m in boot.columns}
print(json.dumps({"ratings": {k: float(v) for k, v in ratings.items()},
                  "coef": [float(x) for x in coef], "ci": ci}))
""".replace("FLAT_LIST", repr(FLAT))


def run(code: str, *args: str) -> tuple[dict[str, object], float, float, float]:
    """Output, wall seconds, peak RSS (MB, largest process) and CPU seconds (the process and
    its workers) of one whole Python process."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", code, *args], check=True, capture_output=True,
                         text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    wall = time.time() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    peak = max(r0.ru_maxrss, r1.ru_maxrss) / 1024
    return json.loads(out.stdout.strip().splitlines()[-1]), wall, peak, cpu


def battles(n: int) -> Path:
    if n == 100_000:
        return SHARED / "battles_100k.parquet"
    data_dir = Path(os.environ.get("PREFLAB_BENCH_DATA", Path(__file__).resolve().parent / "_work"))
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"style_battles_{n}.parquet"
    if path.exists():
        return path
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    m = 100
    elo = rng.normal(0, 150, m)
    s = elo * np.log(10) / 400
    a = np.minimum(m - 1, (m * rng.random(n) ** 1.8).astype(int))
    b = (a + 1 + rng.integers(0, m - 1, n)) % m
    cols = {f: rng.integers(0, hi, n) for f, hi in zip(FLAT, [1500, 6, 12, 10] * 2, strict=True)}
    cols["sum_assistant_a_tokens"] += 50
    cols["sum_assistant_b_tokens"] += 50
    ta, tb = cols["sum_assistant_a_tokens"], cols["sum_assistant_b_tokens"]
    d = (ta - tb) / (ta + tb + 1)
    p = 1 / (1 + np.exp(-(s[a] - s[b] + 0.6 * (d - d.mean()) / d.std())))
    u = rng.random(n)
    tie = 0.2 * np.minimum(p, 1 - p)
    winner = np.where(u < p - tie / 2, "model_a", np.where(u < p + tie / 2, "tie", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(m)])
    pq.write_table(pa.table({"model_a": names[a], "model_b": names[b], "winner": winner,
                             **cols}), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100k,1m")
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--fastchat", default=os.environ.get("FASTCHAT_RATING_SYSTEMS"),
                    help="path to FastChat's fastchat/serve/monitor/rating_systems.py")
    ap.add_argument("--skip-fastchat-above", type=int, default=1_000_000)
    args = ap.parse_args()
    sizes = [int(float(x[:-1]) * (1e3 if x[-1] == "k" else 1e6)) for x in args.sizes.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores: wall times are inflated "
          "above ~1; CPU seconds much less so)")
    print(f"{'battles':>9s} {'rounds':>6s} {'preflab s':>9s} {'CPU s':>6s} {'MB':>6s} "
          f"{'FastChat s':>10s} {'CPU s':>6s} {'MB':>6s} {'speed-up':>8s} {'CPU ratio':>9s} "
          f"{'max|Δrating|':>12s} {'max|Δcoef|':>10s} {'sandwich s':>10s}"
          "  (whole processes; sandwich: no bootstrap)")
    for n in sizes:
        path = battles(n)
        ours, wall, peak, cpu = run(OURS, str(path), str(args.rounds))
        _, swall, _, _ = run(OURS, str(path), "0")  # sandwich intervals instead, whole process
        theirs: dict[str, object] | None = None
        if args.fastchat and Path(args.fastchat).exists() and n <= args.skip_fastchat_above:
            theirs, fwall, fpeak, fcpu = run(THEIRS, args.fastchat, str(path), str(args.rounds))
            tag = ""
        else:
            fwall, fpk = RECORDED.get(n, (float("nan"), None))
            fpeak = float("nan") if fpk is None else fpk
            fcpu = float("nan")
            tag = " (recorded)"
        dr = dc = float("nan")
        if theirs is not None:
            r1, r2 = ours["ratings"], theirs["ratings"]
            assert isinstance(r1, dict) and isinstance(r2, dict)
            dr = max(abs(r1[k] - r2[k]) for k in r1)
            dc = float(np.max(np.abs(np.array(ours["coef"]) - np.array(theirs["coef"]))))
        print(f"{n:9,d} {args.rounds:6d} {wall:9.2f} {cpu:6.2f} {peak:6.0f} {fwall:10.1f} "
              f"{fcpu:6.1f} {fpeak:6.0f} {fwall / wall:7.1f}x {fcpu / cpu:8.1f}x {dr:12.3f} "
              f"{dc:10.5f} {swall:10.2f}{tag}")
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
