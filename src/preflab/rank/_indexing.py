"""Model indices, outcomes and small sums shared by the table-based estimators.

Arrow columns are read from their buffers: ``Array.to_numpy`` and ``pa.array(list)`` make
pyarrow import pandas (0.15 s of CPU on first use), which these paths otherwise never need.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError, ModelError
from preflab.rank._ratings import FloatArray, IntArray


def numeric(col: Any, dtype: str = "float64") -> Any:
    """A null-free numeric Arrow column as numpy, read from its buffers.

    ``Array.to_numpy`` makes pyarrow import pandas (0.15 s of CPU on first use), which a
    whole style-control run otherwise never needs.
    """
    target = {"float64": pa.float64(), "int32": pa.int32()}[dtype]
    parts: list[Any] = []
    for c in (col.chunks if isinstance(col, pa.ChunkedArray) else [col]):
        if not len(c):
            continue
        c = pc.cast(c, target) if c.type != target else c
        parts.append(np.frombuffer(c.buffers()[1], dtype, len(c), c.offset * target.byte_width))
    return parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else np.empty(0, dtype)


def first_null(col: Any) -> int:
    return int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])


_WINNER = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5, "tie (bothbad)": 0.5}


def models_and_outcomes(table: pa.Table, ties: str) -> tuple[
        tuple[str, ...], IntArray, IntArray, FloatArray, Any]:
    """Sorted model names, model indices of ``model_a`` / ``model_b``, outcomes ``y`` (1, 0,
    ½ for a tie) and the rows kept (``ties="drop"`` drops ties).

    Errors name the first bad row: a missing model name, a model compared with itself, a
    winner label other than model_a, model_b, tie, tie_bothbad (or Chatbot Arena's
    ``tie (bothbad)``)."""
    if ties not in ("half", "drop"):
        raise ModelError(f"ties='{ties}' is not supported here; use 'half' or 'drop'")
    a = table.column("model_a").cast(pa.string())
    b = table.column("model_b").cast(pa.string())
    for name, col in (("model_a", a), ("model_b", b)):
        if col.null_count:
            raise DataError("missing model name", row=first_null(col), field=name,
                            fix="Fill the model names or drop the row.")
    names = pc.unique(pa.chunked_array(a.chunks + b.chunks, type=pa.string()))
    ref = names.take(pc.sort_indices(names))  # code-point order, as sorted() on str
    models = tuple(str(x) for x in ref.to_pylist())
    ia = numeric(pc.index_in(a, value_set=ref), "int32").astype(np.int64)
    ib = numeric(pc.index_in(b, value_set=ref), "int32").astype(np.int64)
    same = ia == ib
    if same.any():
        i = int(np.flatnonzero(same)[0])
        raise DataError(f"model '{models[ia[i]]}' is compared with itself", row=i,
                        field="model_b", fix="Remove self-comparisons before ranking.")
    w = table.column("winner").cast(pa.string())
    labels = pc.unique(w)
    value = np.array([_WINNER.get(x, np.nan) if x is not None else np.nan
                      for x in labels.to_pylist()] + [np.nan])
    idx = pc.index_in(w, value_set=labels)
    y = value[numeric(idx, "int32") if idx.null_count == 0 else
              idx.fill_null(len(value) - 1).to_numpy(zero_copy_only=False)]
    if np.isnan(y).any():
        i = int(np.flatnonzero(np.isnan(y))[0])
        raise DataError(f"'{w[i].as_py()}' is not one of model_a, model_b, tie, tie_bothbad",
                        row=i, field="winner", fix="Validate the file with `preflab validate`.")
    keep = np.ones(len(y), bool) if ties == "half" else y != 0.5
    return models, ia, ib, y, keep


def bincount(idx: IntArray, weights: FloatArray, n: int) -> FloatArray:
    """``np.bincount`` with weights, typed as float."""
    out: FloatArray = np.bincount(idx, weights, n).astype(np.float64, copy=False)
    return out


def laplacian(pairs: IntArray, v: FloatArray, n: int) -> FloatArray:
    """Weighted graph Laplacian of the pairs: ``Σ_k v_k (e_a − e_b)(e_a − e_b)^T``."""
    a, b = pairs[:, 0], pairs[:, 1]
    off = bincount(a * n + b, v, n * n).reshape(n, n)
    h: FloatArray = -(off + off.T)
    h[np.diag_indices(n)] = bincount(a, v, n) + bincount(b, v, n)
    return h
