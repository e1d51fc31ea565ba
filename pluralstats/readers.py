"""Reading the derived files a user hands back to a command (tables, manifests): a file that cannot be read
or lacks what the command needs is an :class:`~pluralstats.errors.InputError` naming it, not a traceback.

The survey bundle has its own reader and schemas (:mod:`pluralstats.survey`); these are for the outputs
of earlier commands (``results.parquet``, ``compare.csv``, ``cells.csv``, ``manifest.json``, ...).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from pluralstats.errors import InputError, Problem


def _cannot(path: Path, what: str, exc: BaseException | None = None) -> InputError:
    # the exception's type, not its text: parser messages can quote file content
    detail = f" ({type(exc).__name__})" if exc is not None else ""
    return InputError(f"Cannot read {path}", [Problem(str(path), f"{what}{detail}")])


def read_table(path: str | Path, columns: Iterable[str] = (), **kwargs: Any) -> pd.DataFrame:
    """A ``.parquet`` or ``.csv`` table with at least ``columns``; anything else is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise _cannot(path, "file not found")
    kind = "parquet" if path.suffix == ".parquet" else "CSV"
    try:
        frame = pd.read_parquet(path, **kwargs) if kind == "parquet" else pd.read_csv(path, **kwargs)
    except Exception as exc:  # pyarrow and the CSV parser raise many types for a malformed file
        raise _cannot(path, f"not a readable {kind} file", exc) from exc
    require_columns(frame, columns, path)
    return frame


def require_columns(frame: pd.DataFrame, columns: Iterable[str], path: str | Path) -> None:
    """Every missing column as one Problem (the file was not written by the command that should have)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks columns a pluralstats table has",
                         [Problem(str(path), "required column is missing", column=c) for c in missing])


def read_json_object(path: str | Path) -> dict[str, Any]:
    """A JSON file holding an object (a manifest, a training log); anything else is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise _cannot(path, "file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _cannot(path, "not valid JSON", exc) from exc
    if not isinstance(data, dict):
        raise _cannot(path, f"expected a JSON object, found {type(data).__name__}")
    return data


WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


def is_local_model(source: str | Path) -> bool:
    """Whether a ``--model`` value names a folder rather than a hub id (``org/name``: at most one slash)."""
    text = str(source)
    return Path(text).expanduser().exists() or text.startswith((".", "/", "~")) or text.count("/") > 1


def check_model_source(source: str | Path, option: str = "--model", *, local: bool = False) -> None:
    """Refuse a local model folder that is missing or lacks what ``from_pretrained`` needs; hub ids pass
    unless ``local`` (the option takes folders only).

    Checked before any training or generation starts, so a typo costs nothing.
    """
    if not (local or is_local_model(source)):
        return
    path = Path(str(source)).expanduser()
    if not path.is_dir():
        raise InputError(f"{option} {source}: no such model folder")
    missing = []
    if not (path / "config.json").is_file():
        missing.append("config.json")
    if not any((path / f).is_file() for f in WEIGHT_FILES) and not any(path.glob("*.safetensors")):
        missing.append("weights (model.safetensors or pytorch_model.bin)")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        missing.append("a tokenizer (tokenizer.json or tokenizer_config.json)")
    if missing:
        raise InputError(f"{option} {source}: not a saved causal LM (a Hugging Face checkpoint folder); "
                         f"missing {', '.join(missing)}")


@contextlib.contextmanager
def loading_model(source: str | Path, option: str = "--model", *, local: bool = False) -> Iterator[None]:
    """Around ``from_pretrained``: a folder or hub id it cannot load (bad config, unknown model type, no
    network for a hub id) is an InputError naming the option, with the library's first line."""
    check_model_source(source, option, local=local)
    try:
        yield
    except (OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{option} {source}: cannot load the model: {first}") from exc
