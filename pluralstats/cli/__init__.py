"""The ``pluralstats`` command: one click group; each stage's commands live in their own module.

The CLI only parses options and prints; the work is done by the tested Python API.
Bad input (:class:`pluralstats.errors.InputError`) prints a clear message and exits with code 2.
"""

from __future__ import annotations

import importlib
import sys

import click

from pluralstats import __version__
from pluralstats.cli.common import console, handle_errors, install_signal_handlers, protect_outputs

# Each module defines click commands and a ``COMMANDS`` list; add a module here to add its commands.
COMMAND_MODULES = [
    "pluralstats.cli.survey",
    "pluralstats.cli.prefs",
    "pluralstats.cli.models",
    "pluralstats.cli.estimates",
    "pluralstats.cli.checking",
    "pluralstats.cli.finetune",
    "pluralstats.cli.evaluate",
]


#: ``pluralstats --help`` lists the commands in the order a study runs them; a command missing here comes last
PIPELINE = [
    "simulate", "validate", "describe",  # the survey
    "fit-survey", "prior-check", "loo",  # the rating model and its checks
    "contrasts", "compare", "plot-posterior", "disagreements",  # what the groups differ on
    "prefs",  # preference data
    "tiny-model", "fit-rater", "finetune", "plugins",  # fine-tuning
    "evaluate", "experiment", "plot", "report", "demo",  # evaluation, experiments, results
]


class Group(click.Group):
    """Commands listed in pipeline order, errors turned into exit codes."""

    def list_commands(self, ctx):
        """Commands in pipeline order (:data:`PIPELINE`), not alphabetically."""
        rank = {name: i for i, name in enumerate(PIPELINE)}
        return sorted(self.commands, key=lambda name: rank.get(name, len(rank)))

    def invoke(self, ctx):
        """Run the command under ``handle_errors``: bad input exits 2, failed diagnostics 3, no tracebacks."""
        with handle_errors():
            return super().invoke(ctx)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 120, "terminal_width": 120}


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="pluralstats")
def cli() -> None:
    """Measure how social groups judge LLM responses, turn their judgments into preference data,
    fine-tune models on them, and test whether tuned models move the way the survey says."""


for _name in COMMAND_MODULES:
    for _command in importlib.import_module(_name).COMMANDS:
        cli.add_command(protect_outputs(_command))


def main() -> None:
    """The console script: SIGTERM unwinds like Ctrl-C, so interrupted writes leave no temporary files."""
    install_signal_handlers()
    cli(prog_name="pluralstats")


__all__ = ["cli", "main", "console"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
