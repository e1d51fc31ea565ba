"""The survey bundle: read, map, validate, write. Its currency is :class:`Survey`.

``load_survey`` returns three validated DataFrames or raises :class:`ValidationError` listing
every problem (file, column, row, value). Small group cells are warnings, not errors.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pluralstats.schemas.survey import (
    ITEM_DEFAULTS,
    ITEM_REQUIRED,
    PARTICIPANT_REQUIRED,
    items_schema,
    participants_schema,
    ratings_schema,
)

from .config import SurveyConfig, load_config
from .errors import InputError, Problem, ValidationError
from .schemas import validate_frame

RATING_COLUMNS = ("participant_id", "item_id", "dimension", "rating")


def resolve_level(levels_of: dict[str, list[str]], spec: str) -> tuple[str, str]:
    """Find ``"attribute=level"`` or a bare level among ``levels_of``; unknown or ambiguous specs raise
    :class:`InputError` listing every known level (used for --group, --jury and compare --groups)."""
    listing = "; ".join(f"{a}: {', '.join(v)}" for a, v in levels_of.items())
    if "=" in spec:
        attribute, level = (s.strip() for s in spec.split("=", 1))
        if attribute not in levels_of:
            raise InputError(f"Unknown attribute '{attribute}'. Known levels: {listing}")
        if level not in levels_of[attribute]:
            raise InputError(f"Unknown level '{level}' of '{attribute}'. Known levels: {listing}")
        return attribute, level
    holders = [a for a, levels in levels_of.items() if spec in levels]
    if not holders:
        raise InputError(f"Unknown group '{spec}'. Known levels: {listing}")
    if len(holders) > 1:
        raise InputError(f"Group '{spec}' is ambiguous (a level of {', '.join(holders)}); "
                         f"write it as attribute=level. Known levels: {listing}")
    return holders[0], spec


class SmallGroupWarning(UserWarning):
    """A demographic cell has fewer raters than the survey's ``min_group_size`` (k)."""


@dataclass
class Survey:
    config: SurveyConfig
    ratings: pd.DataFrame  # participant_id, item_id, dimension, rating (int)
    participants: pd.DataFrame  # participant_id, country?, language?, attribute columns...
    items: pd.DataFrame  # item_id, prompt_id, prompt, response, language, source_model
    sources: list[Path] = field(default_factory=list)  # files read, for manifests
    warnings: list[str] = field(default_factory=list)

    @property
    def dimensions(self) -> list[str]:
        return list(self.config.dimensions)

    @property
    def attributes(self) -> list[str]:
        return [a for a in self.config.attributes if a in self.participants.columns]

    def levels(self, attribute: str) -> list[str]:
        return sorted(self.participants[attribute].dropna().astype(str).unique())

    def resolve_level(self, spec: str) -> tuple[str, str]:
        """``"political=liberal"`` or ``"liberal"`` -> ``("political", "liberal")``; clear error otherwise."""
        return resolve_level({a: self.levels(a) for a in self.attributes}, spec)

    def ratings_with_attributes(self) -> pd.DataFrame:
        """Ratings joined with the raters' attributes and the items' prompt ids (one merge, reused)."""
        cols = ["participant_id", *self.attributes]
        merged = self.ratings.merge(self.participants[cols], on="participant_id", how="left")
        return merged.merge(self.items[["item_id", "prompt_id", "language"]], on="item_id", how="left")

    def group_sizes(self, attribute: str) -> pd.Series:
        rated = self.participants[self.participants.participant_id.isin(self.ratings.participant_id)]
        return rated.groupby(attribute).participant_id.nunique().sort_values()


# ---------------------------------------------------------------- reading


