"""Declarative experiment configs (TOML in ``analyses/experiments/``) and their expansion into cells.

A config names the data (a bundle, or a simulated survey), the shared settings of every cell
(``[cell]``: method, scale, strategy, objective, groups), the factors varied (``[grid]``; the
product of their values is the set of conditions), the seeds, and the options of each stage
(``[base_model]``, ``[train]``, ``[evaluate]``, ``[survey_model]``). One cell = one condition x one
seed: build preferences, fine-tune, generate and score. A control (the base model, not tuned) is
generated and scored once per seed. See ``docs/experiments.md``.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pluralstats.errors import InputError

CELL_KEYS = {"method": "dpo", "scale": 5, "strategy": "majority", "objective": "toxicity", "groups": [],
             "weights": None, "jury": None}
SECTIONS = {"name", "description", "figure", "seeds", "data", "cell", "grid", "base_model", "train", "evaluate",
            "survey_model", "compare"}


@dataclass(frozen=True)
class Cell:
    """One condition at one seed."""

    label: str  # the condition, e.g. "scale=5" or "dpo/multi"
    params: dict[str, Any]
    seed: int

    @property
    def key(self) -> str:
        """A folder-safe name: ``cells/<slug>/seed-<n>``."""
        return f"{slugify(self.label)}/seed-{self.seed}"

    @property
    def is_control(self) -> bool:
        return self.label == "control"


def slugify(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "cell"


def short(value: Any) -> str:
    """How a factor value appears in a label: groups by their level names, lists joined by '+'."""
    if isinstance(value, (list, tuple)):
        return "+".join(short(v) for v in value) or "all"
    return str(value).split("=", 1)[-1]


@dataclass
class ExperimentConfig:
    name: str
    path: Path
    description: str = ""
    figure: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    data: dict[str, Any] = field(default_factory=dict)
    cell: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    base_model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    survey_model: dict[str, Any] = field(default_factory=dict)
    compare: list[list[str]] = field(default_factory=list)  # group pairs for Figure 2

    def conditions(self) -> list[tuple[str, dict[str, Any]]]:
        """(label, params) for each point of the grid, in the order the config lists the values."""
        base = {**CELL_KEYS, **self.cell}
        names = list(self.grid)
        out = []
        for values in itertools.product(*(self.grid[n] for n in names)):
            params = {**base, **dict(zip(names, values, strict=True))}
            label = "/".join(short(v) for v in values) if len(names) > 1 else (short(values[0]) if names else "tuned")
            out.append((label, params))
        labels = [label for label, _ in out]
        if len(set(labels)) != len(labels) or "control" in labels:
            raise InputError(f"{self.path}: grid labels must be unique and not 'control': {labels}")
        return out

    def cells(self) -> list[Cell]:
        """Controls first (one per seed), then every condition at every seed."""
        controls = [Cell("control", {}, s) for s in self.seeds]
        return controls + [Cell(label, params, s) for s in self.seeds for label, params in self.conditions()]

    def resolve(self, value: str | None) -> Path | None:
        """A path in the config, relative to the config file."""
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and check a config; ``overrides`` (e.g. ``{"seeds": [0]}``) replace top-level keys."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Experiment config not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    raw.update(overrides or {})
    unknown = sorted(set(raw) - SECTIONS)
    if unknown:
        raise InputError(f"{path}: unknown key(s) {unknown}; known: {sorted(SECTIONS)}")
    bad_cell = sorted((set(raw.get("cell", {})) | set(raw.get("grid", {}))) - set(CELL_KEYS))
    if bad_cell:
        raise InputError(f"{path}: unknown cell setting(s) {bad_cell}; known: {sorted(CELL_KEYS)}")
    for name, values in raw.get("grid", {}).items():
        if not isinstance(values, list) or not values:
            raise InputError(f"{path}: grid.{name} must be a non-empty list")
    if not raw.get("seeds"):
        raw["seeds"] = [0]
    data = raw.get("data", {})
    if bool(data.get("bundle")) == bool(data.get("simulate")):
        raise InputError(f"{path}: [data] needs exactly one of bundle = 'folder' or simulate = {{...}}")
    config = ExperimentConfig(path=path.resolve(), name=raw.get("name", path.stem),
                              **{k: v for k, v in raw.items() if k != "name"})
    config.conditions()  # label checks
    return config
