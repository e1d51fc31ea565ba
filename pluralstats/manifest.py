"""Run manifests: what a manifest records (command, options, seed, input hashes, package versions), where an
output's manifest lies, and reading the manifest (or claim file) of an earlier output to tell whose it is.

Writing one, which lists the files the running command wrote, is :func:`pluralstats.io.write_manifest`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path

TRACKED_PACKAGES = (
    "pluralstats", "numpy", "pandas", "pandera", "pymc", "pytensor", "bambi", "arviz", "nutpie",
    "torch", "transformers", "trl", "peft", "datasets",
)
# Written first into a folder that a resumable command (experiment run, demo) fills step by step, so a
# rerun after an interruption recognises the half-filled folder as its own before the final manifest exists.
CLAIM_FILE = ".pluralstats-output"


def _read_manifest(candidate: Path) -> dict | None:
    """A pluralstats manifest's content (a JSON object naming its command), else None."""
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        data = json.loads(candidate.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("command"), str) and data["command"].strip():
            return data
    return None


def _manifest_of(path: Path) -> tuple[Path, dict] | None:
    """Where the manifest of an earlier output at ``path`` is, and what it says (None: no pluralstats manifest)."""
    candidate = path / "manifest.json" if path.is_dir() else sidecar_manifest(path)
    data = _read_manifest(candidate)
    return (candidate, data) if data is not None else None


def _manifest_command(path: Path) -> str | None:
    """The command recorded in the manifest (or claim file) of an earlier output at ``path``, if any."""
    if path.is_dir() and (path / CLAIM_FILE).is_file():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            return (path / CLAIM_FILE).read_text(encoding="utf-8").strip() or None
    found = _manifest_of(path)
    return found[1]["command"] if found else None


def _listed_files(manifest: Path, data: dict) -> set[Path] | None:
    """The resolved paths of the files a manifest says its output consists of (None: it does not say)."""
    files = data.get("files")
    if not isinstance(files, list):
        return None
    return {(manifest.parent / str(name)).resolve() for name in files}


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


def sidecar_manifest(output: str | os.PathLike) -> Path:
    """Where a file output's manifest goes: ``x.nc`` -> ``x.nc.manifest.json``, ``cfile`` -> ``cfile.manifest.json``."""
    output = Path(output)
    return output.with_name(output.name + ".manifest.json")


def manifest_path_for(output: str | os.PathLike) -> Path:
    """A folder's manifest is inside it (``out/manifest.json``), a file's beside it (``x.nc.manifest.json``).

    Decided by what is on disk, never by the name: a file called ``cfile`` gets ``cfile.manifest.json``. A path
    not yet written is taken as a folder only when it has no suffix.
    """
    output = Path(output)
    if output.is_dir() or (not output.exists() and output.suffix == ""):
        return output / "manifest.json"
    return sidecar_manifest(output)
