"""``preflab audit``: judge audits (``judge``, ``scores``) and benchmark audits (``benchmark``)."""

from __future__ import annotations

import click

from preflab.cli._audit_benchmark import audit_commands as _benchmark_commands
from preflab.cli._audit_judge import audit_commands as _judge_commands


@click.group()
def audit() -> None:
    """Is the judge right? Does the benchmark separate models and agree with a reference?

    \b
    Example:
      preflab audit judge verdicts.parquet --truth labels.parquet
    """


for _command in (*_judge_commands, *_benchmark_commands):
    audit.add_command(_command)

commands: list[click.Command] = [audit]
