"""``survey.toml``: the scale, the dimensions and their polarity, reference levels, column mapping.

A canonical bundle names its three files under ``[files]``. A raw export (Prolific, Qualtrics,
POPQUORN-style) is read through ``[mapping]`` instead, without editing the export:

```toml
[mapping]
source = "raw.csv"            # one file with ratings and the raters' / items' columns
layout = "long"               # or "wide": one column per dimension
participant_id = "user_id"
item_id = "instance_id"
rating = "offensiveness"      # long layout: the rating column
dimension = "dimension"       # long layout: the column naming the dimension, or instead
dimension_value = "offensiveness"  # the one dimension of a one-dimension export
# wide layout instead: rating_columns = { toxicity = "Q1", helpfulness = "Q2" }
participant_columns = { gender = "gender", race_ethnicity = "race" }
item_columns = { response = "text" }
rating_values = { "-1" = 1, "1" = 2 }   # optional: recode raw rating values (text labels too)
# texts (or raters) in a second file, joined on their own key column:
# items_source = { file = "comments.csv", key = "comment_id", columns = { response = "text" } }
```

Every key is checked: an unknown one is refused with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pluralstats.errors import Problem, ValidationError

Polarity = Literal["lower_is_better", "higher_is_better"]
STUDY_DIMENSIONS: dict[str, Polarity] = {
    "toxicity": "lower_is_better",
    "emotional_awareness": "higher_is_better",
    "sensitivity": "higher_is_better",
    "stereotypical_bias": "lower_is_better",
    "helpfulness": "higher_is_better",
}
MAX_SCALE = 101  # a 0-100 slider recoded to 1..101 fits; a larger scale sizes the model's cut points and tables
DEFAULT_FILES = {"ratings": "ratings.csv", "participants": "participants.csv", "items": "items.csv"}


@dataclass(frozen=True)
class Dimension:
    """A rated quality. ``positive_threshold``: a rating >= it counts as positive (Figure 1)."""

    name: str
    polarity: Polarity = "higher_is_better"
    positive_threshold: int | None = None
    label: str | None = None

    @property
    def sign(self) -> int:
        """+1 when a higher rating is better, -1 when a lower one is."""
        return 1 if self.polarity == "higher_is_better" else -1


@dataclass(frozen=True)
class SideTable:
    """A second raw file holding the items' (or raters') columns, joined to the ratings on ``key``.

    ``columns``: canonical name -> column of ``file``; ``key`` holds the ids the ratings file names.
    """

    file: str
    key: str
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    """How to read a raw export into the canonical bundle (see the module docstring)."""

    source: str | None = None
    layout: Literal["long", "wide"] = "long"
    participant_id: str = "participant_id"
    item_id: str = "item_id"
    rating: str | None = "rating"
    dimension: str | None = "dimension"  # long layout: the column holding the dimension name
    dimension_value: str | None = None  # long layout without such a column: the one dimension's name
    rating_columns: dict[str, str] = field(default_factory=dict)
    participant_columns: dict[str, str] = field(default_factory=dict)
    item_columns: dict[str, str] = field(default_factory=dict)
    rating_values: dict[str, int] | None = None  # raw rating text -> rating 1..scale_max
    items_source: SideTable | None = None
    participants_source: SideTable | None = None


TOP_KEYS = ("name", "scale_max", "min_group_size", "missing_values", "files", "dimensions", "attributes", "mapping",
            "model")
MODEL_KEYS = ("disagreement",)  # [model] disagreement = ["political"]: attributes with group x item terms
DIMENSION_KEYS = ("polarity", "positive_threshold", "label")
SIDE_TABLE_KEYS = ("file", "key", "columns")
MAPPING_KEYS = tuple(Mapping.__dataclass_fields__)
CANONICAL_KEYS = ("participant_id", "item_id", "_row")  # "_row": the reader's own row-number column
#: names an attribute cannot have: the columns ratings, items and the "all" row of every group table hold, and
#: those the commands add beside the raters' attributes (prefs' ``member`` and ``w``); an attribute so named
#: would be merged over (or into) them
RESERVED_ATTRIBUTES = (*CANONICAL_KEYS, "dimension", "rating", "prompt_id", "prompt", "response", "language",
                       "source_model", "all", "member", "w")


@dataclass(frozen=True)
class SurveyConfig:
    """A survey's settings from survey.toml: the rating scale (1..``scale_max``), the rated dimensions, the rater
    attributes with their reference levels, the data files and column mapping, the smallest group size ``k``
    that may be reported (``min_group_size``) and the default disagreement attributes for fit-survey."""

    name: str
    scale_max: int
    dimensions: dict[str, Dimension]
    attributes: dict[str, str]  # attribute -> reference level
    files: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FILES))
    min_group_size: int = 5
    mapping: Mapping | None = None
    root: Path = Path(".")
    disagreement: tuple[str, ...] = ()  # [model] disagreement: fit-survey's default --disagreement
    #: cell values read as missing besides a blank cell (survey.toml ``missing_values``; none by default, so a
    #: level "None" or the country code "NA" is a level)
    missing_values: tuple[str, ...] = ()

    def threshold(self, dimension: str) -> int:
        """Positive threshold of a dimension; default: the top 40% of the scale (4 and 5 of 5)."""
        dim = self.dimensions[dimension]
        if dim.positive_threshold is not None:
            return dim.positive_threshold
        return self.scale_max - max(1, round(0.4 * self.scale_max)) + 1

    def to_toml(self) -> str:
        """Serialise a canonical (mapping-free) config."""
        lines = [f'name = "{self.name}"', f"scale_max = {self.scale_max}",
                 f"min_group_size = {self.min_group_size}"]
        if self.missing_values:
            lines.append("missing_values = [" + ", ".join(_toml_string(v) for v in self.missing_values) + "]")
        lines += ["", "[files]"]
        lines += [f'{k} = "{v}"' for k, v in self.files.items()]
        for dim in self.dimensions.values():
            lines += ["", f"[dimensions.{dim.name}]", f'polarity = "{dim.polarity}"']
            if dim.positive_threshold is not None:
                lines.append(f"positive_threshold = {dim.positive_threshold}")
            if dim.label:
                lines.append(f'label = "{dim.label}"')
        lines += ["", "[attributes]  # attribute = reference level"]
        lines += [f'{k} = "{v}"' for k, v in self.attributes.items()]
        if self.disagreement:
            lines += ["", "[model]", "disagreement = [" + ", ".join(f'"{a}"' for a in self.disagreement) + "]"]
        return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    """A TOML basic string of ``text`` (JSON's escapes are TOML's)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def _dotted(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


class _Reader:
    """Reads survey.toml's tables, collecting a :class:`Problem` for every unknown key or ill-typed value.

    ``where`` is the dotted name of the table holding ``key`` (``"mapping.items_source"``; ``""`` at the top).
    """

    def __init__(self, file: str):
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, message: str, value: object = None) -> None:
        self.problems.append(Problem(self.file, message, value=value))

    def table(self, raw: dict, key: str, where: str) -> dict:
        """``raw[key]`` when it is a table (or absent: empty), else a problem and an empty table."""
        value = raw.get(key, {})
        if isinstance(value, dict):
            return value
        self.problem(f"{_dotted(where, key)} must be a table")
        return {}

    def known_keys(self, raw: dict, known: tuple[str, ...], where: str) -> None:
        """Refuse keys outside ``known``, suggesting the nearest one."""
        for key in raw:
            if key in known:
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}"
            place = f"[{where}]" if where else "survey.toml's top level"
            self.problem(f"unknown key '{key}' in {place}; {hint}")

    def string(self, raw: dict, key: str, where: str, default: str | None = None) -> str | None:
        value = raw.get(key, default)
        if value is None or isinstance(value, str):
            return value
        self.problem(f"{_dotted(where, key)} must be a string", value)
        return default

    def strings(self, raw: dict, key: str, where: str) -> dict[str, str]:
        """A table of strings (canonical name -> raw column)."""
        table = self.table(raw, key, where)
        bad = {k: v for k, v in table.items() if not isinstance(v, str)}
        for k, v in bad.items():
            self.problem(f"{_dotted(where, key)}.{k} must be a string (a column name)", v)
        return {k: v for k, v in table.items() if k not in bad}

    def integer(self, raw: dict, key: str, low: int, default: int, high: int | None = None) -> int:
        value = raw.get(key, default)
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= (high or value):
            return value
        span = f"in {low}..{high}" if high is not None else f">= {low}"
        self.problem(f"{key} must be an integer {span}", value)
        return default


