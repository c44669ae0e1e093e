"""The root command: every area's commands are registered, lazily."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

from click.testing import CliRunner

import preflab.cli
from preflab.cli import cli
from preflab.cli._main import COMMANDS


def test_every_command_module_is_registered():
    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(preflab.cli.__path__):
        mod = importlib.import_module(f"preflab.cli.{info.name}")
        for command in getattr(mod, "commands", []):
            found[command.name] = mod.__name__
    assert found == COMMANDS


def test_help_lists_every_command_and_each_help_ends_with_an_example():
    res = CliRunner().invoke(cli, ["--help"])
    assert res.exit_code == 0
    for name in COMMANDS:
        assert name in res.output
        sub = CliRunner().invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)
        assert "Example" in sub.output, f"`preflab {name} --help` has no example"


def test_rank_does_not_import_the_heavy_areas():
    code = ("import sys; from preflab.cli._main import LazyGroup, cli; "
            "cli.get_command(None, 'rank'); "
            "print(sorted(m for m in sys.modules if m.startswith(('preflab.arena', "
            "'preflab.judge', 'preflab.rm', 'preflab.bench', 'fastapi', 'torch'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
