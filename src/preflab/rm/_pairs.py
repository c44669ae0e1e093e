"""Preference pairs as reward models see them: prompt, chosen text, rejected text, tie, strength.

Everything enters through :mod:`preflab.data` (its ``pairs``/``judgebench``/native adapters
and the responses table), so a pair file, a JudgeBench file and a comparisons table with its
responses table all become the same :class:`PreferencePairs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from preflab._errors import DataError
from preflab.data import adapt_table, read_table

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_TIES = ("tie", "tie_bothbad")


@dataclass(frozen=True, slots=True)
class PreferencePairs:
    """Aligned columns of preference pairs (``chosen`` preferred unless ``tie``).

    Attributes
    ----------
    pair_id, prompt, chosen, rejected:
        One entry a pair; for a tie, ``chosen``/``rejected`` are just the two sides.
    tie:
        The verdict was a tie (``tie`` or ``tie_bothbad``).
    strength:
        Verdict strength (the comparisons table's ``weight``, 1 when absent), used by the
        optional margin of the loss.
    aspect, category, subset:
        Slicing labels (``"overall"``/``""`` when absent).
    chosen_image, rejected_image:
        Image paths/URLs from the responses table's ``image`` column (``None`` when absent).
    """

    pair_id: tuple[str, ...]
    prompt: tuple[str, ...]
    chosen: tuple[str, ...]
    rejected: tuple[str, ...]
    tie: BoolArray
    strength: FloatArray
    aspect: tuple[str, ...]
    category: tuple[str, ...]
    subset: tuple[str, ...]
    chosen_image: tuple[str | None, ...]
    rejected_image: tuple[str | None, ...]

    def __len__(self) -> int:
        return len(self.chosen)

    def take(self, index: npt.ArrayLike) -> PreferencePairs:
        """The pairs at ``index`` (integer indices or a boolean mask)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)

        def pick(t: tuple[str | None, ...]) -> tuple[str, ...]:
            return tuple(t[i] for i in idx)  # type: ignore[misc,unused-ignore]

        return PreferencePairs(
            pick(self.pair_id), pick(self.prompt), pick(self.chosen), pick(self.rejected),
            self.tie[idx], self.strength[idx], pick(self.aspect), pick(self.category),
            pick(self.subset), pick(self.chosen_image), pick(self.rejected_image),
        )

    @staticmethod
    def from_lists(
        prompt: list[str], chosen: list[str], rejected: list[str], *,
        tie: npt.ArrayLike | None = None, strength: npt.ArrayLike | None = None,
        aspect: list[str] | None = None, category: list[str] | None = None,
        subset: list[str] | None = None, pair_id: list[str] | None = None,
    ) -> PreferencePairs:
        """Pairs from plain lists (texts are already split into prompt and replies)."""
        n = len(chosen)
        if len(prompt) != n or len(rejected) != n:
            raise DataError("prompt, chosen and rejected must have the same length",
                            fix="Pass one prompt and two replies a pair.")
        none: tuple[str | None, ...] = (None,) * n
        return PreferencePairs(
            tuple(pair_id or [str(i) for i in range(n)]), tuple(prompt), tuple(chosen),
            tuple(rejected),
            np.zeros(n, bool) if tie is None else np.asarray(tie, bool),
            np.ones(n) if strength is None else np.asarray(strength, float),
            tuple(aspect or ["overall"] * n), tuple(category or [""] * n),
            tuple(subset or [""] * n), none, none,
        )


