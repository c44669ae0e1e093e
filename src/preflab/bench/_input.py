"""Reading a pile of prompts: one text column and one id column, detected or named.

Accepted text columns (first found, unless ``text_col`` names one): ``prompt``, ``turns``
(Arena-Hard's ``question.jsonl``: a list of ``{"content": ...}`` turns; the first turn is the
prompt, as Arena-Hard judges single-turn questions [Li24]_), ``question``, ``instruction``.
Id columns: ``prompt_id``, ``question_id``, ``id``, ``uid``; without one, ids are ``row-<i>``.
A missing or empty text is an error naming the row; nothing is dropped here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from preflab._errors import DataError

TEXT_COLUMNS = ("prompt", "turns", "question", "instruction")
ID_COLUMNS = ("prompt_id", "question_id", "id", "uid")


@dataclass(frozen=True, slots=True)
class PromptSet:
    """Prompts in input order: ``ids``, ``texts``, and where they came from."""

    ids: tuple[str, ...]
    texts: tuple[str, ...]
    text_col: str
    id_col: str | None
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)


def _turn_text(value: Any) -> str | None:
    """First turn's text of a ``turns`` value (list of dicts or of strings)."""
    if isinstance(value, str):
        return value
    if not isinstance(value, (list, tuple)) or not value:
        return None
    first = value[0]
    if isinstance(first, dict):
        content = first.get("content")
        return content if isinstance(content, str) else None
    return first if isinstance(first, str) else None


def prompts_from_table(
    table: pa.Table,
    *,
    text_col: str | None = None,
    id_col: str | None = None,
    path: str | None = None,
) -> PromptSet:
    """A :class:`PromptSet` from an Arrow table (see the module docstring for the columns)."""
    cols = table.column_names
    if text_col is None:
        text_col = next((c for c in TEXT_COLUMNS if c in cols), None)
        if text_col is None:
            raise DataError(
                f"no prompt text column (have {', '.join(cols)})",
                path=path,
                fix=f"Name one with --text-col, or use one of {', '.join(TEXT_COLUMNS)}.",
            )
    elif text_col not in cols:
        raise DataError(
            f"no column {text_col!r} (have {', '.join(cols)})",
            path=path,
            field=text_col,
            fix="Pass the name of the prompt text column to --text-col.",
        )
    if id_col is None:
        id_col = next((c for c in ID_COLUMNS if c in cols), None)
    elif id_col not in cols:
        raise DataError(
            f"no column {id_col!r} (have {', '.join(cols)})",
            path=path,
            field=id_col,
            fix="Pass the name of the id column to --id-col.",
        )
    raw = table.column(text_col).to_pylist()
    texts: list[str] = []
    for i, v in enumerate(raw):
        t = _turn_text(v) if text_col == "turns" or not isinstance(v, str) else v
        if t is None or not t.strip():
            raise DataError(
                "empty or missing prompt text",
                path=path,
                row=i,
                field=text_col,
                fix="Remove the row or fill in its prompt.",
            )
        texts.append(t)
    if id_col is None:
        ids = [f"row-{i}" for i in range(len(texts))]
    else:
        ids = []
        seen: dict[str, int] = {}
        for i, v in enumerate(table.column(id_col).to_pylist()):
            if v is None or str(v) == "":
                raise DataError(
                    "missing prompt id", path=path, row=i, field=id_col, fix="Give every row an id."
                )
            s = str(v)
            if s in seen:
                raise DataError(
                    f"prompt id {s!r} repeats row {seen[s]}",
                    path=path,
                    row=i,
                    field=id_col,
                    fix="Ids must be unique; rename one, or drop --id-col to number rows.",
                )
            seen[s] = i
            ids.append(s)
    return PromptSet(tuple(ids), tuple(texts), text_col, id_col, path or "")


def read_prompts(
    path: str | Path, *, text_col: str | None = None, id_col: str | None = None
) -> PromptSet:
    """Read prompts from Parquet, CSV, JSON or JSONL (see :func:`prompts_from_table`)."""
    from preflab.data import read_table

    return prompts_from_table(read_table(path), text_col=text_col, id_col=id_col, path=str(path))
