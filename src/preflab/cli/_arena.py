"""CLI commands for this area (filled in by the issue that owns it)."""

from __future__ import annotations

import click

commands: list[click.Command] = []
