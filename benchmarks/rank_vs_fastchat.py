"""preflab vs FastChat: Bradley–Terry + bootstrap, whole processes, same input, same rounds.

    python benchmarks/rank_vs_fastchat.py --sizes 10k,100k,1M,10M --rounds 1000 \
        --fastchat-src PATH/TO/FastChat

The peer is FastChat's current ``fastchat/serve/monitor/rating_systems.py`` (``compute_bt``
+ ``compute_bootstrap_bt``, the code behind the Chatbot Arena leaderboard). It is not on PyPI
(``fschat`` 0.2.36 predates it), so point ``--fastchat-src`` at a FastChat checkout (or at the
file itself); nothing of it is copied into preflab. Both processes read the same Parquet file
and run the same number of bootstrap rounds; wall time includes start-up and reading.
Prints wall time, peak memory, the speed ratio and the largest rating difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from _common import WORK, machine, python, run_process, synthetic_battles

SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000,
         "100M": 100_000_000}

PEER = textwrap.dedent("""
    import json, os, sys
    import pandas as pd
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[1])))
    import rating_systems as rs  # importable by name: its process pool pickles fit_bt
    df = pd.read_parquet(sys.argv[2])
    for c in ("model_a", "model_b", "winner"):
        df[c] = df[c].astype(str)
    point = rs.compute_bt(df)
    boot = rs.compute_bootstrap_bt(df, num_round=int(sys.argv[3]), num_cpu=2)
    q = boot.quantile([0.025, 0.975])
    json.dump({"ratings": point.to_dict(),
               "ci": {m: [q[m].iloc[0], q[m].iloc[1]] for m in boot.columns}},
              open(sys.argv[4], "w"))
""")


def find_peer(src: str | None) -> Path | None:
    if not src:
        return None
    p = Path(src)
    if p.is_dir():
        p = p / "fastchat" / "serve" / "monitor" / "rating_systems.py"
    return p if p.exists() else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k,1M,10M")
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--fastchat-src", default=None,
                    help="FastChat checkout (or rating_systems.py); without it only preflab runs")
    ap.add_argument("--fastchat-max", default="1M",
                    help="largest size to run FastChat on (it needs minutes beyond 1M)")
    args = ap.parse_args()
    peer = find_peer(args.fastchat_src)
    if args.fastchat_src and peer is None:
        sys.exit(f"--fastchat-src {args.fastchat_src}: rating_systems.py not found")
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "fastchat_peer.py").write_text(PEER)
    print(f"machine: {machine()}")
    print("max |Δ CI| compares interval bounds with FastChat's; 'seed Δ CI' is preflab against\n"
          "itself with another seed: bootstrap bounds are Monte-Carlo quantities.")
    print(f"{'battles':>8} {'rounds':>6} | {'preflab s':>9} {'MB':>6} | {'FastChat s':>10} "
          f"{'MB':>6} | {'ratio':>6} | {'max |Δ rating|':>14} {'max |Δ CI|':>10} "
          f"{'seed Δ CI':>9}")
    for label in args.sizes.split(","):
        n = SIZES[label]
        data = synthetic_battles(n)
        out = WORK / f"preflab_{label}.json"
        ours = run_process([python(), "-m", "preflab", "rank", str(data), "--bootstrap",
                            str(args.rounds), "--seed", "0", "--format", "json", "-o", str(out)])
        if ours.returncode != 0:
            sys.exit(f"preflab failed on {label}:\n{ours.stderr}")
        mine = {m["model"]: m for m in json.loads(out.read_text())["models"]}
        row = f"{label:>8} {args.rounds:>6} | {ours.seconds:9.2f} {ours.peak_mb:6.0f} | "
        if peer is not None and n <= SIZES[args.fastchat_max]:
            pout = WORK / f"fastchat_{label}.json"
            theirs = run_process([python(), str(WORK / "fastchat_peer.py"), str(peer), str(data),
                                  str(args.rounds), str(pout)])
            if theirs.returncode != 0:
                sys.exit(f"FastChat failed on {label}:\n{theirs.stderr[-2000:]}")
            ref = json.loads(pout.read_text())
            d_rating = max(abs(mine[m]["rating"] - r) for m, r in ref["ratings"].items())
            d_ci = max(max(abs(mine[m]["ci_low"] - lo), abs(mine[m]["ci_high"] - hi))
                       for m, (lo, hi) in ref["ci"].items())
            out2 = WORK / f"preflab_{label}_seed1.json"
            run_process([python(), "-m", "preflab", "rank", str(data), "--bootstrap",
                         str(args.rounds), "--seed", "1", "--format", "json", "-o", str(out2)])
            other = {m["model"]: m for m in json.loads(out2.read_text())["models"]}
            d_seed = max(max(abs(mine[m]["ci_low"] - other[m]["ci_low"]),
                             abs(mine[m]["ci_high"] - other[m]["ci_high"])) for m in mine)
            row += (f"{theirs.seconds:10.2f} {theirs.peak_mb:6.0f} | "
                    f"{theirs.seconds / ours.seconds:5.1f}x | {d_rating:14.3f} {d_ci:10.2f} "
                    f"{d_seed:9.2f}")
        else:
            row += f"{'-':>10} {'-':>6} | {'-':>6} | {'-':>14} {'-':>10}"
        print(row, flush=True)


if __name__ == "__main__":
    main()