def _dimension(name: str, spec: object, reader: _Reader, scale_max: int) -> Dimension:
    if isinstance(spec, str):
        spec = {"polarity": spec}
    if not isinstance(spec, dict):
        reader.problem(f"dimension '{name}' must be a table or a polarity string")
        return Dimension(name)
    where = f"dimensions.{name}"
    reader.known_keys(spec, DIMENSION_KEYS, where)
    polarity = spec.get("polarity", STUDY_DIMENSIONS.get(name, "higher_is_better"))
    if polarity not in ("lower_is_better", "higher_is_better"):
        reader.problem(f"dimension '{name}': polarity must be 'lower_is_better' or 'higher_is_better'",
                       polarity)
        polarity = "higher_is_better"
    threshold = spec.get("positive_threshold")
    if threshold is not None and not (isinstance(threshold, int) and not isinstance(threshold, bool)
                                      and 1 <= threshold <= scale_max):
        reader.problem(f"dimension '{name}': positive_threshold must be an integer in 1..{scale_max}",
                       threshold)
        threshold = None
    return Dimension(name, polarity, threshold, reader.string(spec, "label", where))


def _side_table(raw: dict, key: str, reader: _Reader) -> SideTable | None:
    where = f"mapping.{key}"
    spec = reader.table(raw, key, "mapping")
    if not spec:
        return None
    reader.known_keys(spec, SIDE_TABLE_KEYS, where)
    file, id_column = reader.string(spec, "file", where), reader.string(spec, "key", where)
    if not file or not id_column:
        reader.problem(f"[{where}] needs file = \"...\" and key = \"<id column>\"")
        return None
    return SideTable(file, id_column, reader.strings(spec, "columns", where))


