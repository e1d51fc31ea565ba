"""What every command shares: the rich console, error handling with exit codes, common options."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import click
from rich.console import Console

from pluralstats.errors import DiagnosticsError, InputError

# logs and pipes get 120 columns instead of rich's default 80, so tables are not cropped
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)

seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Random seed; the same seed gives the same output.")


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn bad input into a message and exit code 2, failed diagnostics into exit code 3."""
    try:
        yield
    except InputError as exc:
        err_console.print("[bold red]error:[/]", end=" ")
        err_console.print(str(exc), markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except DiagnosticsError as exc:
        err_console.print("[bold red]diagnostics failed:[/]", end=" ")
        err_console.print(str(exc), markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
