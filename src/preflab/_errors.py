"""Errors raised by preflab. Every library error subclasses :class:`PreflabError`."""

from __future__ import annotations


class PreflabError(Exception):
    """Base class of every error preflab raises on purpose.

    The message says where (file, row, field), what went wrong and what to do next.
    The CLI prints it without a traceback and exits with status 1.
    """


class DataError(PreflabError):
    """Input data that does not fit the schema.

    Parameters
    ----------
    message:
        What is wrong.
    path, row, field:
        Where it is (any may be ``None``). ``row`` is 0-based in the input file.
    fix:
        What the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        field: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.path = path
        self.row = row
        self.field = field
        self.reason = message
        self.fix = fix
        # "arena.jsonl row 42, field 'winner': ..." (STYLE.md)
        where = " ".join(x for x in (None if path is None else str(path),
                                     None if row is None else f"row {row}") if x)
        if field is not None:
            where = f"{where}, field '{field}'" if where else f"field '{field}'"
        text = (where + ": " if where else "") + message
        if fix:
            text += "\n" + fix
        super().__init__(text)


class ModelError(PreflabError):
    """A statistical model cannot be fitted as asked (disconnected graph, MLE at infinity...)."""