def _mapping(raw: dict, reader: _Reader, dimensions: dict[str, Dimension], scale_max: int) -> Mapping:
    where = "mapping"
    reader.known_keys(raw, MAPPING_KEYS, where)
    defaults = Mapping()
    strings = {k: reader.string(raw, k, where, getattr(defaults, k))
               for k in ("source", "layout", "participant_id", "item_id", "rating", "dimension", "dimension_value")}
    tables = {k: reader.strings(raw, k, where) for k in ("rating_columns", "participant_columns", "item_columns")}
    values = reader.table(raw, "rating_values", where)
    for label, rating in values.items():
        if not (isinstance(rating, int) and not isinstance(rating, bool) and 1 <= rating <= scale_max):
            reader.problem(f"mapping.rating_values: '{label}' must map to an integer in 1..{scale_max}",
                           rating)
    mapping = Mapping(**strings, **tables, rating_values=dict(values) or None,
                      items_source=_side_table(raw, "items_source", reader),
                      participants_source=_side_table(raw, "participants_source", reader))
    if mapping.layout not in ("long", "wide"):
        reader.problem("mapping.layout must be 'long' or 'wide'", mapping.layout)
    if mapping.layout == "wide" and not mapping.rating_columns:
        reader.problem("a wide mapping needs rating_columns = {dimension = column}")
    if mapping.layout == "long" and mapping.rating_columns:
        reader.problem("mapping.rating_columns is for layout = \"wide\"; a long mapping names one rating column")
    named = [mapping.dimension_value] if mapping.layout == "long" and mapping.dimension_value else []
    named += list(mapping.rating_columns) if mapping.layout == "wide" else []
    for dim in named:
        if dim not in dimensions:
            reader.problem(f"mapping names dimension '{dim}', which [dimensions] does not declare")
    for side, columns in (("items_source", "item_columns"), ("participants_source", "participant_columns")):
        if getattr(mapping, side) is not None and getattr(mapping, columns):
            reader.problem(f"give mapping.{columns} or [mapping.{side}], not both")
    if mapping.layout == "long" and "dimension" in raw and mapping.dimension_value is not None:
        reader.problem("give mapping.dimension (a column) or mapping.dimension_value (the one dimension), not both")
    for columns in ("participant_columns", "item_columns"):
        for name in CANONICAL_KEYS:
            if name in getattr(mapping, columns):
                reader.problem(f"mapping.{columns} cannot rename a column to '{name}' (set mapping.{name})")
    # the rater id column read as anything else would print participant ids (as levels, texts, values)
    elsewhere = {f"mapping.{t}.{k}": v for t in ("participant_columns", "item_columns", "rating_columns")
                 for k, v in getattr(mapping, t).items()}
    elsewhere.update({f"mapping.{k}": getattr(mapping, k) for k in ("item_id", "rating", "dimension")
                      if k in raw})
    raters_file = mapping.participants_source
    for key, column in (raters_file.columns.items() if raters_file is not None else ()):
        if column == raters_file.key:  # the raters file's key holds the participant ids under its own name
            reader.problem(f"mapping.participants_source.columns.{key} names the key column of the raters file, "
                           f"which holds the participant ids; they are never shown, so they cannot be read as "
                           f"anything else")
    for key, column in elsewhere.items():
        if column == mapping.participant_id:
            reader.problem(f"{key} names the rater id column (mapping.participant_id); participant ids are "
                           f"never shown, so they cannot be read as anything else")
    return mapping