def _read_table(path: Path, problems: list[Problem]) -> pd.DataFrame | None:
    file = str(path)
    if not path.exists():
        problems.append(Problem(file, "file not found"))
        return None
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
            frame = frame.astype({c: str for c in frame.columns if frame[c].dtype == object})
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=True, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        problems.append(Problem(file, "file is empty (no header, no rows)"))
        return None
    except Exception as exc:  # corrupt parquet, bad encoding, ragged CSV...
        problems.append(Problem(file, f"cannot be read: {type(exc).__name__}: {exc}"))
        return None
    if frame.empty:
        problems.append(Problem(file, "file has a header but no rows"))
        return None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _require(frame: pd.DataFrame, columns, file: str, problems: list[Problem]) -> bool:
    missing = [c for c in columns if c not in frame.columns]
    for col in missing:
        problems.append(Problem(file, f"required column is missing (found: {list(frame.columns)})", column=col))
    return not missing


def _from_mapping(config: SurveyConfig, problems: list[Problem], source: Path | None):
    """Split one raw export into the three canonical tables, renaming through the mapping."""
    m = config.mapping
    path = source or (config.root / m.source if m.source else None)
    if path is None:
        problems.append(Problem(str(config.root / "survey.toml"), "mapping.source names no file"))
        return None
    raw = _read_table(Path(path), problems)
    if raw is None:
        return None
    file = str(path)
    needed = [m.participant_id, m.item_id, *m.participant_columns.values(), *m.item_columns.values()]
    needed += list(m.rating_columns.values()) if m.layout == "wide" else [m.rating]
    if m.layout == "long" and m.dimension_value is None:
        needed.append(m.dimension)
    if not _require(raw, dict.fromkeys(needed), file, problems):
        return None
    raw = raw.reset_index(drop=True)
    base = pd.DataFrame({"participant_id": raw[m.participant_id], "item_id": raw[m.item_id]})
    if m.layout == "wide":
        parts = [base.assign(dimension=d, rating=raw[c], _row=raw.index + 1) for d, c in m.rating_columns.items()]
        ratings = pd.concat(parts, ignore_index=True)
    else:
        dim = raw[m.dimension] if m.dimension_value is None else m.dimension_value
        ratings = base.assign(dimension=dim, rating=raw[m.rating], _row=raw.index + 1)
    participants = raw[[m.participant_id, *m.participant_columns.values()]].copy()
    participants.columns = ["participant_id", *m.participant_columns.keys()]
    items = raw[[m.item_id, *m.item_columns.values()]].copy()
    items.columns = ["item_id", *m.item_columns.keys()]
    for table, key, label in ((participants, "participant_id", "participant"), (items, "item_id", "item")):
        per_key = table.drop_duplicates()
        clash = per_key[per_key.duplicated(key, keep=False)]
        for key_value in clash[key].unique()[:20]:
            problems.append(Problem(file, f"{label} '{key_value}' has conflicting values across rows",
                                    column=key))
    participants = participants.drop_duplicates(subset="participant_id").reset_index(drop=True)
    items = items.drop_duplicates(subset="item_id").reset_index(drop=True)
    return ratings, participants, items, [Path(path)], {"ratings": file, "participants": file, "items": file}


def _from_files(config: SurveyConfig, problems: list[Problem]):
    paths = {k: config.root / v for k, v in config.files.items()}
    tables = {k: _read_table(p, problems) for k, p in paths.items()}
    if any(t is None for t in tables.values()):
        return None
    ratings = tables["ratings"]
    if not _require(ratings, RATING_COLUMNS, str(paths["ratings"]), problems):
        return None
    ratings = ratings.assign(_row=range(1, len(ratings) + 1))
    return (ratings, tables["participants"], tables["items"], list(paths.values()),
            {k: str(p) for k, p in paths.items()})


def load_survey(path: str | Path, *, source: str | Path | None = None, strict: bool = False) -> Survey:
    """Read and validate a bundle (a folder with ``survey.toml``, or the toml itself).

    ``source`` overrides ``mapping.source``. With ``strict``, small-group warnings become errors.
    """
    config = load_config(path)
    problems: list[Problem] = []
    loaded = _from_mapping(config, problems, Path(source) if source else None) if config.mapping \
        else _from_files(config, problems)
    if loaded is None:
        raise ValidationError("Invalid survey bundle", problems)
    ratings, participants, items, sources, files = loaded
    ratings, participants, items = _validate(config, ratings, participants, items, files, problems)
    if problems:
        raise ValidationError("Invalid survey bundle", problems)
    survey = Survey(config, ratings, participants, items, sources)
    survey.warnings = small_group_warnings(survey)
    for message in survey.warnings:
        if strict:
            raise ValidationError("Invalid survey bundle", [Problem(files["participants"], message)])
        warnings.warn(message, SmallGroupWarning, stacklevel=2)
    return survey


