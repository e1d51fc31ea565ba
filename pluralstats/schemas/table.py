"""The data contract as Frictionless Table Schema JSON files shipped with this package, read into pandera schemas.

Each table's columns, types, required/unique constraints, ranges and keys are declared once, in
``data/schemas/<table>.json`` at the top of the repository (Table Schema: ``fields``, ``constraints``,
``primaryKey``, and ``fieldsMatch`` for whether other columns are allowed). What depends on the data at hand (a survey's
dimensions and scale, the installed strategies) and checks across columns or tables stay in code and are
added by the caller (``checks``, ``columns``, ``frame_checks``).

pandera's own reader (``pandera.io.pandas_io.from_frictionless_schema``) needs the ``frictionless``
package and always coerces and forbids extra columns; the subset of Table Schema used here is small, so
it is read directly. Every ``*.json`` in :func:`schema_dir` must be valid Table Schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pandera.pandas as pa

#: Table Schema field type -> pandera dtype (None: any)
DTYPES: dict[str, Any] = {"string": str, "integer": "int64", "number": float, "boolean": bool, "any": None}
#: Table Schema ``fieldsMatch`` -> pandera (strict, ordered)
FIELDS_MATCH = {"exact": (True, True), "equal": (True, False), "superset": (False, False)}


#: where a wheel puts ``data/schemas/`` inside this package (pyproject.toml, ``[tool.hatch.build.targets.wheel]``)
INSTALLED_DIR = "json"


@cache
def schema_dir() -> Traversable:
    """The folder the Table Schema JSON files are read from: the one place that decides it.

    The files live in the repository's top-level ``data/schemas/``, outside the package, where users read them.
    Two places, because the package runs two ways:

    - installed from a wheel: the repository is not there, so the build copies ``data/schemas/`` into the package
      as ``pluralstats/schemas/json/``; that copy is read (as package data, so zipped installs work too).
    - an editable/development install (``pip install -e .``): the package is the source tree, which has no
      ``json/`` folder (the copy is made only when a wheel is built), so ``<repo>/data/schemas/`` is read
      directly and edits to it need no reinstall.
    """
    installed = resources.files(__package__).joinpath(INSTALLED_DIR)
    if installed.is_dir():
        return installed
    source = Path(__file__).resolve().parents[2] / "data" / "schemas"
    if source.is_dir():
        return source
    raise FileNotFoundError(f"the Table Schema files are in neither {installed} (an installed wheel) nor {source} "
                            "(a source checkout); reinstall pluralstats")


@cache
def _read(name: str) -> str:
    return schema_dir().joinpath(f"{name}.json").read_text(encoding="utf-8")


def table_schema(name: str) -> dict[str, Any]:
    """The Table Schema of table ``name`` (``ratings``, ``participants``, ``items``, ``preferences``, ``pairs``)."""
    return json.loads(_read(name))


def available_tables() -> list[str]:
    """Names of the tables whose contract ships with the package."""
    return sorted(p.name.removesuffix(".json") for p in schema_dir().iterdir() if p.name.endswith(".json"))


def _number_check(name: str, c: Mapping[str, Any]) -> pa.Check | None:
    low_open, high_open = "exclusiveMinimum" in c, "exclusiveMaximum" in c
    low = c.get("exclusiveMinimum", c.get("minimum"))
    high = c.get("exclusiveMaximum", c.get("maximum"))
    if low is not None and high is not None:
        rule = f"{name} in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        return pa.Check.in_range(low, high, include_min=not low_open, include_max=not high_open, error=rule)
    if low is not None:
        return pa.Check.gt(low) if low_open else pa.Check.ge(low)
    if high is not None:
        return pa.Check.lt(high) if high_open else pa.Check.le(high)
    return None


def field_checks(field: Mapping[str, Any]) -> list[pa.Check]:
    """The pandera checks of one field's ``constraints`` (lengths, range, enum, pattern)."""
    c = field.get("constraints", {})
    checks = []
    if "minLength" in c or "maxLength" in c:
        lo, hi = c.get("minLength"), c.get("maxLength")
        checks.append(pa.Check.str_length(min_value=lo, max_value=hi,
                                          error="non-empty text" if (lo, hi) == (1, None) else None))
    number = _number_check(field["name"], c)
    if number is not None:
        checks.append(number)
    if "enum" in c:
        checks.append(pa.Check.isin(list(c["enum"])))
    if "pattern" in c:
        checks.append(pa.Check.str_matches(c["pattern"]))
    return checks


def pandera_schema(name: str, *, checks: Mapping[str, Sequence[pa.Check]] | None = None,
                   columns: Mapping[str, pa.Column] | None = None,
                   frame_checks: Sequence[pa.Check] = ()) -> pa.DataFrameSchema:
    """The pandera schema of table ``name`` from its Table Schema.

    ``checks``: further checks per declared field (e.g. the survey's dimensions); ``columns``: columns that
    replace a declared field or add one the contract leaves to the data (e.g. the survey's attributes);
    ``frame_checks``: checks across columns. A multi-field ``primaryKey`` is checked as unique rows
    (duplicates after the first are reported).
    """
    spec = table_schema(name)
    primary = spec.get("primaryKey") or []
    primary = [primary] if isinstance(primary, str) else list(primary)
    built: dict[str, pa.Column] = {}
    for field in spec["fields"]:
        c = field.get("constraints", {})
        unique = bool(c.get("unique")) or primary == [field["name"]]
        built[field["name"]] = pa.Column(
            DTYPES[field.get("type", "any")], [*field_checks(field), *(checks or {}).get(field["name"], ())],
            nullable=not c.get("required", False), unique=unique)
    built.update(columns or {})
    strict, ordered = FIELDS_MATCH[spec.get("fieldsMatch", "exact")]
    return pa.DataFrameSchema(
        built, checks=list(frame_checks) or None, unique=primary if len(primary) > 1 else None,
        report_duplicates="exclude_first", strict=strict, ordered=ordered, name=spec.get("name", name))
