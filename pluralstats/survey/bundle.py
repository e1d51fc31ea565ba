"""The survey bundle: read, map, validate, write. Its currency is :class:`Survey`.

``load_survey`` returns three validated DataFrames or raises :class:`ValidationError` listing
every problem (file, column, row, value). Small group cells are warnings, not errors.

Input is treated as hostile: CSV headers and field counts are read by hand (pandas would rename a repeated
column or take a column as the index), files survey.toml names must lie inside the bundle folder unless
``allow_outside_paths``, a raw export's rows are reported by their row in that file and its own column
names, and no message shows a participant id or a line of a file it could not make sense of.

The steps live beside this module: :mod:`.reading` (the files, checked by hand), :mod:`.mapping` (a raw export or
``[files]`` to the canonical tables) and :mod:`.validation` (schemas, attributes and keys).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError, Problem, ValidationError

from .mapping import _from_files, _from_mapping
from .survey_config import SurveyConfig, load_config
from .validation import _validate


def match_level(levels_of: dict[str, list[str]], attribute: str, level: str) -> str:
    """The level of ``attribute`` that ``level`` names: exactly, else case-insensitively. Unknown or
    ambiguous (two levels differing only in case) names raise :class:`InputError` listing the candidates."""
    known = levels_of[attribute]
    if level in known:
        return level
    hits = [v for v in known if v.casefold() == level.casefold()]
    if len(hits) > 1:
        raise InputError(f"Level '{level}' of '{attribute}' is ambiguous: it matches {', '.join(hits)} "
                         "(levels differing only in case); write it exactly")
    if not hits:
        raise InputError(f"Unknown level '{level}' of '{attribute}'; known: {', '.join(known)}")
    return hits[0]


def resolve_level(levels_of: dict[str, list[str]], spec: str) -> tuple[str, str]:
    """Find ``"attribute=level"`` or a bare level among ``levels_of``, matching names case-insensitively
    when nothing matches exactly; unknown or ambiguous specs raise :class:`InputError` listing the
    candidates or every known level (used for --group, --jury and compare --groups)."""
    listing = "; ".join(f"{a}: {', '.join(v)}" for a, v in levels_of.items())
    if "=" in spec:
        attribute, level = (s.strip() for s in spec.split("=", 1))
        if attribute not in levels_of:
            folded = [a for a in levels_of if a.casefold() == attribute.casefold()]
            if len(folded) != 1:
                raise InputError(f"Unknown attribute '{attribute}'. Known levels: {listing}")
            attribute = folded[0]
        try:
            return attribute, match_level(levels_of, attribute, level)
        except InputError as exc:
            raise InputError(f"{exc}. Known levels: {listing}") from None
    holders = [(a, spec) for a, levels in levels_of.items() if spec in levels]
    if not holders:
        holders = [(a, v) for a, levels in levels_of.items() for v in levels if v.casefold() == spec.casefold()]
    if not holders:
        raise InputError(f"Unknown group '{spec}'. Known levels: {listing}")
    if len(holders) > 1:
        raise InputError(f"Group '{spec}' is ambiguous: it matches {', '.join(f'{a}={v}' for a, v in holders)}; "
                         f"write it as attribute=level. Known levels: {listing}")
    return holders[0]


class SmallGroupWarning(UserWarning):
    """A demographic cell has fewer raters than the survey's ``min_group_size`` (k)."""


@dataclass
class Survey:
    """A loaded survey: its survey.toml settings and three tables in canonical columns (ratings in long
    form, one row per participant, one row per rated item), with the files read and any load warnings."""

    config: SurveyConfig
    ratings: pd.DataFrame  # participant_id, item_id, dimension, rating (int)
    participants: pd.DataFrame  # participant_id, country?, language?, attribute columns...
    items: pd.DataFrame  # item_id, prompt_id, prompt, response, language, source_model
    sources: list[Path] = field(default_factory=list)  # files read, for manifests
    warnings: list[str] = field(default_factory=list)

    @property
    def dimensions(self) -> list[str]:
        """The rated dimensions in survey.toml's order (the order every table and figure uses)."""
        return list(self.config.dimensions)

    @property
    def attributes(self) -> list[str]:
        """survey.toml's rater attributes that the participants table has, in survey.toml's order."""
        return [a for a in self.config.attributes if a in self.participants.columns]

    def levels(self, attribute: str) -> list[str]:
        """The attribute's levels among the participants, as strings, sorted (missing values left out)."""
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
        """Raters per level of ``attribute``, counting only participants with at least one rating; smallest first."""
        # unique() first: isin over an arrow-backed column converts every value it is given one by one
        rated = self.participants[self.participants.participant_id.isin(self.ratings.participant_id.unique())]
        return rated.groupby(attribute).participant_id.nunique().sort_values()


def load_survey(path: str | Path, *, source: str | Path | None = None, strict: bool = False,
                allow_outside_paths: bool = False) -> Survey:
    """Read and validate a bundle (a folder with ``survey.toml``, or the toml itself).

    ``source`` overrides ``mapping.source``. With ``strict``, small-group warnings become errors. Files that
    survey.toml names must lie inside the bundle folder unless ``allow_outside_paths``.
    """
    config = load_config(path)
    problems: list[Problem] = []
    loaded = _from_mapping(config, problems, Path(source) if source else None, allow_outside_paths) \
        if config.mapping else _from_files(config, problems, allow_outside_paths)
    if loaded is None:
        raise ValidationError("Invalid survey bundle", problems)
    ratings, participants, items, sources = loaded
    ratings, participants, items = _validate(config, ratings, participants, items, problems)
    if problems:
        raise ValidationError("Invalid survey bundle", problems)
    survey = Survey(config, ratings, participants, items, sources)
    survey.warnings = small_group_warnings(survey)
    for message in survey.warnings:
        if strict:
            raise ValidationError("Invalid survey bundle", [Problem(str(sources[0]), message)])
        warnings.warn(message, SmallGroupWarning, stacklevel=2)
    return survey


def small_group_warnings(survey: Survey) -> list[str]:
    """A warning per attribute level with fewer than ``min_group_size`` raters (the count itself not shown)."""
    k = survey.config.min_group_size
    messages = []
    for attr in survey.attributes:
        sizes = survey.group_sizes(attr)
        for level in sizes[sizes < k].index:  # the count itself is a small cell: not printed
            messages.append(f"group {attr}={level} has fewer than k={k} raters; its level effect rests largely "
                            "on the prior (fit-survey --pooled-levels shrinks it toward the attribute's mean), "
                            "and it is suppressed in reports")
    return messages


def save_survey(survey: Survey, folder: str | Path, extra_files: dict[str, str] | None = None) -> Path:
    """Write a canonical bundle (CSV + survey.toml + any ``extra_files`` name -> text) atomically."""
    from pluralstats.io import atomic_path

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
