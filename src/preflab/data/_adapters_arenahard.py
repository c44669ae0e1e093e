"""Adapter for Arena-Hard-Auto judgments [ArenaHard24]_.

Arena-Hard judges every question twice with the answers' positions swapped: in game 1 the
baseline is assistant A and the model B, in game 2 the model is A. Each game's verdict is one of
``A>>B, A>B, A=B, B>A, B>>A``; arena-hard's ``show_result.py`` counts a strong verdict (``>>``)
as 3 battles and the others as 1. Here each game is one comparison **in the positions shown to
the judge** (game 2 has ``model_a`` = the model), with ``weight`` 3 for strong verdicts
(``strong_weight``) and 1 otherwise; the extra columns ``game`` and ``label`` keep the verdict.
Any other label (``A>>A``, ``A<B``, an unparsed game) is invalid, never guessed.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab.data._adapters_base import (
    RAW_WINNER,
    ROW,
    SKIP_HINT,
    AdapterOptions,
    Candidate,
    Problem,
    as_string,
    require,
    to_array,
)

LABELS: dict[str, tuple[str, bool]] = {
    "A>>B": ("model_a", True), "A>B": ("model_a", False), "A=B": ("tie", False),
    "B>A": ("model_b", False), "B>>A": ("model_b", True),
}
"""Arena-Hard verdicts -> (winner in the game's own positions, strong)."""

DEFAULT_BASELINE = "gpt-4-0314"
"""Arena-Hard-Auto v0.1's baseline; the judgment JSONL does not name it (``--baseline``)."""

_STYLE = {"tokens": "len_{who}", "headers": "n_headers_{who}", "lists": "n_list_items_{who}",
          "bold": "n_bold_{who}"}


def _games_from_jsonl(raw: pa.Table) -> dict[str, pa.Array]:
    games = to_array(raw.column("games"))
    offsets = games.offsets.to_numpy()
    lengths = np.diff(offsets)
    parent = np.repeat(np.arange(raw.num_rows, dtype=np.int64), lengths)
    game_no = np.arange(len(parent), dtype=np.int64) - np.repeat(offsets[:-1], lengths) + 1
    flat = games.flatten()
    if pa.types.is_struct(flat.type) and flat.type.get_field_index("score") >= 0:
        label = pc.struct_field(flat, ["score"]).cast(pa.string())
    else:
        label = pa.nulls(len(flat), pa.string())
    return {ROW: pa.array(parent), "game": pa.array(game_no), "label": to_array(label)}


def arena_hard(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """Arena-Hard judgments, from either shape.

    - Arena-Hard's judgment JSONL (``question_id, model, judge, games: [{score: "A>B", ...},
      ...]``): game *k* is the *k*-th element of ``games``; the baseline is ``--baseline``
      (default ``gpt-4-0314``) or a ``baseline`` column.
    - One row per game (``model, question_id, game, label`` [+ ``judge, baseline,
      model_position``, style columns ``len_model, n_headers_model, ...``]) as in
      ``../shared/data/arenahard/judgments.parquet``; ``model_position`` (``A``/``B``) wins
      over ``game`` to place the model. Style lengths there are in characters.
    - A battles table (``model_a, model_b, winner``), as arena-hard's ``show_result.py``
      writes it, is read by the ``arena`` adapter instead.

    ``(question_id, model, game, judge)`` must be unique.
    """
    if "games" in raw.column_names:
        require(raw, ["question_id", "model", "games"], path, "arena-hard",
                "Arena-Hard judgment files have question_id, model and games.")
        g = _games_from_jsonl(raw)
        rows = g[ROW]
        label = g["label"]
        game = g["game"]
        label_field = "games.score"
    else:
        require(raw, ["question_id", "model", "game", "label"], path, "arena-hard",
                "Per-game Arena-Hard rows need question_id, model, game and label.")
        rows = pa.array(np.arange(raw.num_rows, dtype=np.int64))
        label = to_array(as_string(raw.column("label")))
        game = to_array(raw.column("game")).cast(pa.int64())
        label_field = "label"

    def take(name: str) -> pa.Array:
        return to_array(raw.column(name)).take(rows)

    model = to_array(as_string(take("model")))
    if "baseline" in raw.column_names:
        baseline = to_array(as_string(take("baseline")))
        if opts.baseline:
            baseline = pc.coalesce(baseline, pa.scalar(opts.baseline))
    else:
        baseline = pa.array([opts.baseline or DEFAULT_BASELINE] * len(rows), pa.string())
    if "model_position" in raw.column_names:
        model_is_a = pc.equal(to_array(as_string(take("model_position"))), "A")
    else:
        model_is_a = pc.equal(game, 2)
    model_is_a = model_is_a.fill_null(False)
    keys = pa.array(list(LABELS), pa.string())
    idx = pc.index_in(pc.utf8_trim_whitespace(label), value_set=keys)
    winners = pa.array([w for w, _ in LABELS.values()], pa.string())
    strong = pa.array([s for _, s in LABELS.values()], pa.bool_())
    weight = pc.if_else(pc.take(strong, idx), opts.strong_weight, 1.0)
    cols: dict[str, pa.Array] = {
        ROW: rows,
        "prompt_id": to_array(as_string(take("question_id"))),
        "model_a": pc.if_else(model_is_a, model, baseline),
        "model_b": pc.if_else(model_is_a, baseline, model),
        "winner": pc.take(winners, idx),
        RAW_WINNER: label,
        "weight": pc.coalesce(weight, 1.0),
    }
    if "judge" in raw.column_names:
        cols["judge"] = to_array(as_string(take("judge")))
    if "category" in raw.column_names:
        cols["category"] = to_array(as_string(take("category")))
    for feature, pattern in _STYLE.items():
        m_col, b_col = pattern.format(who="model"), pattern.format(who="baseline")
        if m_col in raw.column_names and b_col in raw.column_names:
            m = take(m_col).cast(pa.float64())
            b = take(b_col).cast(pa.float64())
            cols[f"style_a_{feature}"] = pc.if_else(model_is_a, m, b)
            cols[f"style_b_{feature}"] = pc.if_else(model_is_a, b, m)
    cols["game"] = game
    cols["label"] = label
    cols["_model"] = model
    table = pa.table(cols)
    unknown = pc.is_null(idx)
    empty = np.asarray(pc.is_null(label).to_numpy(zero_copy_only=False), dtype=bool)
    bad = np.asarray(unknown.to_numpy(zero_copy_only=False), dtype=bool) & ~empty
    reason_empty = "no verdict (the judge's answer was not parsed)"
    if "label_ambiguous" in raw.column_names:
        amb = np.asarray(take("label_ambiguous").fill_null(False).to_numpy(zero_copy_only=False),
                         dtype=bool)
        if (empty & amb).any():
            reason_empty = ("no verdict (or label_ambiguous=True: the game's verdict cannot be "
                            "recovered from the battle rows)")
    fix = f"Re-judge the game or fix its verdict (labels are never guessed), {SKIP_HINT}"
    problems = (
        Problem(mask=empty, field=label_field, reason=reason_empty, fix=fix),
        Problem(mask=bad, field=label_field,
                reason="'{value}' is not an Arena-Hard verdict (A>>B, A>B, A=B, B>A, B>>A)",
                fix=fix, values=label),
    )
    unique_cols = ["prompt_id", "_model", "game"] + (["judge"] if "judge" in cols else [])
    return Candidate(
        table, fields={"prompt_id": "question_id", "model_a": "model", "model_b": "model",
                       "winner": label_field},
        problems=problems, unique=((tuple(unique_cols), "(question_id, model, game, judge)"),),
        winner_fix=f"Fix the label, {SKIP_HINT}", extras=("game", "label"))
