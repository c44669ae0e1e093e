"""What every adapter shares: options, the candidate table it hands to validation, helpers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError

SKIP_HINT = "or keep going with --skip-invalid rejects.jsonl."
ROW = "_row"
"""Candidate column holding the 0-based row of the input file each comparison came from."""
RAW_WINNER = "_winner_raw"
"""Candidate column holding the winner label as written in the input (for messages)."""


@dataclass(frozen=True, slots=True)
class AdapterOptions:
    """Options shared by the adapters; each adapter reads the ones that concern it.

    Column names (``model_a``, ``model_b``, ``winner``, ``prompt_id``, ``judge``, ``weight``,
    ``id_column``) name columns of the *input*; ``None`` means the format's default.
    """

    model_a: str | None = None
    model_b: str | None = None
    winner: str | None = None
    winner_map: Mapping[str, str] | None = None
    prompt_id: str | None = None
    judge: str | None = None
    judge_prefix: str = ""
    weight: str | None = None
    id_column: str | None = None
    baseline: str | None = None
    strong_weight: float = 3.0
    chosen_model: str = "chosen"
    rejected_model: str = "rejected"

    @property
    def uses_column_map(self) -> bool:
        return any(v is not None for v in (self.model_a, self.model_b, self.winner))


@dataclass(frozen=True, slots=True)
class Problem:
    """Rows an adapter already knows are bad (e.g. an unparsable label), before generic checks."""

    mask: np.ndarray  # bool over candidate rows
    field: str  # input field named in the message
    reason: str  # may contain {value}
    fix: str
    values: pa.Array | None = None  # per candidate row, shown as {value}
    fatal: bool = True  # False: rejected even in strict mode (a documented convention, logged)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An adapter's output before validation.

    ``table`` holds comparisons-schema columns plus extras and the helper columns ``_row``
    (input row) and ``_winner_raw``; ``fields`` maps candidate columns to the input columns
    named in messages; ``unique`` lists candidate column groups that must not repeat
    (with the input field to name); ``responses`` is the texts table when the input has texts.
    """

    table: pa.Table
    fields: Mapping[str, str]
    problems: tuple[Problem, ...] = ()
    unique: tuple[tuple[tuple[str, ...], str], ...] = ()
    responses: pa.Table | None = None
    winner_fix: str = ""
    extras: tuple[str, ...] = field(default=())
    generated_prompt_ids: bool = False  # every prompt_id is a generated row:<n> (never blank)


def parse_winner_map(spec: str | Mapping[str, str] | None) -> dict[str, str] | None:
    """``"left=model_a,right=model_b,tie=tie"`` -> ``{"left": "model_a", ...}``."""
    if spec is None or isinstance(spec, Mapping):
        return dict(spec) if spec is not None else None
    out: dict[str, str] = {}
    for part in spec.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise DataError(
                f"winner map entry '{part}' has no '='", field="winner_map",
                fix="Write it as LABEL=WINNER pairs, e.g. "
                    "--winner-map left=model_a,right=model_b,tie=tie.",
            )
        label, target = part.rsplit("=", 1)
        out[label.strip()] = target.strip()
    return out


def require(table: pa.Table, columns: list[str], path: str, fmt: str, fix: str) -> None:
    """Raise a :class:`DataError` naming the first missing column."""
    for c in columns:
        if c not in table.column_names:
            raise DataError(
                f"missing column '{c}' needed by the {fmt} format "
                f"(the file has {', '.join(table.column_names) or 'no columns'})",
                path=path, field=c, fix=fix,
            )


