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
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import Problem, ValidationError

Polarity = Literal["lower_is_better", "higher_is_better"]
STUDY_DIMENSIONS: dict[str, Polarity] = {
    "toxicity": "lower_is_better",
    "emotional_awareness": "higher_is_better",
    "sensitivity": "higher_is_better",
    "stereotypical_bias": "lower_is_better",
    "helpfulness": "higher_is_better",
}
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


@dataclass(frozen=True)
class SurveyConfig:
    name: str
    scale_max: int
    dimensions: dict[str, Dimension]
    attributes: dict[str, str]  # attribute -> reference level
    files: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_FILES))
    min_group_size: int = 5
    mapping: Mapping | None = None
    root: Path = Path(".")

    @property
    def scale_min(self) -> int:
        return 1

    def threshold(self, dimension: str) -> int:
        """Positive threshold of a dimension; default: the top 40% of the scale (4 and 5 of 5)."""
        dim = self.dimensions[dimension]
        if dim.positive_threshold is not None:
            return dim.positive_threshold
        return self.scale_max - max(1, round(0.4 * self.scale_max)) + 1

    def to_toml(self) -> str:
        """Serialise a canonical (mapping-free) config."""
        lines = [f'name = "{self.name}"', f"scale_max = {self.scale_max}",
                 f"min_group_size = {self.min_group_size}", "", "[files]"]
        lines += [f'{k} = "{v}"' for k, v in self.files.items()]
        for dim in self.dimensions.values():
            lines += ["", f"[dimensions.{dim.name}]", f'polarity = "{dim.polarity}"']
            if dim.positive_threshold is not None:
                lines.append(f"positive_threshold = {dim.positive_threshold}")
            if dim.label:
                lines.append(f'label = "{dim.label}"')
        lines += ["", "[attributes]  # attribute = reference level"]
        lines += [f'{k} = "{v}"' for k, v in self.attributes.items()]
        return "\n".join(lines) + "\n"


def _dimension(name: str, spec: object, problems: list[Problem], file: str) -> Dimension:
    if isinstance(spec, str):
        spec = {"polarity": spec}
    if not isinstance(spec, dict):
        problems.append(Problem(file, f"dimension '{name}' must be a table or a polarity string"))
        return Dimension(name)
    polarity = spec.get("polarity", STUDY_DIMENSIONS.get(name, "higher_is_better"))
    if polarity not in ("lower_is_better", "higher_is_better"):
        problems.append(Problem(file, f"dimension '{name}': polarity must be 'lower_is_better' or "
                                      f"'higher_is_better'", value=polarity))
        polarity = "higher_is_better"
    return Dimension(name, polarity, spec.get("positive_threshold"), spec.get("label"))


def load_config(path: str | Path) -> SurveyConfig:
    """Read ``survey.toml`` (a file, or a bundle folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "survey.toml"
    file = str(path)
    if not path.exists():
        raise ValidationError("Cannot read survey", [Problem(file, "file not found")])
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError("Cannot read survey", [Problem(file, f"not valid TOML: {exc}")]) from exc
    problems: list[Problem] = []
    scale_max = raw.get("scale_max")
    if not isinstance(scale_max, int) or scale_max < 2:
        problems.append(Problem(file, "scale_max must be an integer >= 2", column="scale_max",
                                value=scale_max))
        scale_max = 5
    dims_raw = raw.get("dimensions") or {}
    if not dims_raw:
        problems.append(Problem(file, "no [dimensions] declared"))
    dimensions = {n: _dimension(n, s, problems, file) for n, s in dims_raw.items()}
    for dim in dimensions.values():
        t = dim.positive_threshold
        if t is not None and not (isinstance(t, int) and 1 <= t <= scale_max):
            problems.append(Problem(file, f"dimension '{dim.name}': positive_threshold must be an "
                                          f"integer in 1..{scale_max}", value=t))
    attributes = {str(k): str(v) for k, v in (raw.get("attributes") or {}).items()}
    mapping = None
    if "mapping" in raw:
        known = set(Mapping.__dataclass_fields__)
        unknown = set(raw["mapping"]) - known
        if unknown:
            problems.append(Problem(file, f"unknown [mapping] keys {sorted(unknown)}; known: {sorted(known)}"))
        mapping = Mapping(**{k: v for k, v in raw["mapping"].items() if k in known})
        if mapping.layout not in ("long", "wide"):
            problems.append(Problem(file, "mapping.layout must be 'long' or 'wide'", value=mapping.layout))
        if mapping.layout == "wide" and not mapping.rating_columns:
            problems.append(Problem(file, "a wide mapping needs rating_columns = {dimension = column}"))
    min_group_size = raw.get("min_group_size", 5)
    if problems:
        raise ValidationError(f"Invalid survey configuration {file}", problems)
    return SurveyConfig(
        name=str(raw.get("name", path.parent.name)),
        scale_max=scale_max,
        dimensions=dimensions,
        attributes=attributes,
        files={**DEFAULT_FILES, **(raw.get("files") or {})},
        min_group_size=int(min_group_size),
        mapping=mapping,
        root=path.parent,
    )