def _validate(config, ratings, participants, items, files, problems):
    ratings = ratings.copy()
    row_of = ratings["_row"]
    ratings, found = validate_frame(ratings_schema(config), ratings, files["ratings"], row_of)
    problems += found
    if _require(participants, PARTICIPANT_REQUIRED, files["participants"], problems):
        for attr in config.attributes:
            if attr not in participants.columns:
                problems.append(Problem(files["participants"], "demographic attribute named in survey.toml "
                                        "is missing", column=attr))
        participants, found = validate_frame(participants_schema(config, list(participants.columns)),
                                             participants, files["participants"])
        problems += found
        for attr, reference in config.attributes.items():
            levels = set(participants[attr].dropna().astype(str)) if attr in participants.columns else set()
            if levels and reference not in levels:
                problems.append(Problem(files["participants"], f"reference level '{reference}' (survey.toml "
                                        f"[attributes]) does not occur; levels: {sorted(levels)}", column=attr))
    if _require(items, ITEM_REQUIRED, files["items"], problems):
        items = items.copy()
        for col, default in ITEM_DEFAULTS.items():
            if col not in items.columns:
                items[col] = items["item_id"] if col == "prompt_id" else default
        items["prompt"] = items["prompt"].fillna("")
        items, found = validate_frame(items_schema(), items, files["items"])
        problems += found
    for table, col, label, file in ((participants, "participant_id", "participant", files["participants"]),
                                    (items, "item_id", "item", files["items"])):
        if col not in table.columns:
            continue
        unknown = ratings[col].notna() & ~ratings[col].isin(table[col])
        bad = ratings.loc[unknown].head(50)
        for row, value in zip(bad["_row"], bad[col], strict=True):
            problems.append(Problem(files["ratings"], f"rating for an unknown {label} (not in {file})",
                                    column=col, row=int(row), value=value))
        if unknown.sum() > 50:
            problems.append(Problem(files["ratings"], f"... and {int(unknown.sum()) - 50} more unknown {label}s",
                                    column=col))
    if problems:
        return ratings, participants, items
    ratings = ratings.drop(columns="_row").reset_index(drop=True)
    ratings["rating"] = pd.to_numeric(ratings["rating"]).astype("int64")
    return ratings, participants.reset_index(drop=True), items.reset_index(drop=True)


def small_group_warnings(survey: Survey) -> list[str]:
    k = survey.config.min_group_size
    messages = []
    for attr in survey.attributes:
        sizes = survey.group_sizes(attr)
        for level, n in sizes[sizes < k].items():
            messages.append(f"group {attr}={level} has {n} rater{'s' if n != 1 else ''} (< k={k}); "
                            f"estimates for it lean on partial pooling and it is suppressed in reports")
    return messages


def save_survey(survey: Survey, folder: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write a canonical bundle (CSV + survey.toml + any ``extra_files`` name -> text) atomically."""
    from .io import atomic_path

    folder = Path(folder)
    canonical = SurveyConfig(**{**survey.config.__dict__, "mapping": None,
                                "files": {"ratings": "ratings.csv", "participants": "participants.csv",
                                          "items": "items.csv"}})
    with atomic_path(folder, is_dir=True) as tmp:
        survey.ratings.to_csv(tmp / "ratings.csv", index=False)
        survey.participants.to_csv(tmp / "participants.csv", index=False)
        survey.items.to_csv(tmp / "items.csv", index=False)
        (tmp / "survey.toml").write_text(canonical.to_toml())
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text)
    return folder
