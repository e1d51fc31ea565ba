"""Atomic writes, output protection and run manifests.

Outputs are written to a temporary sibling and swapped into place only when the work succeeded, so a
failed or interrupted run never leaves a half-written file and never removes what was there. Before any
work starts, :func:`check_output` refuses an output path that is, or lies inside, one of the command's
inputs, or that holds something this command did not write (an earlier output is recognised by its
manifest), unless the user passed ``--overwrite``. Each output gets a small JSON manifest (input hashes,
package versions, options, seed) so a result can be traced and rerun.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from pluralstats.errors import InputError

TRACKED_PACKAGES = (
    "pluralstats", "numpy", "pandas", "pandera", "pymc", "pytensor", "bambi", "arviz", "nutpie",
    "torch", "transformers", "trl", "peft", "datasets",
)
# Written first into a folder that a resumable command (experiment run, demo) fills step by step, so a
# rerun after an interruption recognises the half-filled folder as its own before the final manifest exists.
CLAIM_FILE = ".pluralstats-output"


def slugify(text: str) -> str:
    """``text`` as a folder name: runs of other than letters, digits and ``_.-`` become ``_`` (empty: ``cell``)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "cell"


class OutputError(InputError):
    """An output path that would destroy or overwrite something the command did not create (exit 2)."""


@dataclass(frozen=True)
class OutputPolicy:
    """What the running command may replace: its name, its inputs, and whether ``--overwrite`` was given."""

    command: str | None = None
    inputs: tuple[Path, ...] = ()
    overwrite: bool = False


# the default is frozen (immutable), so sharing it is safe
_POLICY: contextvars.ContextVar[OutputPolicy] = contextvars.ContextVar(
    "pluralstats_output_policy", default=OutputPolicy())  # noqa: B039


@contextlib.contextmanager
def output_policy(command: str | None, inputs: Sequence[str | os.PathLike] = (), *,
                  overwrite: bool = False) -> Iterator[OutputPolicy]:
    """Set the policy that :func:`check_output` and :func:`atomic_path` apply inside the block."""
    policy = OutputPolicy(command, tuple(Path(p) for p in inputs), overwrite)
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def _manifest_command(path: Path) -> str | None:
    """The command recorded in the manifest (or claim file) of an earlier output at ``path``, if any."""
    candidates = [path / CLAIM_FILE, path / "manifest.json"] if path.is_dir() else \
        [path.with_name(path.name + ".manifest.json")]
    for candidate in candidates:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            if candidate.name == CLAIM_FILE:
                return candidate.read_text().strip()
            return str(json.loads(candidate.read_text()).get("command"))
    return None


def _is_relative_to(path: Path, other: Path) -> bool:
    return path == other or other in path.parents


def check_output(final: str | os.PathLike, *, policy: OutputPolicy | None = None) -> Path:
    """Refuse (:class:`OutputError`, exit 2) an output path whose replacement would destroy anything.

    Refused: a path equal to or inside an input, a folder holding an input, a path under a file, and an
    existing non-empty path that is not an earlier output of the same command (per its manifest) unless
    the policy allows overwriting. Called by every command on its ``--out`` before any work is done.
    """
    policy = policy or _POLICY.get()
    final = Path(final)
    resolved = final.resolve()
    for source in policy.inputs:
        src = source.resolve()
        if _is_relative_to(resolved, src):
            where = "is" if resolved == src else "lies inside"
            raise OutputError(f"Output {final} {where} the input {source}; writing it would change the input. "
                              "Choose an --out outside every input.")
        if _is_relative_to(src, resolved):
            raise OutputError(f"Output {final} contains the input {source}; replacing it would delete the input. "
                              "Choose another --out.")
    ancestor = resolved.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"Cannot write {final}: {ancestor} is a file, not a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {final}: no write permission in {ancestor}.")
    if not final.exists() and not final.is_symlink():
        return final
    if final.is_dir() and not any(final.iterdir()):
        return final
    if policy.overwrite:
        return final
    made_by = _manifest_command(final)
    if made_by is not None and (policy.command is None or made_by == policy.command):
        return final
    what = f"an earlier output of `pluralstats {made_by}`" if made_by else "not an output of pluralstats"
    kind = "folder" if final.is_dir() else "file"
    raise OutputError(f"Output {final} exists ({kind}, {what}); refusing to replace it. Choose another --out, or "
                      "pass --overwrite to replace it.")


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
def atomic_path(final: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; swap it onto ``final`` only if the block succeeds.

    A folder that already exists is renamed aside, the new one renamed in, and the old one removed only
    then; a failure (or SIGINT/SIGTERM, which the CLI turns into exceptions) removes the temporary path
    and leaves ``final`` as it was. An existing non-empty folder that holds no pluralstats manifest is
    never replaced unless the current :class:`OutputPolicy` allows overwriting.
    """
    final = Path(final)
    if final.exists() and final.is_dir() != is_dir:
        raise OutputError(f"Cannot write {final}: it is a {'folder' if final.is_dir() else 'file'}, "
                          f"a {'folder' if is_dir else 'file'} was expected.")
    if is_dir and final.is_dir() and any(final.iterdir()) and not _POLICY.get().overwrite \
            and _manifest_command(final) is None:
        raise OutputError(f"Output {final} is a folder that pluralstats did not write; refusing to replace it "
                          "(pass --overwrite to replace it).")
    final.parent.mkdir(parents=True, exist_ok=True)
    if is_dir:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        tmp = Path(name)
    try:
        yield tmp
        # mkstemp/mkdtemp create private (0600/0700) paths; outputs get the usual umask permissions
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod((0o777 if is_dir else 0o666) & ~umask)
        _swap_in(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


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


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file, or of a folder's files' contents in sorted path order."""
    digest = hashlib.sha256()
    path = Path(path)
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def package_versions(names: Sequence[str] = TRACKED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (those not installed are left out)."""
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def _jsonable(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def build_manifest(
    command: str,
    *,
    inputs: Sequence[str | os.PathLike] = (),
    options: Mapping[str, object] | None = None,
    seed: int | None = None,
    extra: Mapping[str, object] | None = None,
) -> dict:
    """A record of what produced an output: command, options, seed, input hashes, versions."""
    return {
        "command": command,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "options": _jsonable(dict(options or {})),
        "inputs": {str(p): file_sha256(p) for p in inputs if Path(p).exists()},
        "versions": package_versions(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        **_jsonable(dict(extra or {})),
    }


def manifest_path_for(output: str | os.PathLike) -> Path:
    """``out/`` -> ``out/manifest.json``; ``x.nc`` -> ``x.nc.manifest.json``."""
    output = Path(output)
    if output.is_dir() or output.suffix == "":
        return output / "manifest.json"
    return output.with_name(output.name + ".manifest.json")


def write_manifest(output: str | os.PathLike, command: str, **kwargs) -> Path:
    """Write the manifest beside ``output`` (see :func:`manifest_path_for`)."""
    path = manifest_path_for(output)
    write_text_atomic(path, json.dumps(build_manifest(command, **kwargs), indent=2) + "\n")
    return path
