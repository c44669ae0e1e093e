"""Shared CLI plumbing: error reporting, rich progress, the input options every command accepts."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from preflab._errors import PreflabError

F = TypeVar("F", bound=Callable[..., Any])

console = Console(stderr=True)
"""Console for progress and messages (stderr, so stdout stays machine-readable)."""


def handle_errors(func: F) -> F:
    """Turn :class:`PreflabError` into a ``ClickException`` (exit 1, no traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PreflabError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


class _ProgressCallback:
    """A ``progress=`` callable for library code: ``progress(advance=1, total=None, **fields)``."""

    def __init__(self, progress: Progress, task: Any) -> None:
        self._progress = progress
        self._task = task

    def __call__(self, advance: float = 1, total: float | None = None, **fields: Any) -> None:
        self._progress.update(self._task, advance=advance, total=total, **fields)


@contextmanager
def rich_progress(
    description: str, total: float | None = None, extra: str = ""
) -> Iterator[_ProgressCallback]:
    """A rich progress bar on stderr; yields a callback to hand to library ``progress=``.

    ``extra`` is a rich format string over task fields, e.g. ``"cost ${task.fields[cost]:.4f}"``.
    """
    columns: list[Any] = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    if extra:
        columns.append(TextColumn(extra))
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as p:
        task = p.add_task(description, total=total, cost=0.0)
        yield _ProgressCallback(p, task)
