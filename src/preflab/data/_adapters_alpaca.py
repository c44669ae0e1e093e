"""Adapter for AlpacaEval annotations (``annotations.json`` columns) [AlpacaEval23]_, [LCAE24]_."""

from __future__ import annotations

import hashlib
import logging

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
    row_ids,
    to_array,
)
from preflab.data._markdown import char_lengths, markdown_counts

log = logging.getLogger(__name__)

PREFERENCE = "preference"
"""Extra column kept on the comparisons table: AlpacaEval's exact preference value."""


def _prompt_hash(texts: pa.Array) -> pa.Array:
    out = [None if t is None else "sha256:" + hashlib.sha256(t.encode()).hexdigest()[:16]
           for t in texts.to_pylist()]
    return pa.array(out, pa.string())


def winners_from_preference(pref: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Map preferences to winners; returns ``(winner, invalid_mask)``.

    ``p`` in [1, 1.5) -> ``model_a`` (``output_1``), ``p == 1.5`` -> ``tie``, ``p`` in (1.5, 2]
    -> ``model_b``; the legacy discrete code 0 is a tie (1 and 2 fall in the ranges above).
    Anything else (null, NaN, outside {0} u [1, 2]) is invalid.
    """
    p = pref.cast(pa.float64())
    valid = pc.or_kleene(pc.equal(p, 0.0),
                         pc.and_kleene(pc.greater_equal(p, 1.0), pc.less_equal(p, 2.0)))
    valid_np = np.asarray(valid.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    tie = pc.or_kleene(pc.equal(p, 0.0), pc.equal(p, 1.5))
    winner = pc.if_else(tie, "tie", pc.if_else(pc.greater(p, 1.5), "model_b", "model_a"))
    winner = pc.if_else(pa.array(valid_np), winner, pa.scalar(None, pa.string()))
    return to_array(winner), ~valid_np


def alpacaeval(raw: pa.Table, path: str, opts: AdapterOptions) -> Candidate:
    """AlpacaEval annotations: ``generator_1, generator_2, preference`` (+ ``output_1/2``...).

    - ``model_a`` = ``generator_1`` (the baseline, shown as output 1), ``model_b`` =
      ``generator_2``; ``judge`` = ``annotator`` when present; ``category`` = ``dataset``.
    - ``winner`` from the preference (see :func:`winners_from_preference`): above 1.5 the
      model (``model_b``) wins, below 1.5 the baseline, exactly 1.5 (or legacy 0) is a tie.
    - The exact preference is kept in the extra float column ``preference`` (no ``weight`` is
      set), so AlpacaEval's soft win rate of ``model_b`` against ``model_a`` is
      ``100 * mean(preference - 1)`` over its rows with standard error ``100 * sem(...)``, as
      AlpacaEval's leaderboard computes it (legacy 0 counts as 1.5).
    - ``prompt_id`` = ``instruction_index`` when present, else ``sha256:<16 hex>`` of the
      ``instruction`` text, else ``row:<n>``.
    - Style features from the texts, when ``output_1``/``output_2`` are present:
      ``style_*_tokens`` is the length **in characters** (AlpacaEval's ``avg_length`` unit, not
      tokenizer tokens), ``style_*_headers/lists/bold`` the markdown counts of
      :mod:`preflab.data._markdown`.
    - ``responses``: one row per ``(prompt_id, model)`` with ``text`` and ``prompt``.

    Rows comparing the baseline with itself (AlpacaEval annotates the baseline against itself
    and lists it at 50%) are not comparisons: they are set aside as rejects even in strict
    mode (a logged warning; never an error), so ``kept + rejected`` still equals the input.

    Rows repeating an earlier row's ``(instruction, generator_1, generator_2, annotator)`` are
    kept (AlpacaEval scores result folders separately, and two folders may name the same
    generator) and logged as a warning.
    """
    require(raw, ["generator_1", "generator_2", PREFERENCE], path, "alpacaeval",
            "AlpacaEval annotations need generator_1, generator_2 and preference.")
    n = raw.num_rows
    names = raw.column_names
    pref = to_array(raw.column(PREFERENCE)).cast(pa.float64())
    winner, invalid = winners_from_preference(pref)
    cols: dict[str, pa.Array] = {
        ROW: pa.array(np.arange(n, dtype=np.int64)),
        "model_a": to_array(as_string(raw.column("generator_1"))),
        "model_b": to_array(as_string(raw.column("generator_2"))),
        "winner": winner,
        RAW_WINNER: pref.cast(pa.string()),
    }
    pid_field = "instruction_index"
    if opts.prompt_id and opts.prompt_id in names:
        cols["prompt_id"] = to_array(as_string(raw.column(opts.prompt_id)))
        pid_field = opts.prompt_id
    elif "instruction_index" in names:
        cols["prompt_id"] = to_array(as_string(raw.column("instruction_index")))
    elif "instruction" in names:
        cols["prompt_id"] = _prompt_hash(to_array(raw.column("instruction")).cast(pa.string()))
        pid_field = "instruction"
    else:
        cols["prompt_id"] = row_ids(n)
    if "annotator" in names:
        cols["judge"] = to_array(as_string(raw.column("annotator")))
    if "dataset" in names:
        cols["category"] = to_array(as_string(raw.column("dataset")))
    for side, out in (("a", "output_1"), ("b", "output_2")):
        if out in names:
            text = to_array(raw.column(out))
            cols[f"style_{side}_tokens"] = char_lengths(text)
            for feature, counts in markdown_counts(text).items():
                cols[f"style_{side}_{feature}"] = counts
    cols[PREFERENCE] = pref
    table = pa.table(cols)
    _warn_duplicates(table, raw, path)
    bad_pref = Problem(
        mask=invalid, field=PREFERENCE,
        reason="preference '{value}' is not in [1, 2] (or 0 for a tie)",
        fix=f"AlpacaEval preferences are P(output_2 preferred) + 1; fix the value, {SKIP_HINT}",
        values=pref.cast(pa.string()),
    )
    self_rows = np.asarray(pc.equal(cols["model_a"], cols["model_b"]).fill_null(False)
                           .to_numpy(zero_copy_only=False), dtype=bool)
    baseline_self = Problem(
        mask=self_rows, field="generator_2",
        reason="'{value}' is the baseline annotated against itself (AlpacaEval lists the "
               "baseline at 50%); not a comparison",
        fix="Nothing to do: these rows are set aside by convention and counted as rejects.",
        values=cols["model_b"], fatal=False,
    )
    return Candidate(table, fields={"model_a": "generator_1", "model_b": "generator_2",
                                    "winner": PREFERENCE, "prompt_id": pid_field},
                     problems=(bad_pref, baseline_self),
                     responses=_responses(raw, cols["prompt_id"]),
                     winner_fix=f"Fix the preference value, {SKIP_HINT}", extras=(PREFERENCE,))


def _warn_duplicates(table: pa.Table, raw: pa.Table, path: str) -> None:
    keys = [k for k in ("prompt_id", "model_a", "model_b", "judge") if k in table.column_names]
    groups = table.select(keys).group_by(keys, use_threads=False).aggregate([])
    if groups.num_rows < table.num_rows:
        log.warning("%s: %d rows repeat an earlier (%s); they are kept", path,
                    table.num_rows - groups.num_rows, ", ".join(keys))


def _responses(raw: pa.Table, prompt_id: pa.Array) -> pa.Table | None:
    names = raw.column_names
    if "output_1" not in names and "output_2" not in names:
        return None
    prompt = (to_array(raw.column("instruction")).cast(pa.string()) if "instruction" in names
              else pa.nulls(raw.num_rows, pa.string()))
    parts = []
    for gen, out in (("generator_1", "output_1"), ("generator_2", "output_2")):
        if out in names:
            parts.append(pa.table({
                ROW: pa.array(np.arange(raw.num_rows, dtype=np.int64)),
                "prompt_id": prompt_id, "model": to_array(as_string(raw.column(gen))),
                "text": to_array(raw.column(out)).cast(pa.string()), "prompt": prompt,
            }))
    return pa.concat_tables(parts)


def dedupe_responses(table: pa.Table) -> pa.Table:
    """First row of each ``(prompt_id, model)``, in input order."""
    idx = pa.array(np.arange(table.num_rows, dtype=np.int64))
    first = (table.select(["prompt_id", "model"]).append_column("_i", idx)
             .group_by(["prompt_id", "model"], use_threads=False).aggregate([("_i", "min")]))
    keep = np.sort(first.column("_i_min").to_numpy())
    return table.take(pa.array(keep))
