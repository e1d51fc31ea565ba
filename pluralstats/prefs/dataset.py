"""Write and read a preference dataset: parquet (validated), the prompt split beside it, a manifest.

For ``prefs.parquet`` the split is ``prefs.split.csv`` (``prompt_id,split`` with ``train``/``eval``)
and the manifest ``prefs.parquet.manifest.json``. The evaluation stage reads the split with
:func:`load_split` and generates on ``eval`` prompts only, so it never sees a training prompt.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError, ValidationError
from pluralstats.io import atomic_path, write_manifest
from pluralstats.schemas import validate_frame
from pluralstats.schemas.prefs import prefs_schema


def split_path_for(prefs_path: str | os.PathLike) -> Path:
    """``prefs.parquet`` -> ``prefs.split.csv``."""
    path = Path(prefs_path)
    return path.with_name(path.stem + ".split.csv")


def validate_preferences(df: pd.DataFrame, file: str = "<preferences>") -> pd.DataFrame:
    """Validate against the pandera schema; raise :class:`ValidationError` listing every problem."""
    out, problems = validate_frame(prefs_schema(), df, file)
    if problems:
        raise ValidationError("Invalid preference dataset", problems)
    return out


def write_preferences(df: pd.DataFrame, path: str | os.PathLike, *, split: pd.Series | None = None,
                      summary: object = None, inputs: Sequence[str | os.PathLike] = (),
                      options: Mapping[str, object] | None = None, seed: int | None = None) -> Path:
    """Validate, then write the parquet, the split CSV (if given) and the manifest, each atomically.

    An empty dataset is refused (InputError): nothing could be trained on it.
    """
    path = Path(path)
    if df.empty:
        detail = ""
        if summary is not None and hasattr(summary, "by_dimension"):
            last = summary.by_dimension.iloc[-1]
            detail = f": all {last.candidate_pairs} candidate pairs are ties"
        raise InputError(f"No preference pairs to write{detail}; try another scale, strategy or group")
    df = validate_preferences(df, str(path))
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    extra: dict[str, object] = {"rows": len(df)}
    if split is not None:
        split_file = split_path_for(path)
        with atomic_path(split_file) as tmp:
            split.rename("split").rename_axis("prompt_id").reset_index().to_csv(tmp, index=False)
        extra["split"] = {"file": split_file.name, "counts": split.value_counts().to_dict()}
    if summary is not None:
        extra["summary"] = summary.to_dict() if hasattr(summary, "to_dict") else summary
    write_manifest(path, "prefs", inputs=list(inputs), options=options, seed=seed, extra=extra)
    return path


def load_split(path: str | os.PathLike) -> pd.Series:
    """The recorded split (``prompt_id -> "train"/"eval"``) of a preference dataset or a split CSV."""
    path = Path(path)
    file = path if path.name.endswith(".split.csv") else split_path_for(path)
    if not file.exists():
        raise InputError(f"No split recorded beside {path} (expected {file})")
    frame = pd.read_csv(file, dtype=str)
    if list(frame.columns) != ["prompt_id", "split"] or not frame.split.isin(["train", "eval"]).all():
        raise InputError(f"{file} is not a split file (columns prompt_id,split with train/eval)")
    return frame.set_index("prompt_id").split


def load_preferences(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate a preference parquet."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Preference dataset not found: {path}")
    return validate_preferences(pd.read_parquet(path), str(path))