def load_config(path: str | Path) -> SurveyConfig:
    """Read ``survey.toml`` (a file, or a bundle folder holding one), refusing unknown keys and bad values."""
    path = Path(path)
    if path.is_dir():
        path = path / "survey.toml"
    file = str(path)
    if not path.is_file():
        raise ValidationError("Cannot read survey", [Problem(file, "file not found")])
    try:
        text = path.read_text(encoding="utf-8-sig")  # a byte order mark, as editors on Windows write it
    except (UnicodeDecodeError, OSError) as exc:
        raise ValidationError("Cannot read survey", [Problem(file, f"cannot be read: {exc}")]) from exc
    try:
        raw = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
        reason = exc if isinstance(exc, tomllib.TOMLDecodeError) else "nested too deeply"
        raise ValidationError("Cannot read survey", [Problem(file, f"not valid TOML: {reason}")]) from exc
    reader = _Reader(file)
    reader.known_keys(raw, TOP_KEYS, "")
    if "scale_max" not in raw:
        reader.problem(f"scale_max is missing (ratings are integers 1..scale_max; an integer in 2..{MAX_SCALE})")
    scale_max = reader.integer(raw, "scale_max", 2, 5, high=MAX_SCALE)
    min_group_size = reader.integer(raw, "min_group_size", 1, 5)
    dims_raw = reader.table(raw, "dimensions", "")
    if not dims_raw:
        reader.problem("no [dimensions] declared")
    dimensions = {n: _dimension(n, s, reader, scale_max) for n, s in dims_raw.items()}
    attributes_raw = reader.table(raw, "attributes", "")
    for attr, level in attributes_raw.items():
        if attr in RESERVED_ATTRIBUTES:
            reader.problem(f"attributes.{attr}: '{attr}' is a reserved column name and cannot be a demographic "
                           f"attribute; rename the participants column (or map it under another name with "
                           f"[mapping] participant_columns)")
        elif isinstance(level, (dict, list)):
            reader.problem(f"attributes.{attr} must be the attribute's reference level (a string)")
    attributes = {str(k): str(v).strip() for k, v in attributes_raw.items()  # levels are read trimmed
                  if not isinstance(v, (dict, list)) and k not in RESERVED_ATTRIBUTES}
    missing_values = raw.get("missing_values", [])
    if not (isinstance(missing_values, list) and all(isinstance(v, str) for v in missing_values)):
        reader.problem("missing_values must be a list of strings (cell values read as missing, e.g. [\"NA\"])")
        missing_values = []
    files_raw = reader.table(raw, "files", "")
    reader.known_keys(files_raw, tuple(DEFAULT_FILES), "files")
    files = {k: reader.string(files_raw, k, "files", v) for k, v in DEFAULT_FILES.items()}
    mapping = None
    if "mapping" in raw and "files" in raw:
        reader.problem("give [files] (a canonical bundle) or [mapping] (a raw export), not both")
    if "mapping" in raw:
        mapping = _mapping(reader.table(raw, "mapping", ""), reader, dimensions, scale_max)
    model_raw = reader.table(raw, "model", "")
    reader.known_keys(model_raw, MODEL_KEYS, "model")
    disagreement = model_raw.get("disagreement", [])
    if not (isinstance(disagreement, list) and all(isinstance(a, str) for a in disagreement)):
        reader.problem("[model].disagreement must be a list of attribute names")
        disagreement = []
    name = reader.string(raw, "name", "", path.parent.name)
    if reader.problems:
        raise ValidationError(f"Invalid survey configuration {file}", reader.problems)
    return SurveyConfig(
        name=name or path.parent.name,
        scale_max=scale_max,
        dimensions=dimensions,
        attributes=attributes,
        files=files,
        min_group_size=min_group_size,
        mapping=mapping,
        root=path.parent,
        disagreement=tuple(disagreement),
        missing_values=tuple(v.strip() for v in missing_values),
    )
