"""The ``preflab`` command. One command group a package, each calling one library verb."""

from __future__ import annotations

from preflab.cli._main import cli, main

__all__ = ["cli", "main"]
