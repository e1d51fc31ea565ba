"""What every command shares: the rich console, error handling with exit codes, output protection, options."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import signal
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from pluralstats.errors import DiagnosticsError, InputError
from pluralstats.io import check_output, output_policy

# logs and pipes get 120 columns instead of rich's default 80, so tables are not cropped. Markup is off: what is
# printed holds the user's names (levels, dimensions, files), and "[/]" or "[prefer not to say]" in one would be
# read as rich markup (an error, or text that vanishes); the program's own styling goes through styled()
console = Console(stderr=False, highlight=False, markup=False, width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, highlight=False, markup=False, width=None if sys.stderr.isatty() else 120)


def styled(markup: str, *plain: object) -> Text:
    """The program's own ``markup`` (e.g. ``"[yellow]warning:[/] "``) followed by ``plain`` text, which is never
    read as markup, whatever brackets it holds."""
    return Text.assemble(Text.from_markup(markup), *(str(p) for p in plain))

seed_option = click.option("--seed", type=int, default=0, show_default=True,
                           help="Random seed; the same seed gives the same output.")


def _family_name(ctx, param, value: str) -> str:
    """A registered family's name (:mod:`pluralstats.families`); anything else is a usage error (exit 2)."""
    from pluralstats.families import available_families

    if value not in available_families():
        raise click.BadParameter(f"unknown family '{value}'; installed: {', '.join(available_families())}")
    return value


family_option = click.option(
    "--family", default="logit", show_default=True, callback=_family_name, metavar="NAME",
    help="Rating-model family, the latent error's distribution: logit (cumulative logit), probit, or any other "
         "installed in the pluralstats.families entry-point group.")


#: the warnings the running command has shown (None outside a command): a survey that one command loads more
#: than once (a check, then the step that uses it) must not repeat its small-group warnings
_shown_warnings: set[tuple[str, str]] | None = None


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    """Warnings as one readable line on stderr (no source line), e.g. small groups, confounded attributes.

    pluralstats' own warnings read ``warning: MESSAGE`` (their text says what is wrong, the class adds nothing);
    a library's read ``warning (CATEGORY): MESSAGE``, the category naming where it comes from. Within a command
    (:func:`handle_errors`) each message is shown once, however often it is raised.
    """
    if _shown_warnings is not None:
        key = (category.__name__, str(message))
        if key in _shown_warnings:
            return
        _shown_warnings.add(key)
    own = category.__module__.split(".")[0] == "pluralstats"
    err_console.print(Text("warning:" if own else f"warning ({category.__name__}):", style="yellow"), end=" ")
    err_console.print(str(message), soft_wrap=True)


@contextlib.contextmanager
def _warnings_once() -> Iterator[None]:
    """Remember the warnings shown until the outermost command ends (a group's subcommand shares its set)."""
    global _shown_warnings
    if _shown_warnings is not None:
        yield
        return
    _shown_warnings = set()
    try:
        yield
    finally:
        _shown_warnings = None


def _fail(prefix: str, message: str, code: int) -> None:
    err_console.print(Text(prefix, style="bold red"), end=" ")
    err_console.print(message, soft_wrap=True)
    sys.exit(code)


