"""Atomic writes and output protection.

Outputs are written to a temporary sibling and swapped into place only when the work succeeded, so a
failed or interrupted run never leaves a half-written file and never removes what was there. Before any
work starts, :func:`check_outputs` checks every path a command declared it writes (its ``--out`` and the
files beside it): it refuses a path that is, lies inside or holds one of the command's inputs (symlinks
followed), and one that holds something this command did not write (an earlier output is recognised by
its manifest, which lists the files it consists of), unless the user passed ``--overwrite``. Each output
gets a small JSON manifest (:func:`write_manifest`; its content and whereabouts are :mod:`pluralstats.manifest`)
so a result can be traced and rerun.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pluralstats.errors import InputError
from pluralstats.manifest import (
    CLAIM_FILE,
    _listed_files,
    _manifest_command,
    _manifest_of,
    _read_manifest,
    build_manifest,
    manifest_path_for,
    sidecar_manifest,
)

# An interrupt (SIGINT, SIGTERM) can land where a library swallows the exception it raises (a compiler's
# finaliser, a sampler that returns what it has drawn so far): the signal is also recorded here, so that no
# atomic write is swapped in afterwards and the CLI still ends as interrupted.
_INTERRUPT: dict[str, int] = {}
_SWAP_LOCK = threading.RLock()  # held while a finished write is swapped in: an exit waits for it
_TEMPORARIES: set[Path] = set()  # temporary paths of the atomic writes in progress


def request_interrupt(signum: int) -> None:
    """Record that the process was told to stop (by signal ``signum``): no atomic write is swapped in after this."""
    _INTERRUPT.setdefault("signal", signum)


def interrupt_signal() -> int | None:
    """The signal that asked the process to stop, if one did."""
    return _INTERRUPT.get("signal")


def clear_interrupt() -> None:
    """Forget a recorded interrupt (a new command starts)."""
    _INTERRUPT.clear()


def abandon_temporaries(timeout: float = 10.0) -> None:
    """Remove the temporary path of every atomic write in progress, once no swap is under way: for a process
    that is about to end without unwinding (an interrupt a library swallowed)."""
    acquired = _SWAP_LOCK.acquire(timeout=timeout)
    try:
        for tmp in list(_TEMPORARIES):
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)
    finally:
        if acquired:
            _SWAP_LOCK.release()


def _stop_if_interrupted() -> None:
    if interrupt_signal() is not None:
        raise KeyboardInterrupt


def slugify(text: str) -> str:
    """``text`` as a folder name: runs of other than letters, digits and ``_.-`` become ``_`` (empty: ``cell``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "cell"


class OutputError(InputError):
    """An output path that would destroy or overwrite something the command did not create (exit 2)."""


@dataclass(frozen=True)
class OutputPolicy:
    """What the running command may replace: its name, its inputs, and whether ``--overwrite`` was given.

    ``main`` is the output whose manifest lists the files ``beside`` it (a forest plot beside a contrasts
    CSV, a split beside a preference file); ``started`` (a ``time.time()``) tells the files a command wrote
    into a folder that it does not replace whole from those that were there before.
    """

    command: str | None = None
    inputs: tuple[Path, ...] = ()
    overwrite: bool = False
    main: Path | None = None
    beside: tuple[Path, ...] = ()
    started: float | None = None


# the default is frozen (immutable), so sharing it is safe
_POLICY: contextvars.ContextVar[OutputPolicy] = contextvars.ContextVar(
    "pluralstats_output_policy", default=OutputPolicy())  # noqa: B039


@contextlib.contextmanager
def output_policy(command: str | None, inputs: Sequence[str | os.PathLike] = (), *, overwrite: bool = False,
                  main: str | os.PathLike | None = None,
                  beside: Sequence[str | os.PathLike] = ()) -> Iterator[OutputPolicy]:
    """Set the policy that :func:`check_output` and :func:`atomic_path` apply inside the block."""
    policy = OutputPolicy(command, tuple(Path(p) for p in inputs), overwrite,
                          Path(main) if main is not None else None, tuple(Path(p) for p in beside), time.time())
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def short_path(path: str | os.PathLike, limit: int = 100) -> str:
    """``path`` for a message: a long one keeps its start and its end around an ellipsis."""
    text = str(path)
    if len(text) <= limit:
        return text
    keep = (limit - 3) // 2
    return f"{text[:keep]}...{text[-keep:]}"



def _is_relative_to(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def resolved_inputs(inputs: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``(as given, resolved)`` for every input, and for every symlink inside an input folder its target:
    a bundle whose ratings.csv links elsewhere has that file as an input too."""
    found: list[tuple[Path, Path]] = []
    for source in inputs:
        found.append((source, source.resolve()))
        if source.is_dir():
            for root, dirs, files in os.walk(source):
                for name in dirs + files:
                    entry = Path(root) / name
                    if entry.is_symlink():
                        found.append((entry, entry.resolve()))
    return found


def _check_inputs(final: Path, inputs: Sequence[Path]) -> None:
    """Refuse an output that is, lies inside or holds an input (all resolved: symlinks followed)."""
    resolved = final.resolve()
    shown = short_path(final)
    for source, src in resolved_inputs(inputs):
        if _is_relative_to(resolved, src):
            where = "is" if resolved == src else "lies inside"
            raise OutputError(f"Output {shown} {where} the input {short_path(source)}; writing it would change the "
                              "input. Choose an output outside every input.")
        if _is_relative_to(src, resolved):
            raise OutputError(f"Output {shown} contains the input {short_path(source)}; replacing it would delete "
                              "the input. Choose another output.")


def _check_writable(final: Path) -> None:
    ancestor = final.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"Cannot write {short_path(final)}: {short_path(ancestor)} is a file, not a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {short_path(final)}: no write permission in {short_path(ancestor)}.")


def _foreign_files(folder: Path) -> list[str]:
    """Files in an earlier output folder that its manifest does not list (added by the user), sorted."""
    found = _manifest_of(folder)
    files = found[1].get("files") if found else None
    if not isinstance(files, list) or (folder / CLAIM_FILE).exists():  # an older manifest, or filled step by step
        return []
    own = {str(name) for name in files} | {"manifest.json"}
    return sorted(name for p in folder.rglob("*") if (p.is_file() or p.is_symlink())
                  and (name := p.relative_to(folder).as_posix()) not in own)


def _refuse(final: Path, what: str) -> None:
    raise OutputError(f"Output {short_path(final)} exists ({what}); refusing to replace it. Choose another output, "
                      "or pass --overwrite to replace it.")


def check_output(final: str | os.PathLike, *, policy: OutputPolicy | None = None, kind: str | None = None,
                 owner: str | os.PathLike | None = None) -> Path:
    """Refuse (:class:`OutputError`, exit 2) an output path whose replacement would destroy anything.

    Refused: a path equal to, inside or holding an input (symlinks followed), a path under a file, a file
    where ``kind`` says a folder is written or the reverse, and an existing non-empty path that is not an
    earlier output of the same command unless the policy allows overwriting. An earlier output is one with
    a manifest naming the command (a file's beside it, ``x.csv.manifest.json``; a folder's inside it), or a
    file that the manifest of ``owner`` (the command's main output) lists. An earlier output folder that
    holds files its manifest does not list (the user's) is refused too: a rerun would delete them.
    Called on every declared output before any work is done.
    """
    policy = policy or _POLICY.get()
    final = Path(final)
    _check_inputs(final, policy.inputs)
    _check_writable(final)
    exists = final.exists() or final.is_symlink()
    if exists and kind is not None and final.is_dir() != (kind == "folder"):
        raise OutputError(f"Cannot write {short_path(final)}: it is a {'folder' if final.is_dir() else 'file'}, "
                          f"this command writes a {kind} there.")
    if kind == "file":
        sidecar = sidecar_manifest(final)
        made = _read_manifest(sidecar) if sidecar.is_file() else None
        if (sidecar.exists() or sidecar.is_symlink()) and not policy.overwrite and not exists and (
                made is None or made["command"] != policy.command):
            _refuse(sidecar, "the manifest path of this output, not written by this command")
    if not exists or (final.is_dir() and not any(final.iterdir())) or policy.overwrite:
        return final
    made_by = _manifest_command(final)
    if made_by is None and owner is not None:
        found = _manifest_of(Path(owner))
        if found and found[1]["command"] == policy.command and final.resolve() in (_listed_files(*found) or set()):
            made_by = found[1]["command"]
    if made_by is not None and (policy.command is None or made_by == policy.command):
        foreign = _foreign_files(final) if final.is_dir() else []
        if foreign:
            listed = ", ".join(short_path(f, 60) for f in foreign[:3]) + (f" and {len(foreign) - 3} more"
                                                                           if len(foreign) > 3 else "")
            raise OutputError(f"Output {short_path(final)} holds files the earlier `pluralstats {made_by}` did not "
                              f"write ({listed}); a rerun would delete them. Move them out, or pass --overwrite "
                              "to replace the folder with them.")
        return final
    what = f"an earlier output of `pluralstats {made_by}`" if made_by else "not an output of pluralstats"
    _refuse(final, f"{'folder' if final.is_dir() else 'file'}, {what}")
    return final


def add_inputs(paths: Sequence[str | os.PathLike]) -> None:
    """Add files found while reading (a bundle's tables, which survey.toml may place elsewhere) to the running
    command's inputs, and check its declared outputs against them before anything is written."""
    policy = _POLICY.get()
    new = tuple(Path(p) for p in paths if Path(p).exists())
    for output in (policy.main, *policy.beside):
        if output is not None:
            _check_inputs(output, new)
    _POLICY.set(dataclasses.replace(policy, inputs=policy.inputs + new))


def check_outputs(main: str | os.PathLike | None, kind: str | None, beside: Sequence[str | os.PathLike] = ()) -> None:
    """:func:`check_output` on a command's main output and on every file it writes beside it (which the main
    output's manifest lists, so that a rerun recognises them as its own)."""
    if main is not None:
        check_output(main, kind=kind)
    for path in beside:
        check_output(path, kind="file", owner=main)


def claim_output_dir(folder: str | os.PathLike, command: str) -> Path:
    """Create ``folder`` (after :func:`check_output`) and mark it as ``command``'s, for resumable commands."""
    folder = Path(folder)
    current = _POLICY.get()
    check_output(folder, policy=OutputPolicy(command, current.inputs, current.overwrite))
    folder.mkdir(parents=True, exist_ok=True)
    claim = folder / CLAIM_FILE
    if not claim.exists() or claim.read_text().strip() != command:  # written once: parallel workers only read it
        claim.write_text(command + "\n")
    return folder


@contextlib.contextmanager
def claimed_output_dir(folder: str | os.PathLike, command: str) -> Iterator[Path]:
    """:func:`claim_output_dir` for the block; a failed or interrupted block that left nothing in the folder but
    the claim removes it again (what it did write, a checkpoint to resume from, stays)."""
    folder = claim_output_dir(folder, command)
    try:
        yield folder
    except BaseException:
        with contextlib.suppress(OSError):
            if [p.name for p in folder.iterdir()] == [CLAIM_FILE]:
                shutil.rmtree(folder)
        raise


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; swap it onto ``final`` only if the block succeeds.

    A folder that already exists is renamed aside, the new one renamed in, and the old one removed only
    then; a failure (or SIGINT/SIGTERM, which the CLI turns into exceptions) removes the temporary path
    and leaves ``final`` as it was. An existing non-empty folder that holds no pluralstats manifest is
    never replaced unless the current :class:`OutputPolicy` allows overwriting.
    """
    final = Path(final)
    if final.exists() and final.is_dir() != is_dir:
        raise OutputError(f"Cannot write {short_path(final)}: it is a {'folder' if final.is_dir() else 'file'}, "
                          f"a {'folder' if is_dir else 'file'} was expected.")
    if is_dir and final.is_dir() and any(final.iterdir()) and not _POLICY.get().overwrite \
            and _manifest_command(final) is None:
        raise OutputError(f"Output {short_path(final)} is a folder that pluralstats did not write; refusing to "
                          "replace it (pass --overwrite to replace it).")
    _stop_if_interrupted()
    final.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    _TEMPORARIES.add(tmp)
    try:
        yield tmp
        # mkstemp/mkdtemp create private (0600/0700) paths; outputs get the usual umask permissions
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod((0o777 if is_dir else 0o666) & ~umask)
        with _SWAP_LOCK:
            _stop_if_interrupted()  # an interrupt a library swallowed still keeps the old output
            _swap_in(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        _TEMPORARIES.discard(tmp)


def _swap_in(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` onto ``final``; an existing folder is moved aside first and restored on failure."""
    if not final.is_dir():
        os.replace(tmp, final)
        return
    aside = final.with_name(f".{final.name}.{uuid.uuid4().hex[:8]}.old")
    os.replace(final, aside)
    try:
        os.replace(tmp, final)
    except BaseException:
        os.replace(aside, final)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (readers see the old file or the whole new one)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)



def _own_files(output: Path, manifest: Path) -> list[str]:
    """What the manifest at ``manifest`` lists as its output's files (relative to the manifest's folder).

    A folder: every file in it that this run wrote (a folder that is written into, not replaced whole, keeps
    files that were there before, and those are not listed). A file: itself, and the files the running
    command declared it writes beside it.
    """
    policy = _POLICY.get()
    if output.is_dir():
        since = (policy.started or 0.0) - 1.0
        return sorted(str(p.relative_to(output)) for p in output.rglob("*")
                      if p.is_file() and p != manifest and p.name != CLAIM_FILE and p.stat().st_mtime >= since)
    names = [output.name]
    if policy.main is not None and output.resolve() == policy.main.resolve():
        names += [os.path.relpath(Path(p).resolve(), manifest.parent.resolve()) for p in policy.beside
                  if Path(p).exists()]
    return names


def write_manifest(output: str | os.PathLike, command: str, **kwargs) -> Path:
    """Write the manifest of ``output`` (see :func:`manifest_path_for`), listing the files it consists of."""
    output = Path(output)
    path = manifest_path_for(output)
    manifest = build_manifest(command, **kwargs)
    manifest.setdefault("files", _own_files(output, path))
    write_text_atomic(path, json.dumps(manifest, indent=2) + "\n")
    return path
