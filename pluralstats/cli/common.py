"""What every command shares: the rich console, error handling with exit codes, common options."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator

import click
from rich.console import Console

from pluralstats.errors import DiagnosticsError, InputError

# logs and pipes get 120 columns instead of rich's default 80, so tables are not cropped
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 120)

seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Random seed; the same seed gives the same output.")


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    """Warnings as one readable line on stderr (no source line), e.g. small groups, confounded attributes."""
    err_console.print(f"[yellow]warning ({category.__name__}):[/]", end=" ")
    err_console.print(str(message), markup=False, soft_wrap=True)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Turn bad input into a message and exit code 2, failed diagnostics into exit code 3."""
    warnings.showwarning = show_warning
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
