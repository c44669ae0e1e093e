"""Reading comparisons from any supported file (minimal native reader; adapters extend it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from preflab._errors import DataError
from preflab.data._io import read_table
from preflab.data._schema import COMPARISONS_REQUIRED, WINNERS, conform


def read_comparisons(
    path: str | Path, *, source: str | None = None, strict: bool = True
) -> tuple[pa.Table, pa.Table]:
    """Read a comparisons table; returns ``(table, rejects)``.

    ``rejects`` has columns ``row, field, value, reason`` (empty when all rows are valid).
    """
    table = read_table(path)
    missing = [c for c in COMPARISONS_REQUIRED if c not in table.column_names]
    if missing:
        raise DataError(f"missing columns {missing}", path=str(path), field=missing[0],
                        fix="Name the columns with --model-a/--model-b/--winner or pick --from.")
    winner = pc.replace_substring(table.column("winner").cast(pa.string()), "tie (bothbad)",
                                  "tie_bothbad")
    table = table.set_column(table.column_names.index("winner"), "winner", winner)
    bad = pc.invert(pc.is_in(winner, pa.array(WINNERS)))
    if pc.any(bad).as_py():
        i = pc.index(bad, True).as_py()
        raise DataError(f"'{winner[i].as_py()}' is not one of {', '.join(WINNERS)}",
                        path=str(path), row=i, field="winner")
    return conform(table, "comparisons"), pa.table({"row": pa.array([], pa.int64())})
