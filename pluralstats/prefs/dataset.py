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
import pandera.pandas as pa

from pluralstats.errors import InputError, Problem, ValidationError
from pluralstats.io import atomic_path, write_manifest
from pluralstats.schemas import validate_frame
from pluralstats.schemas.preference_tables import cell_type_problems, pairs_schema
from pluralstats.schemas.preference_tables import prefs_schema as _contract
from pluralstats.survey.split import read_split_csv, write_split_csv

from .strategy_registry import available_strategies


def split_path_for(prefs_path: str | os.PathLike) -> Path:
    """``prefs.parquet`` -> ``prefs.split.csv``."""
    path = Path(prefs_path)
    return path.with_name(path.stem + ".split.csv")


def prefs_schema() -> pa.DataFrameSchema:
    """The preference dataset's pandera schema, its strategies those installed (the strategy registry)."""
    return _contract(available_strategies())


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
    # the frame was built in memory: name it as such, not as the (not yet written) output file
    df = validate_preferences(df, f"preference pairs to be written to {path.name}")
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)
    extra: dict[str, object] = {"rows": len(df)}
    if split is not None:
        split_file = write_split_csv(split, split_path_for(path))
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
    return read_split_csv(file)


def load_preferences(data: str | os.PathLike | pd.DataFrame, *, provenance: bool = True) -> pd.DataFrame:
    """Read (a parquet path) or take (a DataFrame or ``datasets.Dataset``) preference pairs and validate them.

    The one reader of preference data, so every stage applies the same rules (data/schemas/preferences.json):
    ``prompt``, ``chosen``, ``rejected`` non-empty strings, ``weight`` a number in (0, 1]. With
    ``provenance`` the whole schema ``pluralstats prefs`` writes is required; without it only the TRL
    columns are (any others are kept), and a missing ``weight`` column means 1.0 for every pair.
    Bad input raises :class:`ValidationError` naming the file, column and row of each problem.
    """
    file = str(data) if isinstance(data, (str, os.PathLike)) else "<preferences>"
    if isinstance(data, (str, os.PathLike)):
        frame = _read_parquet(Path(data))
    elif isinstance(data, pd.DataFrame):
        frame = data.reset_index(drop=True)  # rows are reported by position (1-based)
    elif hasattr(data, "to_pandas"):  # a datasets.Dataset (not imported here: it is an optional extra)
        frame = data.to_pandas()
    else:
        raise InputError(f"Preferences must be a parquet path or a table, got {type(data).__name__}")
    if frame.empty:
        raise InputError("Invalid preference dataset", [Problem(file, "no preference pairs")])
    if not provenance and "weight" not in frame.columns:
        frame["weight"] = 1.0
    # wrong cell types first: pandera would name the column's dtype once, without the rows
    problems = cell_type_problems(frame, file)
    if problems:
        raise ValidationError("Invalid preference dataset", problems)
    if "weight" in frame.columns:  # integer weights (1) are valid numbers; the schema's dtype is float
        frame["weight"] = frame["weight"].astype("float64")
    out, problems = validate_frame(prefs_schema() if provenance else pairs_schema(), frame, file)
    if problems:
        raise ValidationError("Invalid preference dataset", problems)
    return out


def _read_parquet(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("Cannot read preferences", [Problem(str(path), "file not found")])
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises several types for a file that is not parquet
        raise InputError("Cannot read preferences",
                         [Problem(str(path), f"not a parquet file ({type(exc).__name__})")]) from exc
