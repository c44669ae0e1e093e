"""Between the arena database and preflab's tables: load responses, export votes.

``load`` reads a responses table (``prompt_id, model`` and ``text`` and/or ``image``, optional
``prompt``, ``category``), checks every row and names the first bad one.  ``export`` writes
the pairwise votes as a comparisons table and the K-wise orderings as a rankings table, both
with ``judge = "human:<voter id>"`` so ``preflab rank`` reads them directly.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa

from preflab._errors import DataError
from preflab.arena._store import Store
from preflab.data._io import read_table
from preflab.data._schema import conform

_TEXT_COLS = ("prompt_id", "model", "text", "prompt", "image", "category")


def demo_responses() -> Path:
    """The bundled LLMFAO responses table (59 models, 13 prompts; CC BY 4.0, D. Ustalov)."""
    return Path(str(resources.files("preflab") / "sample" / "llmfao_responses.parquet"))


def response_rows(table: pa.Table, *, source: str = "responses",
                  base_dir: Path | None = None) -> list[dict[str, Any]]:
    """Validate a responses table and turn it into rows for the store.

    Relative image paths are resolved against ``base_dir`` (the table's directory).
    """
    for col in ("prompt_id", "model"):
        if col not in table.column_names:
            raise DataError(f"the responses table has no '{col}' column", path=source, field=col,
                            fix="A responses table needs prompt_id, model and text and/or image.")
    if "text" not in table.column_names and "image" not in table.column_names:
        raise DataError("the responses table has neither 'text' nor 'image'", path=source,
                        fix="Add a text column (model output) or an image column (path or URL).")
    cols = {c: table.column(c).to_pylist() for c in _TEXT_COLS if c in table.column_names}
    rows: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for i in range(table.num_rows):
        row: dict[str, Any] = {}
        for c in _TEXT_COLS:
            v = cols[c][i] if c in cols else None
            if v is not None and not isinstance(v, str):
                v = str(v)
            row[c] = v
        for c in ("prompt_id", "model"):
            if not row[c]:
                raise DataError(f"'{c}' is empty", path=source, row=i, field=c,
                                fix="Every response needs a prompt_id and a model.")
        if row["text"] is None and not row["image"]:
            raise DataError("the response has neither text nor image", path=source, row=i,
                            field="text", fix="Fill text or image, or drop the row.")
        key = (row["prompt_id"], row["model"])
        if key in seen:
            raise DataError(f"duplicate response for prompt {key[0]!r} and model {key[1]!r} "
                            f"(first at row {seen[key]})", path=source, row=i, field="model",
                            fix="Keep one response per (prompt_id, model).")
        seen[key] = i
        img = row["image"]
        if img and not img.startswith(("http://", "https://")):
            p = Path(img)
            if not p.is_absolute() and base_dir is not None:
                p = base_dir / p
            row["image"] = str(p.resolve())
        rows.append(row)
    return rows


def load_file(store: Store, path: str | Path, *, replace: bool = False) -> int:
    """Load a responses file (Parquet/CSV/JSON/JSONL) into the arena; returns rows loaded."""
    p = Path(path)
    rows = response_rows(read_table(p), source=str(p), base_dir=p.resolve().parent)
    return store.load_responses(rows, replace=replace, source=str(p))


def comparisons_table(store: Store) -> pa.Table:
    """The pairwise votes as a comparisons table (``judge = human:<voter>``)."""
    votes = store.votes()
    table = pa.table({
        "prompt_id": [v["prompt_id"] for v in votes],
        "model_a": [v["model_a"] for v in votes],
        "model_b": [v["model_b"] for v in votes],
        "winner": [v["winner"] for v in votes],
        "judge": ["human:" + v["voter"] for v in votes],
        "tstamp": [float(v["tstamp"]) for v in votes],
    }, schema=pa.schema([("prompt_id", pa.string()), ("model_a", pa.string()),
                         ("model_b", pa.string()), ("winner", pa.string()),
                         ("judge", pa.string()), ("tstamp", pa.float64())]))
    return conform(table, "comparisons")


def rankings_table(store: Store) -> pa.Table:
    """The K-wise orderings as a rankings table (groups of tied models, best first)."""
    rows = store.rankings()
    table = pa.table({
        "prompt_id": pa.array([r["prompt_id"] for r in rows], pa.string()),
        "models": pa.array([json.loads(r["models"]) for r in rows],
                           pa.list_(pa.list_(pa.string()))),
        "judge": pa.array(["human:" + r["voter"] for r in rows], pa.string()),
    })
    return conform(table, "rankings")
