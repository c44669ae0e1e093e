"""LC win rates of all 60 shared AlpacaEval models: preflab vs AlpacaEval's own code, same inputs.

Run from the project root (needs ``pip install alpaca-eval==0.6.6``, a benchmark-only
dependency, and ``../shared/data``)::

    python benchmarks/lc_vs_alpacaeval.py

AlpacaEval downloads ``df_gamed.csv`` and ``instruction_difficulty.csv`` from a model hub; here
its download function is pointed at the offline reconstructions in ``lc_inputs``. Inputs: the
compact ``annotations.parquet`` (all 60 models; output texts replaced by strings of the true
length, which is all the GLM reads), in the same row order for both. Both sides start from the
texts (lengths measured as AlpacaEval does) and end with every model's win rate, SE, LC win
rate and LC SE. Prints per-metric maximum absolute differences, the CV's chosen C, and the
speed ratio (wall and CPU time, best of runs); also preflab's ``solver="exact"`` (each fit at
its optimum), the estimated-difficulty path (no lc_inputs) and the Arena-Hard row- vs
question-bootstrap widths.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LC = DATA / "alpacaeval" / "lc_inputs"
BASELINE = "gpt4_1106_preview"


def _alpaca_eval():  # type: ignore[no-untyped-def]
    if "pkg_resources" not in sys.modules:  # alpaca_eval 0.6.6 imports it; setuptools>=81 lacks it
        from packaging.version import parse

        shim = types.ModuleType("pkg_resources")
        shim.parse_version = parse  # type: ignore[attr-defined]
        shim.get_distribution = lambda n: types.SimpleNamespace(  # type: ignore[attr-defined]
            version=importlib.metadata.version(n))
        sys.modules["pkg_resources"] = shim
    import alpaca_eval.metrics.glm_winrate as glm

    glm.hf_hub_download = lambda repo_id, filename, **kw: str(
        LC / ("gamed_annotations.csv" if filename == "df_gamed.csv" else filename))
    chosen: list[float] = []
    fit = glm.fit_LogisticRegressionCV

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        m = fit(*a, **k)
        chosen.append(float(m.C_[0]))
        return m

    glm.fit_LogisticRegressionCV = spy
    return glm, chosen


def per_model_frames() -> dict[str, pd.DataFrame]:
    t = pd.read_parquet(DATA / "alpacaeval" / "annotations.parquet")
    frames = {}
    for model, g in t.groupby("model", sort=False):
        same = bool((g.len_baseline == g.len_model).all() and (g.preference == 1.5).all())
        frames[str(model)] = pd.DataFrame({
            "instruction": g.instruction_index.astype(str).values,
            "generator_1": BASELINE,
            "output_1": ["x" * int(n) for n in g.len_baseline],
            # a model identical to the baseline goes AlpacaEval's baseline path (LC = 50)
            "generator_2": BASELINE if same else str(model),
            "output_2": ["y" * int(n) for n in g.len_model],
            "preference": g.preference.values,
            "annotator": "weighted_alpaca_eval_gpt4_turbo",
        })
    return frames


def run_alpaca_eval(frames: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, float, float]:
    glm, chosen = _alpaca_eval()
    out = {}
    t0, c0 = time.perf_counter(), time.process_time()
    for model, df in frames.items():
        n_before = len(chosen)
        r = glm.get_length_controlled_winrate(df.copy(), save_weights_dir=None)
        out[model] = {"win_rate": r["win_rate"], "standard_error": r["standard_error"],
                      "lc_win_rate": r["length_controlled_winrate"],
                      "lc_standard_error": r["lc_standard_error"],
                      "C": chosen[-1] if len(chosen) > n_before else np.nan}
    return pd.DataFrame(out).T, time.perf_counter() - t0, time.process_time() - c0


def run_preflab(frames: dict[str, pd.DataFrame], solver: str = "liblinear"
                ) -> tuple[pd.DataFrame, float, float]:
    """The same unit of work through ``win_rate_board`` (the library verb behind
    ``preflab winrate --length-controlled --gamed``): lengths from the texts, win rates, and
    the LC GLMs of all models (fitted in one batch), difficulty from the gamed file."""
    from preflab.rank._winrate import (
        AlpacaEvalAnnotations,
        ModelAnnotations,
        read_gamed,
        win_rate_board,
    )

    t0, c0 = time.perf_counter(), time.process_time()
    gamed = read_gamed(LC / "gamed_annotations.csv")
    models = []
    for model, df in frames.items():
        n = len(df)
        models.append(ModelAnnotations(
            model,
            df["preference"].to_numpy(dtype=float),
            df["output_1"].str.len().to_numpy(np.int64),  # as AlpacaEval measures them
            df["output_2"].str.len().to_numpy(np.int64), np.arange(n),
            df["instruction"].astype(int).to_numpy(np.int64), np.arange(n)))
    logging.disable(logging.WARNING)
    board = win_rate_board(AlpacaEvalAnnotations(BASELINE, None, tuple(models), 0),
                           length_controlled=True, gamed=gamed, solver=solver)
    logging.disable(logging.NOTSET)
    t1, c1 = time.perf_counter(), time.process_time()
    out = {r.model: {"win_rate": r.win_rate, "standard_error": r.standard_error,
                            "lc_win_rate": r.lc_win_rate, "lc_standard_error": r.lc_standard_error,
                            "C": r.lc_C} for r in board.models}
    return pd.DataFrame(out).T.loc[list(frames)], t1 - t0, c1 - c0


def estimated_path(ae: pd.DataFrame) -> pd.DataFrame:
    """LC without lc_inputs (difficulty estimated from the 60 models, no gamed rows)."""
    from preflab.rank._winrate import AlpacaEvalAnnotations, ModelAnnotations, win_rate_board

    t = pd.read_parquet(DATA / "alpacaeval" / "annotations.parquet")
    models = []
    for model, g in t.groupby("model", sort=False):
        n = len(g)
        models.append(ModelAnnotations(str(model), g.preference.to_numpy(float),
                                        g.len_baseline.to_numpy(np.int64),
                                        g.len_model.to_numpy(np.int64), np.arange(n),
                                        g.instruction_index.to_numpy(np.int64), np.arange(n)))
    logging.disable(logging.WARNING)
    board = win_rate_board(AlpacaEvalAnnotations(BASELINE, None, tuple(models), 0),
                           length_controlled=True)
    logging.disable(logging.NOTSET)
    est = pd.Series({r.model: r.lc_win_rate for r in board.models})
    return pd.DataFrame({"estimated": est, "alpaca_eval_lc_inputs": ae["lc_win_rate"]})


def arena_hard_widths(n_rounds: int = 1000) -> None:
    from preflab.rank._arena_hard import arena_hard_scores, read_arena_hard

    d = DATA / "arenahard"
    b = read_arena_hard(str(d / "battles.parquet"), answers_meta=str(d / "answers_meta.parquet"))
    board = arena_hard_scores(b, n_rounds=n_rounds, rng=0)
    ref = pd.read_csv(d / "reference_5_models.csv", index_col=0)
    print(f"\nArena-Hard (battles.parquet, {n_rounds} rounds each bootstrap, seed 0)")
    print(f"{'model':48s} {'score':>7s} {'row CI':>15s} {'question CI':>15s} {'ratio':>6s}")
    for r in board.models:
        if r.model == b.baseline:
            continue
        ratio = (r.question_ci_high - r.question_ci_low) / (r.ci_high - r.ci_low)
        print(f"{r.model:48s} {r.score:7.2f} {r.ci_low:6.2f}–{r.ci_high:6.2f}  "
              f"{r.question_ci_low:6.2f}–{r.question_ci_high:6.2f} {ratio:6.2f}")
    print(f"mean width ratio question/row: {board.width_ratio:.3f}  -> the row bootstrap's "
          f"intervals are {100 * (1 - 1 / board.width_ratio):.1f}% narrower")
    got = {r.model: r.score for r in board.models}
    for m in ("gpt-4-0314", "gpt-3.5-turbo-0125"):
        print(f"published {m}: {ref.loc[m, 'score']:.2f}, ours {got[m]:.3f}, "
              f"diff {got[m] - ref.loc[m, 'score']:+.3f}")
    print(f"README gpt-4-0613: 37.9, ours {got['gpt-4-0613']:.3f}")


def main() -> None:
    warnings.filterwarnings("ignore")
    frames = per_model_frames()
    print(f"{len(frames)} models, AlpacaEval {importlib.metadata.version('alpaca-eval')}, "
          f"scikit-learn {importlib.metadata.version('scikit-learn')}")
    warm = dict(list(frames.items())[:3])
    run_preflab(warm)  # warm-up (imports, caches) for both
    run_alpaca_eval(warm)
    ae_runs = [run_alpaca_eval(frames) for _ in range(2)]
    ae = ae_runs[0][0]
    t_ae, c_ae = min(r[1] for r in ae_runs), min(r[2] for r in ae_runs)
    ours_runs = [run_preflab(frames) for _ in range(3)]
    ours = ours_runs[0][0]
    t_ours, c_ours = min(r[1] for r in ours_runs), min(r[2] for r in ours_runs)
    load = os.getloadavg()[0]
    print(f"wall: AlpacaEval {t_ae:.2f} s (best of 2), preflab {t_ours:.3f} s (best of 3): "
          f"speed-up {t_ae / t_ours:.1f}x")
    print(f"CPU:  AlpacaEval {c_ae:.2f} s (best of 2), preflab {c_ours:.3f} s (best of 3): "
          f"speed-up {c_ae / c_ours:.1f}x   (load average {load:.1f} on {os.cpu_count()} cores)")
    for col in ("win_rate", "standard_error", "lc_win_rate", "lc_standard_error"):
        d = (ours[col] - ae[col]).abs()
        print(f"max |diff| {col:18s} {d.max():.2e}  ({d.idxmax()})   models > 1e-6: "
              f"{int((d > 1e-6).sum())}")
    same_c = (ours["C"].round(6) == ae["C"].round(6)) | (ours["C"].isna() & ae["C"].isna())
    print(f"CV chose the same C for {int(same_c.sum())}/{len(ae)} models")
    exact, t_ex, c_ex = min((run_preflab(frames, "exact") for _ in range(2)), key=lambda r: r[2])
    d = (exact["lc_win_rate"] - ae["lc_win_rate"]).abs()
    same_ex = (exact["C"].round(6) == ae["C"].round(6)) | (exact["C"].isna() & ae["C"].isna())
    print(f"solver='exact' (each fit at its optimum): CPU {c_ex:.3f} s; same C for "
          f"{int(same_ex.sum())}/{len(ae)} models; max |diff| LC {d.max():.3f} ({d.idxmax()}), "
          f"where C agrees {d[same_ex].max():.3f}")
    # the exact solver is AlpacaEval's estimator run to convergence: tighten liblinear's tol
    glm, _ = _alpaca_eval()
    kwargs = glm.GLM_INFO["length_controlled_v1"]["kwargs"]
    kwargs.update(tol=1e-10, max_iter=1000)
    try:
        tight = run_alpaca_eval(frames)[0]
    finally:
        del kwargs["tol"], kwargs["max_iter"]
    d = (exact["lc_win_rate"] - tight["lc_win_rate"]).abs()
    same_t = (exact["C"].round(6) == tight["C"].round(6)) | (exact["C"].isna()
                                                              & tight["C"].isna())
    print(f"  vs AlpacaEval with liblinear tol=1e-10: same C for {int(same_t.sum())}/{len(ae)} "
          f"models, max |diff| LC {d.max():.1e} ({d.idxmax()}), LC SE "
          f"{(exact['lc_standard_error'] - tight['lc_standard_error']).abs().max():.1e}")
    est = estimated_path(ae)
    d = est["estimated"] - est["alpaca_eval_lc_inputs"]
    print("\nestimated-difficulty path (no lc_inputs) vs AlpacaEval with lc_inputs:")
    print(f"  median |diff| {d.abs().median():.2f}, 90th pct {d.abs().quantile(0.9):.2f}, "
          f"max {d.abs().max():.2f} ({d.abs().idxmax()})")
    ref = pd.read_csv(DATA / "alpacaeval" / "reference_5_models.csv", index_col=0)
    for m, r in ref.iterrows():
        e = est.loc[m, "estimated"]
        print(f"  {m}: published {r.length_controlled_winrate:.2f}, estimated path "
              f"{e:.2f} ({e - r.length_controlled_winrate:+.2f})")
    arena_hard_widths()


if __name__ == "__main__":
    main()
