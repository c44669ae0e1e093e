"""Subcommands of ``preflab audit`` (filled in by the issue that owns them)."""

from __future__ import annotations

import click

audit_commands: list[click.Command] = []