def pairs_from_tables(
    comparisons: pa.Table, responses: pa.Table, *, subset: list[str] | None = None,
    path: str = "<comparisons>",
) -> PreferencePairs:
    """Join a comparisons table with its responses table into :class:`PreferencePairs`.

    The winner's text becomes ``chosen``; for ties the ``model_a`` text is ``chosen`` and
    ``tie`` is set. A comparison whose response is missing raises :class:`DataError` naming
    the row (nothing is dropped silently).
    """
    rc = responses.column_names
    texts: dict[tuple[str, str], tuple[str, str, str | None]] = {}
    for r in responses.to_pylist():
        texts[(str(r["prompt_id"]), str(r["model"]))] = (
            r.get("text") or "", (r.get("prompt") or "") if "prompt" in rc else "",
            r.get("image") if "image" in rc else None,
        )
    cols = comparisons.column_names
    n = comparisons.num_rows
    get = {c: comparisons.column(c).to_pylist() for c in cols}
    out: dict[str, list[object]] = {k: [] for k in (
        "pair_id", "prompt", "chosen", "rejected", "tie", "strength", "aspect", "category",
        "chosen_image", "rejected_image")}
    for i in range(n):
        pid, ma, mb, win = (str(get[c][i]) for c in ("prompt_id", "model_a", "model_b", "winner"))
        sides = []
        for m in (ma, mb):
            if (pid, m) not in texts:
                raise DataError(f"no response text for prompt_id '{pid}', model '{m}'",
                                path=path, row=i, field="model_a" if m == ma else "model_b",
                                fix="Add the response to the responses table (prompt_id, "
                                    "model, text, prompt) or drop the comparison.")
            sides.append(texts[(pid, m)])
        a, b = (sides[1], sides[0]) if win == "model_b" else (sides[0], sides[1])
        weight = get["weight"][i] if "weight" in cols else None
        out["pair_id"].append(pid)
        out["prompt"].append(a[1] or b[1])
        out["chosen"].append(a[0])
        out["rejected"].append(b[0])
        out["tie"].append(win in _TIES)
        out["strength"].append(1.0 if weight is None else float(weight))
        out["aspect"].append(str(get["aspect"][i] or "overall") if "aspect" in cols else "overall")
        out["category"].append(str(get["category"][i] or "") if "category" in cols else "")
        out["chosen_image"].append(a[2])
        out["rejected_image"].append(b[2])
    return PreferencePairs(
        tuple(out["pair_id"]), tuple(out["prompt"]), tuple(out["chosen"]),  # type: ignore[arg-type]
        tuple(out["rejected"]), np.array(out["tie"], bool),  # type: ignore[arg-type]
        np.array(out["strength"], float), tuple(out["aspect"]),  # type: ignore[arg-type]
        tuple(out["category"]), tuple(subset or [""] * n),  # type: ignore[arg-type]
        tuple(out["chosen_image"]), tuple(out["rejected_image"]),  # type: ignore[arg-type]
    )


def read_pairs(
    path: str | Path, *, responses: str | Path | None = None, source: str | None = None,
    where: str | None = None,
) -> PreferencePairs:
    """Read preference pairs from any input :func:`preflab.data.read_input` understands.

    - ``prompt, chosen, rejected`` (TRL's format) or hh-rlhf ``chosen, rejected`` dialogues
      (split at the last ``\\n\\nAssistant:``), via the ``pairs`` adapter;
    - JudgeBench ``question, response_A, response_B, label``;
    - a comparisons table plus ``responses`` (a responses table file).

    The raw ``subset`` (or ``source``) column, when present, labels each pair's subset.
    ``where`` is a SQL condition on the raw columns (DuckDB), e.g. ``"pair_index % 5 <> 0"``,
    to select a split.
    """
    raw = read_table(path)
    if where:
        import duckdb

        try:
            rel: Any = duckdb.sql(f"SELECT * FROM raw WHERE {where}")
            # DuckDB 2.x: to_arrow_table; 1.x: fetch_arrow_table
            fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
            raw = fetch()
        except duckdb.Error as exc:
            raise DataError(f"--where '{where}' failed: {exc}", path=str(path),
                            fix="Write a SQL condition on the file's columns.") from exc
    result = adapt_table(raw, source=source, strict=True, path=str(path))
    resp = result.responses
    if responses is not None:
        resp = read_table(responses)
    if resp is None:
        raise DataError("the input has no response texts", path=str(path),
                        fix="Pass the responses table with --responses (prompt_id, model, "
                            "text, prompt), or use a file with chosen/rejected texts.")
    subset = None
    for name in ("subset", "source"):
        if name in raw.column_names and raw.num_rows == result.table.num_rows:
            subset = [str(v) if v is not None else "" for v in raw.column(name).to_pylist()]
            break
    return pairs_from_tables(result.table, resp, subset=subset, path=str(path))