def crash_log_dir() -> Path:
    """Where unexpected errors are logged: ``$PLURALSTATS_LOG_DIR``, else the user's cache folder."""
    base = os.environ.get("PLURALSTATS_LOG_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "pluralstats", "logs")
    return Path(base)


def write_crash_log(exc: BaseException) -> Path | None:
    """Write the full traceback to a private (0600) log file; the terminal only gets its path.

    A traceback can quote data values (a participant id in a KeyError, a row in a pandas message), so it is
    kept out of the terminal, where logs and screenshots travel, and written where only the user can read it.
    """
    try:
        folder = crash_log_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        fd, name = tempfile.mkstemp(prefix=f"crash-{stamp}-", suffix=".log", dir=folder)
        with os.fdopen(fd, "w") as fh:
            fh.write(" ".join(sys.argv) + "\n\n" + "".join(traceback.format_exception(exc)))
        return Path(name)
    except OSError:
        return None


def _where(exc: BaseException) -> str:
    """``module:function`` of the innermost pluralstats frame (or the innermost frame), for the short message."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "pluralstats" in f.filename] or frames
    if not ours:
        return "?"
    frame = ours[-1]
    return f"{Path(frame.filename).stem}:{frame.name}"


def _terminate(signum, frame) -> None:  # noqa: ARG001
    # SIGTERM/SIGHUP become SystemExit so that every atomic write removes its temporary path on the way out
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C (only from the main thread, as signal requires)."""
    with contextlib.suppress(ValueError):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _terminate)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Bad input -> exit 2, failed diagnostics -> exit 3, anything unexpected -> a short message and a log path.

    No exception reaches the terminal as a traceback: its text may quote data values. Warnings are shown as
    one readable line while the command runs, each message once; the previous ``warnings.showwarning`` is
    restored afterwards.
    """
    with warnings.catch_warnings(), _warnings_once():
        warnings.showwarning = show_warning
        try:
            yield
        except InputError as exc:
            _fail("error:", str(exc), exc.exit_code)
        except DiagnosticsError as exc:
            _fail("diagnostics failed:", str(exc), exc.exit_code)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            _fail("interrupted:", "stopped by the user; nothing half-written was left behind.", 130)
        except OSError as exc:
            target = f" {exc.filename}" if exc.filename else ""
            _fail("error:", f"cannot access{target}: {exc.strerror or type(exc).__name__}", 2)
        except Exception as exc:  # the last resort: never a traceback on the terminal
            log = write_crash_log(exc)
            detail = f"the full traceback is in {log} (it may quote data values: keep it private)" if log \
                else "no log could be written"
            # outputs finished before the error stay (each is swapped into place whole); none is half-written
            _fail("internal error:", f"{type(exc).__name__} in {_where(exc)}; no output was left half-written, but "
                                     f"outputs finished before the error stay. {detail}. Please report it with the "
                                     "command you ran.", 1)


#: parameters that name what a command writes (``loo --save``), never what it reads
OUTPUT_PARAMS = frozenset({"out", "save"})


def _input_paths(command: click.Command, kwargs: dict) -> list[Path]:
    """The values of the command's path-typed parameters other than its outputs: what it reads."""
    paths: list[Path] = []
    for param in command.params:
        if param.name in OUTPUT_PARAMS or not isinstance(param.type, click.Path) or param.name not in kwargs:
            continue
        value = kwargs[param.name]
        for item in value if isinstance(value, (tuple, list)) else [value]:
            if item is not None and Path(item).exists():
                paths.append(Path(item))
    return paths


def protect_outputs(command: click.Command) -> click.Command:
    """Give a command with ``--out`` an ``--overwrite`` flag and check its output before it does any work.

    The check (:func:`pluralstats.io.check_output`) refuses an ``--out`` equal to or inside an input, and an
    existing one that this command did not write; the policy it sets also governs every atomic write inside.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            protect_outputs(sub)
        return command
    if not any(p.name == "out" for p in command.params) or any(p.name == "overwrite" for p in command.params):
        return command
    command.params.append(click.Option(
        ["--overwrite"], is_flag=True, default=False,
        help="Replace an existing --out even if this command did not write it (its contents are lost)."))
    callback: Callable = command.callback

    @functools.wraps(callback)
    def guarded(*args, overwrite: bool = False, **kwargs):
        names, ctx = [], click.get_current_context()
        while ctx.parent is not None:  # "experiment run", whatever the program was called (python -m ...)
            names.append(ctx.info_name)
            ctx = ctx.parent
        name = " ".join(reversed(names)) or command.name
        with output_policy(name, _input_paths(command, kwargs), overwrite=overwrite):
            if kwargs.get("out") is not None:
                check_output(kwargs["out"])
            return callback(*args, **kwargs)

    command.callback = guarded
    return command
