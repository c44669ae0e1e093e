"""Root click group; each ``_<area>.py`` module contributes its ``commands`` list."""

from __future__ import annotations

import importlib
import logging

import click

from preflab import __version__

# (module, attribute) pairs: each attribute is a list of click commands/groups.
_COMMAND_MODULES: tuple[str, ...] = (
    "preflab.cli._rank",
    "preflab.cli._data",
    "preflab.cli._scores",
    "preflab.cli._judge",
    "preflab.cli._audit",
    "preflab.cli._scale",
    "preflab.cli._rm",
    "preflab.cli._arena",
    "preflab.cli._bench",
)


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "PREFLAB"}
)
@click.version_option(__version__, prog_name="preflab")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """preflab: rankings and reward signals from human and AI preferences.

    \b
    Example:
      preflab rank votes.parquet --bootstrap 1000 --seed 0 --report board.html
    """
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


for _name in _COMMAND_MODULES:
    for _command in importlib.import_module(_name).commands:
        cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="preflab")
