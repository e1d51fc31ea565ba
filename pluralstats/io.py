"""Atomic writes and run manifests.

Outputs are written to a temporary sibling and renamed into place, so a failed or interrupted run
never leaves a half-written file. Each output gets a small JSON manifest (input hashes, package
versions, options, seed) so a result can be traced and rerun.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = (
    "pluralstats", "numpy", "pandas", "pandera", "pymc", "pytensor", "bambi", "arviz", "nutpie",
    "torch", "transformers", "trl", "peft", "datasets",
)


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; rename it onto ``final`` only if the block succeeds."""
    final = Path(final)
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
        if is_dir and final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    path = Path(path)
    paths = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def package_versions(names: Sequence[str] = TRACKED_PACKAGES) -> dict[str, str]:
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
