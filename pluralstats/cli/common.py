"""What every command shares: the rich console, error handling with exit codes, output protection, options."""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.text import Text

from pluralstats.errors import DiagnosticsError, InputError
from pluralstats.io import (
    abandon_temporaries,
    check_outputs,
    clear_interrupt,
    interrupt_signal,
    output_policy,
    request_interrupt,
    short_path,
)

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


#: seconds an interrupted process may take to unwind before it is ended without unwinding
INTERRUPT_GRACE_S = 5.0
INTERRUPTED_MESSAGE = "stopped by the user; nothing half-written was left behind and earlier outputs are intact."


def _end_if_still_running(signum: int) -> None:
    """Wait for the interrupted process to unwind; if a library swallowed the exception, end it here."""
    time.sleep(INTERRUPT_GRACE_S)
    abandon_temporaries()
    if signum == signal.SIGINT:
        with contextlib.suppress(Exception):
            err_console.print("[bold red]interrupted:[/]", end=" ", markup=True)
            err_console.print(INTERRUPTED_MESSAGE, markup=False, soft_wrap=True)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(128 + signum)


def _on_signal(signum: int) -> None:
    first = interrupt_signal() is None
    request_interrupt(signum)
    if first:
        threading.Thread(target=_end_if_still_running, args=(signum,), daemon=True,
                         name="pluralstats-interrupt").start()


def _interrupt(signum, frame) -> None:  # noqa: ARG001
    # Ctrl-C: unwind as KeyboardInterrupt; the recording keeps atomic writes from being swapped in if a library
    # (a compiler's finaliser, nutpie's sampler) swallows the exception, and ends the process if it goes on
    _on_signal(signum)
    raise KeyboardInterrupt


def _terminate(signum, frame) -> None:  # noqa: ARG001
    # SIGTERM/SIGHUP become SystemExit so that every atomic write removes its temporary path on the way out
    _on_signal(signum)
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP unwind like Ctrl-C, and make an interrupt stick even where a library swallows
    it (only from the main thread, as signal requires; a SIGINT ignored by the shell stays ignored)."""
    with contextlib.suppress(ValueError):
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _terminate)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _interrupt)


@contextlib.contextmanager
def handle_errors() -> Iterator[None]:
    """Bad input -> exit 2, failed diagnostics -> exit 3, anything unexpected -> a short message and a log path.

    No exception reaches the terminal as a traceback: its text may quote data values. Warnings are shown as
    one readable line while the command runs, each message once; the previous ``warnings.showwarning`` is
    restored afterwards.
    """
    with warnings.catch_warnings(), _warnings_once():
        warnings.showwarning = show_warning
        clear_interrupt()
        try:
            yield
            if interrupt_signal() is not None:  # swallowed by a library, yet the run went on
                raise KeyboardInterrupt
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except Exception as exc:
            if interrupt_signal() is None:
                _fail_for(exc)
            _fail("interrupted:", INTERRUPTED_MESSAGE, 128 + interrupt_signal())
        except KeyboardInterrupt:  # Ctrl-C, or an atomic write refused after a swallowed SIGTERM
            _fail("interrupted:", INTERRUPTED_MESSAGE, 128 + (interrupt_signal() or signal.SIGINT))


def _fail_for(exc: Exception) -> None:
    """Exit with the message and code of an exception that reached the command's top."""
    if isinstance(exc, InputError):
        _fail("error:", str(exc), exc.exit_code)
    if isinstance(exc, DiagnosticsError):
        _fail("diagnostics failed:", str(exc), exc.exit_code)
    if isinstance(exc, OSError):
        target = f" {short_path(exc.filename)}" if exc.filename else ""
        _fail("error:", f"cannot access{target}: {exc.strerror or type(exc).__name__}", 2)
    log = write_crash_log(exc)  # the last resort: never a traceback on the terminal
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


PathsOf = Callable[[dict], Iterable["str | os.PathLike | None"]]


@dataclass(frozen=True)
class OutputSpec:
    """What a command writes, declared beside its definition (:func:`writes`) and checked before it runs."""

    kind: str  # "file" or "folder": what the main output is
    main: Callable[[dict], str | os.PathLike | None] | None = None  # default: the --out value
    beside: PathsOf | None = None  # files written beside the main output (its manifest lists them)
    inputs: PathsOf | None = None  # default: the path-typed parameters (other than --out)


def writes(kind: str, *, main: Callable[[dict], str | os.PathLike | None] | None = None,
           beside: PathsOf | None = None, inputs: PathsOf | None = None) -> Callable[[click.Command], click.Command]:
    """Declare every path a command writes, from its parsed options: the main output (``--out`` unless
    ``main`` says otherwise; a ``kind`` of file or folder) and the files ``beside`` it, and what it reads when
    that is more than its path-typed parameters. :func:`protect_outputs` checks them all before any work."""
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder', not {kind!r}")

    def declare(command: click.Command) -> click.Command:
        command.pluralstats_outputs = OutputSpec(kind, main, beside, inputs)  # type: ignore[attr-defined]
        return command

    return declare


def _paths(values: Iterable[str | os.PathLike | None]) -> list[Path]:
    return [Path(v) for v in values if v is not None]


def protect_outputs(command: click.Command) -> click.Command:
    """Give a command that writes an ``--overwrite`` flag and check its outputs before it does any work.

    What it writes is declared with :func:`writes` (a command with ``--out`` and no declaration: its
    ``--out``). The check (:func:`pluralstats.io.check_outputs`) refuses an output equal to, inside or
    holding an input, and an existing one that this command did not write; the policy it sets also governs
    every atomic write and manifest inside.
    """
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            protect_outputs(sub)
        return command
    spec: OutputSpec | None = getattr(command, "pluralstats_outputs", None)
    has_out = any(p.name == "out" for p in command.params)
    if (spec is None and not has_out) or any(p.name == "overwrite" for p in command.params):
        return command
    command.params.append(click.Option(
        ["--overwrite"], is_flag=True, default=False,
        help="Replace an existing output even if this command did not write it (its contents are lost)."))
    callback: Callable = command.callback

    @functools.wraps(callback)
    def guarded(*args, overwrite: bool = False, **kwargs):
        names, ctx = [], click.get_current_context()
        while ctx.parent is not None:  # "experiment run", whatever the program was called (python -m ...)
            names.append(ctx.info_name)
            ctx = ctx.parent
        name = " ".join(reversed(names)) or command.name
        main = (spec.main(kwargs) if spec and spec.main else kwargs.get("out"))
        main = Path(main) if main is not None else None
        beside = _paths(spec.beside(kwargs)) if spec and spec.beside and main is not None else []
        inputs = _paths(spec.inputs(kwargs)) if spec and spec.inputs else _input_paths(command, kwargs)
        with output_policy(name, [p for p in inputs if p.exists()], overwrite=overwrite, main=main, beside=beside):
            check_outputs(main, spec.kind if spec else None, beside)
            return callback(*args, **kwargs)

    command.callback = guarded
    return command


def csv_list(ctx, param, value: str | None) -> list[str] | None:
    """A click callback: "a, b,,c" -> ["a", "b", "c"]; empty or absent -> None (every command's comma lists)."""
    if not value:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def dimensions_option(help: str = "Comma-separated dimensions (default: all).") -> Callable:
    """``--dimensions``, parsed by :func:`csv_list` (one parser for every command that takes it)."""
    return click.option("--dimensions", callback=csv_list, default=None, help=help)
