"""Reading + validating comparisons: ``preflab validate`` vs. the pandas code people write.

Whole processes (start-up and reading count). Synthetic Chatbot-Arena-style battles from
``_common.synthetic_battles`` (100 models; dictionary-encoded Parquet as written by pyarrow),
plus the same rows as JSONL at the smaller size. The pandas peer reads the file, maps
``tie (bothbad)``, and runs the same row checks (unknown winner, empty names, self-comparison,
generated prompt ids), collecting the bad rows: what a hand-written loader does.

``preflab validate`` loads and checks in memory (Arrow, vectorised); ``--stream`` checks the
file through DuckDB without loading it.

Run: ``python benchmarks/data_read.py [--sizes 1000000 10000000]``
"""

from __future__ import annotations

import argparse
import resource
import sys
from datetime import date
from pathlib import Path

import pyarrow.json  # noqa: F401
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import WORK, Run, machine, python, run_process, synthetic_battles  # noqa: E402

PEER = r'''
import sys, pandas as pd
path = sys.argv[1]
df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_json(path, lines=True)
for c in ("model_a", "model_b", "winner"):
    df[c] = df[c].astype(str)
df["winner"] = df["winner"].replace({"tie (bothbad)": "tie_bothbad"})
df["prompt_id"] = ["row:%d" % i for i in range(len(df))]
bad = (~df["winner"].isin(["model_a", "model_b", "tie", "tie_bothbad"])
       | (df["model_a"].str.strip() == "") | (df["model_b"].str.strip() == "")
       | (df["model_a"] == df["model_b"]))
print(len(df), int(bad.sum()))
'''


def _timed(cmd: list[str]) -> tuple[Run, float]:
    """Run a whole process; also its CPU seconds (user + sys), which a loaded machine
    distorts less than wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = run_process(cmd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return run, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    args = ap.parse_args()
    peer = WORK / "pandas_validate_peer.py"
    WORK.mkdir(parents=True, exist_ok=True)
    peer.write_text(PEER)
    print(f"# {machine()}, {date.today()}")
    print("| input | rows | preflab validate: wall / CPU (s) | pandas peer: wall / CPU (s) "
          "| speed-up (wall, CPU) |")
    print("|---|---:|---:|---:|---:|")
    for n in args.sizes:
        files = [synthetic_battles(n)]
        if n <= 1_000_000:
            jl = WORK / f"battles_{n}.jsonl"
            if not jl.exists():
                pq.read_table(files[0]).to_pandas().astype(
                    {"model_a": str, "model_b": str, "winner": str}).to_json(
                    jl, orient="records", lines=True)
            files.append(jl)
        for f in files:
            theirs, their_cpu = _timed([python(), str(peer), str(f)])
            assert theirs.returncode == 0, theirs.stderr
            kind = "parquet (dictionary)" if f.suffix == ".parquet" else "jsonl"
            for extra in ([], ["--stream"]):
                ours, our_cpu = _timed([python(), "-m", "preflab", "validate", str(f), *extra])
                assert ours.returncode == 0, ours.stderr
                print(f"| {kind} {' '.join(extra)} | {n:,} | {ours.seconds:.2f} / {our_cpu:.2f} | "
                      f"{theirs.seconds:.2f} / {their_cpu:.2f} | "
                      f"{theirs.seconds / ours.seconds:.1f}x, {their_cpu / our_cpu:.1f}x |",
                      flush=True)


if __name__ == "__main__":
    main()
