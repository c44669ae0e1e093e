"""Reader of Arena-Hard battles and judgments (show_result.py battle table, judgment JSONL,
per-game tables), with the answers' style features; every bad row is reported with its place.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from preflab._errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class ArenaHardBattles:
    """Battle rows against the baseline, aggregated into (question, model, outcome) cells.

    ``outcome`` is the model's result (1 win, 0.5 tie, 0 loss) and ``count`` the number of
    battle rows. ``style`` holds, per cell, the baseline's and the model's (length, headers,
    lists, bold) as ``(cells, 2, 4)`` or is ``None``. ``lengths`` is each model's mean answer
    length in ``length_unit`` (``NaN`` when unknown).
    """

    baseline: str
    models: tuple[str, ...]
    questions: tuple[str, ...]
    question: IntArray
    model: IntArray
    outcome: FloatArray
    count: FloatArray
    style: FloatArray | None
    lengths: FloatArray
    length_unit: str
    notes: tuple[str, ...] = ()


def check_star(model_a: list[object], model_b: list[object], baseline: str,
               path: str | None = None) -> None:
    """Raise unless every battle has the baseline on exactly one side."""
    for i, (a, bb) in enumerate(zip(model_a, model_b, strict=True)):
        if (a == baseline) == (bb == baseline):
            raise DataError(
                f"battle between '{a}' and '{bb}': Arena-Hard battles pit every model against "
                f"the baseline '{baseline}'", path=path, row=i, field="model_a",
                fix="Pass the right --baseline, or rank general pairs with `preflab rank`.")


_LABEL = {"A>>B": ("A", 3), "A>B": ("A", 1), "A=B": ("=", 1), "B=A": ("=", 1), "B>A": ("B", 1),
          "B>>A": ("B", 3), "A<B": ("B", 1), "A<<B": ("B", 3), "B<A": ("A", 1),
          "B<<A": ("A", 3)}
_STYLE_COLS = ("len", "n_headers", "n_list_items", "n_bold")


def read_arena_hard(
    path: str,
    *,
    baseline: str = "gpt-4-0314",
    answers_meta: str | None = None,
    strong_weight: int = 3,
) -> ArenaHardBattles:
    """Read Arena-Hard battles or judgments into :class:`ArenaHardBattles`.

    Accepted layouts (detected from the columns):

    * the battle table of Arena-Hard's ``show_result.py`` (``question_id, model_a, model_b,
      winner``; one row per battle row, strong verdicts already tripled);
    * Arena-Hard judgment JSONL (``question_id, model, games`` with ``games[k]["score"]`` a
      label such as ``A>>B``; game 1 has the baseline as A, game 2 the model as A);
    * a per-game table (``model, question_id, game, label, model_position``), e.g. the shared
      ``judgments.parquet``; where it carries the exact per-question battle-row counts
      (``n_battle_rows_model_win/baseline_win/tie``) those are used.

    Unparseable labels (Arena-Hard silently gives them weight 0) are left out *and counted* in
    ``notes``. Style features come from the per-game table's ``len_*``/``n_*_model`` and
    ``*_baseline`` columns, or from ``answers_meta`` (``model, question_id, len_chars`` or
    ``token_len``, ``n_headers, n_bold, n_list_items``).
    """
    from preflab.data._io import read_table

    t = read_table(path).to_pandas()
    cols = set(t.columns)
    cells: dict[tuple[str, str, float], float] = {}
    notes: list[str] = []

    def add(q: str, m: str, y: float, n: float) -> None:
        if n:
            cells[(q, m, y)] = cells.get((q, m, y), 0.0) + n

    if {"model_a", "model_b", "winner"} <= cols and "question_id" in cols:
        check_star(t["model_a"].tolist(), t["model_b"].tolist(), baseline, path)
        for i, (q, a, bb, w) in enumerate(zip(t["question_id"], t["model_a"], t["model_b"],
                                               t["winner"], strict=True)):
            model, model_side = (bb, "model_b") if a == baseline else (a, "model_a")
            if w in ("tie", "tie (bothbad)", "tie_bothbad"):
                y = 0.5
            elif w in ("model_a", "model_b"):
                y = 1.0 if w == model_side else 0.0
            else:
                raise DataError(f"winner '{w}' is not model_a, model_b or tie", path=path, row=i,
                                field="winner", fix="Use the battle table of show_result.py.")
            add(str(q), str(model), y, 1.0)
    elif {"games", "model", "question_id"} <= cols:
        bad = 0
        for q, m, games in zip(t["question_id"], t["model"], t["games"], strict=True):
            for k, game in enumerate(list(games)[:2]):
                label = game.get("score") if isinstance(game, dict) else None
                side_n = _LABEL.get(str(label)) if label is not None else None
                if side_n is None:
                    bad += 1
                    continue
                model_letter = "B" if k == 0 else "A"
                side, n = side_n
                y = 0.5 if side == "=" else (1.0 if side == model_letter else 0.0)
                add(str(q), str(m), y, float(strong_weight if n == 3 else 1))
        if bad:
            notes.append(f"{bad} games without a parseable verdict were left out (as Arena-Hard)")
    elif {"model", "question_id", "label", "model_position"} <= cols:
        bad = 0
        exact = [c for c in ("n_battle_rows_model_win", "n_battle_rows_baseline_win",
                             "n_battle_rows_tie") if c in cols]
        for (m, q), g in t.groupby(["model", "question_id"], sort=False):
            if len(exact) == 3 and g[exact[0]].notna().any():
                r = g[g[exact[0]].notna()].iloc[0]
                add(str(q), str(m), 1.0, float(r[exact[0]]))
                add(str(q), str(m), 0.0, float(r[exact[1]]))
                add(str(q), str(m), 0.5, float(r[exact[2]]))
                continue
            for label, pos in zip(g["label"], g["model_position"], strict=True):
                side_n = _LABEL.get(str(label)) if isinstance(label, str) else None
                if side_n is None:
                    bad += 1
                    continue
                side, n = side_n
                y = 0.5 if side == "=" else (1.0 if side == pos else 0.0)
                add(str(q), str(m), y, float(strong_weight if n == 3 else 1))
        if bad:
            notes.append(f"{bad} games without a parseable verdict were left out (as Arena-Hard)")
    else:
        raise DataError("not an Arena-Hard battle or judgment file", path=path,
                        fix="Expected question_id/model_a/model_b/winner (battles), "
                            "question_id/model/games (judgment JSONL) or "
                            "model/question_id/label/model_position (per-game table).")
    if not cells:
        raise DataError("no battles against the baseline", path=path,
                        fix=f"Check --baseline (now '{baseline}').")
    keys = list(cells)
    models = tuple(dict.fromkeys([baseline] + [k[1] for k in keys]))
    questions = tuple(dict.fromkeys(k[0] for k in keys))
    mi = {m: i for i, m in enumerate(models)}
    qi = {q: i for i, q in enumerate(questions)}
    question = np.array([qi[k[0]] for k in keys], dtype=np.int64)
    model = np.array([mi[k[1]] for k in keys], dtype=np.int64)
    style, lengths, unit = _style_features(t, cols, keys, models, baseline, answers_meta, path)
    return ArenaHardBattles(baseline, models, questions, question, model,
                            np.array([k[2] for k in keys]), np.array([cells[k] for k in keys]),
                            style, lengths, unit, tuple(notes))


def _style_features(t: object, cols: set[str], keys: list[tuple[str, str, float]],
                    models: tuple[str, ...], baseline: str, answers_meta: str | None,
                    path: str) -> tuple[FloatArray | None, FloatArray, str]:
    import pandas as pd

    table: dict[tuple[str, str], list[float]] = {}
    unit = "chars"
    if answers_meta is not None:
        from preflab.data._io import read_table

        a = read_table(answers_meta).to_pandas()
        len_col = "token_len" if "token_len" in a.columns else "len_chars"
        unit = "tokens" if len_col == "token_len" else "chars"
        need = ["model", "question_id", len_col, "n_headers", "n_list_items", "n_bold"]
        miss = [c for c in need if c not in a.columns]
        if miss:
            raise DataError(f"answers metadata lacks {', '.join(miss)}", path=answers_meta,
                            field=miss[0], fix="Columns: model, question_id, len_chars (or "
                                               "token_len), n_headers, n_bold, n_list_items.")
        for r in a[need].itertuples(index=False):
            table[(str(r[0]), str(r[1]))] = [float(v) for v in r[2:]]
    elif {"len_model", "len_baseline", "n_headers_model", "n_list_items_model",
          "n_bold_model"} <= cols:
        df = t if isinstance(t, pd.DataFrame) else pd.DataFrame(t)
        for r in df.drop_duplicates(["model", "question_id"]).itertuples(index=False):
            d = r._asdict()
            table[(str(d["model"]), str(d["question_id"]))] = [
                float(d[f"{c}_model"]) for c in ("len", "n_headers", "n_list_items", "n_bold")]
            table[(baseline, str(d["question_id"]))] = [
                float(d[f"{c}_baseline"]) for c in ("len", "n_headers", "n_list_items",
                                                    "n_bold")]
    lengths = np.full(len(models), np.nan)
    for i, m in enumerate(models):
        vals = [v[0] for (mm, _), v in table.items() if mm == m]
        if vals:
            lengths[i] = float(np.mean(vals))
    if not table:
        return None, lengths, unit
    style = np.empty((len(keys), 2, 4))
    for c, (q, m, _) in enumerate(keys):
        fb, fm = table.get((baseline, q)), table.get((m, q))
        if fb is None or fm is None or any(v != v for v in (fb + fm)):
            who = baseline if fb is None else m
            raise DataError(f"no style features for model '{who}' on question '{q}'",
                            path=answers_meta or path, field="question_id",
                            fix="Give answers metadata for every judged answer, or run "
                                "without --style-control.")
        style[c, 0], style[c, 1] = fb, fm
    return style, lengths, unit