def as_text(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Like :func:`as_string`, but string dictionaries stay dictionary-encoded (fast checks)."""
    arr = to_array(col)
    if pa.types.is_dictionary(arr.type) and pa.types.is_string(arr.type.value_type):
        return arr
    return to_array(as_string(arr))


def as_string(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Any scalar column as text (integers as their decimal form, large_string as string)."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_floating(col.type):
        # 3.0 -> "3", not "3.0": ids read from CSV/JSON often come as floats.
        as_int = pc.cast(col, pa.int64(), safe=False)
        whole = pc.equal(pc.cast(as_int, col.type), col)
        return pc.if_else(whole, as_int.cast(pa.string()), col.cast(pa.string()))
    return col.cast(pa.string())


def row_ids(n: int, prefix: str = "row:") -> pa.Array:
    """Generated prompt ids ``row:0``, ``row:1``, ... for inputs without one (stable per file).

    Built directly as an Arrow string buffer: numbers with the same count of digits form a
    contiguous block of fixed-width strings, filled column by column with numpy.
    """
    head = np.frombuffer(prefix.encode(), dtype=np.uint8)
    blocks: list[tuple[int, int, int]] = []  # (first number, end, width)
    lo, digits = 0, 1
    while lo < n:
        hi = min(n, 10**digits)
        blocks.append((lo, hi, len(head) + digits))
        lo, digits = hi, digits + 1
    total = sum((hi - lo) * w for lo, hi, w in blocks)
    large = total >= 2**31 - 1
    buf = np.empty(total, dtype=np.uint8)
    offsets = np.empty(n + 1, dtype=np.int64 if large else np.int32)
    offsets[n] = total
    start = 0
    for lo, hi, width in blocks:
        count = hi - lo
        block = buf[start:start + count * width].reshape(count, width)
        block[:, : len(head)] = head
        for k in range(width - len(head)):
            # digit k of consecutive numbers: each of 0..9 repeated 10**k times, cycling
            period = np.repeat(np.arange(48, 58, dtype=np.uint8), 10**k)
            shift = (lo // 10**k) % 10 * 10**k
            block[:, -1 - k] = np.resize(np.roll(period, -shift), count)
        offsets[lo:hi] = np.arange(start, start + count * width, width, dtype=offsets.dtype)
        start += count * width
    typ = pa.large_string() if large else pa.string()
    return pa.Array.from_buffers(typ, n, [None, pa.py_buffer(offsets), pa.py_buffer(buf)])


def fill_prompt_ids(col: pa.ChunkedArray | pa.Array, rows: pa.Array) -> pa.Array:
    """``col`` with nulls replaced by ``row:<input row>``."""
    text = to_array(as_string(col))
    if text.null_count == 0:
        return text
    generated = pc.binary_join_element_wise("row:", rows.cast(pa.string()), "")
    return pc.coalesce(text, generated)


def map_labels(raw: pa.ChunkedArray | pa.Array, mapping: Mapping[str, str]) -> pa.Array:
    """Map labels through ``mapping``; others are kept as they are (validation names them).

    Dictionary-encoded input stays dictionary-encoded (only the dictionary is mapped).
    """
    arr = to_array(raw)
    if pa.types.is_dictionary(arr.type) and pa.types.is_string(arr.type.value_type):
        return pa.DictionaryArray.from_arrays(arr.indices, map_labels(arr.dictionary, mapping))
    raw = as_string(raw)
    if not mapping:
        return raw.combine_chunks() if isinstance(raw, pa.ChunkedArray) else raw
    keys = pa.array(list(mapping.keys()), pa.string())
    values = pa.array(list(mapping.values()), pa.string())
    idx = pc.index_in(raw, value_set=keys)
    mapped = pc.take(values, idx)
    return pc.coalesce(mapped, raw)


def to_array(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col


def sum_struct(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Sum of a struct's numeric children (e.g. FastChat's ``header_count_a`` {h1..h6})."""
    arr = to_array(col)
    if not pa.types.is_struct(arr.type):
        return arr.cast(pa.float64())
    total: pa.Array | None = None
    for i in range(arr.type.num_fields):
        child = sum_struct(pc.struct_field(arr, [i]))
        total = child if total is None else pc.add(total, child)
    if total is None:
        return pa.nulls(len(arr), pa.float64())
    # a null struct is a null count, not zero
    return pc.if_else(pc.is_null(arr), pa.scalar(None, pa.float64()), total)


def cast_column(raw: pa.Table, name: str, typ: pa.DataType, path: str) -> pa.Array:
    """Column ``name`` cast to ``typ`` (strings to ``typ`` via parsing); a clear error otherwise."""
    col = to_array(raw.column(name))
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if pa.types.is_string(typ):
        return to_array(as_string(col))
    try:
        return col.cast(typ)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        row, value = _first_uncastable(col, typ)
        raise DataError(
            f"{value!r} cannot be read as {typ}" if row is not None
            else f"column cannot be read as {typ}: {exc}",
            path=path, row=row, field=name,
            fix=f"Make every value of '{name}' a {typ} (or empty), or rename the column.",
        ) from exc


def _first_uncastable(col: pa.Array, typ: pa.DataType) -> tuple[int | None, object]:
    """The first value of ``col`` that does not cast to ``typ`` (only on the error path)."""
    step = 1 << 16
    for start in range(0, len(col), step):
        chunk = col.slice(start, step)
        try:
            chunk.cast(typ)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            for i in range(len(chunk)):
                try:
                    chunk.slice(i, 1).cast(typ)
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                    return start + i, chunk[i].as_py()
    return None, None
