"""Root click group. Commands live in ``preflab.cli._<area>`` modules (each exports a
``commands`` list) and are imported only when used, so ``preflab rank`` does not pay for the
arena, judge or reward-model imports."""

from __future__ import annotations

import importlib
import logging

import click

from preflab import __version__

# command name -> module that defines it (tests/cli/test_main.py checks this is complete)
COMMANDS: dict[str, str] = {
    "rank": "preflab.cli._rank",
    "convert": "preflab.cli._data",
    "validate": "preflab.cli._data",
    "winrate": "preflab.cli._scores",
    "arena-hard": "preflab.cli._scores",
    "judge": "preflab.cli._judge",
    "verify": "preflab.cli._judge",
    "audit": "preflab.cli._audit",
    "next-pairs": "preflab.cli._scale",
    "fragility": "preflab.cli._scale",
    "power": "preflab.cli._scale",
    "voter-influence": "preflab.cli._scale",
    "board": "preflab.cli._scale",
    "rank-kwise": "preflab.cli._scale",
    "rm": "preflab.cli._rm",
    "export": "preflab.cli._rm",
    "arena": "preflab.cli._arena",
    "bench": "preflab.cli._bench",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        for command in importlib.import_module(module).commands:
            if command.name == cmd_name:
                return command  # type: ignore[no-any-return]
        raise RuntimeError(f"{module} does not define the command '{cmd_name}'")


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "PREFLAB"},
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


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="preflab")
