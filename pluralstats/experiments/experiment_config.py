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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pluralstats.errors import InputError, Problem
from pluralstats.io import slugify  # cell folder names: compare_models finds them by the same rule

# the [evaluate] keys the runner passes to the shift model (the rest go to generation)
SHIFT_KEYS = ("draws", "tune", "chains", "backend", "bootstrap")
CELL_KEYS = {"method": "dpo", "scale": 5, "strategy": "majority", "objective": "toxicity", "groups": [],
             "weights": None, "jury": None}
# two training runs per condition at least: with one, a difference between methods is also one between runs
DEFAULT_SEEDS = (0, 1)
SECTIONS = {"name", "description", "figure", "seeds", "data", "cell", "grid", "prefs", "base_model", "train",
            "evaluate", "survey_model", "compare"}


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
        """Whether this is the untrained control condition."""
        return self.label == "control"


def short(value: Any) -> str:
    """How a factor value appears in a label: groups by their level names, lists joined by '+'."""
    if isinstance(value, (list, tuple)):
        return "+".join(short(v) for v in value) or "all"
    return str(value).split("=", 1)[-1]


@dataclass
class ExperimentConfig:
    """An experiment read from its TOML file: the data, the training cell's defaults (``cell``) and the grid of
    conditions varied over them, the training seeds, base model, training and evaluation settings, the survey
    model and, for Figure 2, the group pairs to compare; ``figure`` names the figure it reproduces."""

    name: str
    path: Path
    description: str = ""
    figure: int | None = None
    seeds: list[int] = field(default_factory=lambda: list(DEFAULT_SEEDS))
    data: dict[str, Any] = field(default_factory=dict)
    cell: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    prefs: dict[str, Any] = field(default_factory=dict)  # the strategies' own options
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
            params["prefs"] = self.prefs_options(params["strategy"])
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

    def prefs_options(self, strategy: str) -> dict[str, Any]:
        """``[prefs]`` as one strategy's cells get it: the keys that are fields of its ``Options`` (e.g.
        ``veto_share`` for minority-veto), so one table serves a grid of strategies."""
        from dataclasses import fields

        from pluralstats.prefs.strategy_registry import get_strategy

        own = {f.name for f in fields(get_strategy(strategy).Options)}
        return {k: v for k, v in self.prefs.items() if k in own}

    def train_options(self, method: str | None) -> dict[str, Any]:
        """``[train]`` as one method's cells get it: the keys every method shares, then the method's own
        ``[train.<method>]`` table over them (e.g. ``[train.kto] desirable_weight``, ``[train.grpo] beta``)."""
        common = {k: v for k, v in self.train.items() if not is_method_table(k, v)}
        own = self.train.get(method) if method is not None else None
        return {**common, **own} if is_method_table(method, own) else common

    def resolve(self, value: str | None) -> Path | None:
        """A path in the config, relative to the config file."""
        if not value:
            return None
        path = Path(value)
        return path if path.is_absolute() else (self.path.parent / path).resolve()


def is_method_table(key: object, value: object) -> bool:
    """Whether a ``[train]`` entry is a method's own table (``[train.kto]``): a table named after a plugin."""
    from pluralstats.finetune.plugin_registry import available_plugins

    return isinstance(value, dict) and isinstance(key, str) and key in available_plugins()


def load_experiment(path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read and check a whole config before anything runs; ``overrides`` (e.g. ``{"seeds": [0]}``) replace
    top-level keys. Every problem (unknown keys with the nearest valid one, wrong types, values the
    stage would refuse) is reported at once as an :class:`InputError` naming the file and the key."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Experiment config not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc
    raw.update(overrides or {})
    problems = check_config(raw, path)
    if problems:
        raise InputError(f"Invalid experiment config {path}", problems)
    if not raw.get("seeds"):
        raw["seeds"] = list(DEFAULT_SEEDS)
    config = ExperimentConfig(path=path.resolve(), name=raw.get("name", path.stem),
                              **{k: v for k, v in raw.items() if k != "name"})
    config.conditions()  # label checks
    return config


def check_config(raw: dict[str, Any], path: Path) -> list[Problem]:
    """Every problem of a parsed config (see :mod:`pluralstats.experiments.schema`)."""
    from dataclasses import fields

    from pluralstats.evaluate.evaluation import ShiftSettings
    from pluralstats.evaluate.generate import GenerationConfig
    from pluralstats.experiments import schema
    from pluralstats.finetune.plugin_registry import available_plugins, get_plugin
    from pluralstats.finetune.tiny import TinyModelConfig
    from pluralstats.models import fit_survey
    from pluralstats.prefs.scales import SCALES
    from pluralstats.prefs.strategy_registry import available_strategies, get_strategy

    file = str(path)
    problems: list[Problem] = []
    for key in sorted(set(raw) - SECTIONS):
        problems.append(Problem(file, f"unknown key '{key}' at the top level{schema.suggest(key, SECTIONS)}"))
    schema.check_section(file, "top level", {k: raw[k] for k in schema.Top.model_fields if k in raw},
                         schema.Top, problems)
    data = schema.check_section(file, "data", raw.get("data", {}), schema.Data, problems)
    if data is not None:
        if (data.bundle is None) == (data.simulate is None):
            problems.append(Problem(file, "[data] needs exactly one of bundle = 'folder' or simulate = {...}"))
        elif data.simulate is not None:
            schema.check_section(file, "data.simulate", data.simulate, schema.Simulate, problems)
    cell_model = schema.cell_model(available_strategies(), SCALES, available_plugins())
    cell = schema.check_section(file, "cell", raw.get("cell", {}), cell_model, problems)
    chosen = _check_grid(file, raw.get("grid", {}), cell_model, problems)
    grid = raw.get("grid", {}) if isinstance(raw.get("grid", {}), dict) else {}
    for name in ("method", "strategy"):
        if name not in grid and cell is not None:  # else the grid's values replace [cell]'s
            chosen[name].add(getattr(cell, name))
    methods = chosen["method"]
    strategies = [get_strategy(s) for s in sorted(chosen["strategy"])]
    schema.check_section(file, "prefs", raw.get("prefs", {}), schema.options_model(
        "prefs", [s.Options for s in strategies]), problems)
    dimensions = _survey_dimensions(data, path)
    if dimensions and cell is not None:
        cells = [cell.model_dump()] + [{n: v} for n, vs in grid.items() if n in ("objective", "weights")
                                       and isinstance(vs, list) for v in vs]
        for one in cells:
            named = [one["objective"]] if isinstance(one.get("objective"), str) else []
            named += list(one["weights"]) if isinstance(one.get("weights"), dict) else []
            for name in named:
                if name not in dimensions and name != "multi":
                    problems.append(Problem(file, f"unknown dimension '{name}' in [cell] or [grid]"
                                                  f"{schema.suggest(name, dimensions)}"))
    raw_train = raw.get("train", {})
    tables = {k: v for k, v in raw_train.items() if is_method_table(k, v)} if isinstance(raw_train, dict) else {}
    train = schema.options_model("train", [get_plugin(m).config_class for m in sorted(methods)],
                                 skip=schema.RUNNER_SET["train"])
    trained = schema.check_section(file, "train", {k: v for k, v in raw_train.items() if k not in tables}
                                   if isinstance(raw_train, dict) else raw_train, train, problems)
    reward_scorers = {"train.reward_scorer": getattr(trained, "reward_scorer", None)}
    for method, table in tables.items():  # each checked against its own plugin's options only
        if method not in methods:
            problems.append(Problem(file, f"[train.{method}] applies to no cell: the cells' methods are "
                                          f"{', '.join(sorted(methods)) or 'none'}"))
            continue
        own = schema.options_model(f"train.{method}", [get_plugin(method).config_class],
                                   skip=schema.RUNNER_SET["train"])
        checked = schema.check_section(file, f"train.{method}", table, own, problems)
        reward_scorers[f"train.{method}.reward_scorer"] = getattr(checked, "reward_scorer", None)
    base = schema.options_model("base_model", [TinyModelConfig], skip=schema.RUNNER_SET["base_model"])
    schema.check_section(file, "base_model", raw.get("base_model", {}), base, problems)
    shift_keys = {f.name for f in fields(ShiftSettings)} - set(SHIFT_KEYS)  # those the runner does not pass
    evaluate = schema.options_model("evaluate", [GenerationConfig, ShiftSettings], skip=shift_keys,
                                    extra=schema.EVALUATE_EXTRA)
    evaluated = schema.check_section(file, "evaluate", raw.get("evaluate", {}), evaluate, problems)
    problems += _scorer_problems(file, {"evaluate.scorer": getattr(evaluated, "scorer", None), **reward_scorers})
    from pluralstats.experiments.shared import survey_gate

    survey_model = schema.options_model("survey_model", [fit_survey, survey_gate],
                                        skip=schema.RUNNER_SET["survey_model"])
    schema.check_section(file, "survey_model", raw.get("survey_model", {}), survey_model, problems)
    if not problems and data is not None:
        problems += _threshold_problems(file, data, raw, path)
    return problems


def _check_grid(file: str, grid: object, cell_model: Any, problems: list[Problem]) -> dict[str, set[str]]:
    """Check ``[grid]``'s factors against the cell settings; the methods and strategies its values name."""
    from pluralstats.experiments import schema

    chosen: dict[str, set[str]] = {"method": set(), "strategy": set()}
    if not isinstance(grid, dict):
        problems.append(Problem(file, "[grid] must be a table of factor = [values]"))
        return chosen
    for name, values in grid.items():
        if name not in cell_model.model_fields:
            problems.append(Problem(file, f"[grid] unknown cell setting '{name}'"
                                          f"{schema.suggest(name, cell_model.model_fields)}"))
        elif not isinstance(values, list) or not values:
            problems.append(Problem(file, f"[grid] {name} must be a non-empty list", value=schema.short(values)))
        else:
            for i, value in enumerate(values):
                one = schema.check_section(file, f"grid.{name}[{i}]", {name: value}, cell_model, problems)
                if one is not None and name in chosen:
                    chosen[name].add(getattr(one, name))
    return chosen


def judged_dimensions(params: dict[str, Any], dimensions: list[str]) -> list[str]:
    """The dimensions an unpaired (KTO) cell labels responses on: its objective, or for ``multi`` the keys of
    its ``weights`` (every survey dimension without them); a response is desirable when good on all."""
    if params.get("objective") != "multi":
        return [params["objective"]]
    weights = params.get("weights")
    return list(weights) if isinstance(weights, dict) and weights else list(dimensions)


def _threshold_problems(file: str, data: Any, raw: dict[str, Any], path: Path) -> list[Problem]:
    """``[data] thresholds`` checked, and every dimension a ratings-based (KTO) cell judges has one."""
    from pluralstats.experiments import schema
    from pluralstats.finetune.plugin_registry import get_plugin
    from pluralstats.survey.simulate import SimulationConfig
    from pluralstats.survey.survey_config import load_config

    given = data.thresholds or {}
    if data.bundle is not None:
        if given:
            return [Problem(file, "[data] thresholds apply to a simulated survey; a bundle's are its survey.toml's "
                                  "[dimensions.<name>] positive_threshold")]
        bundle = Path(data.bundle) if Path(data.bundle).is_absolute() else path.parent / data.bundle
        known = {d: v.positive_threshold for d, v in load_config(bundle).dimensions.items()}
        where = f"{bundle / 'survey.toml'}: [dimensions.{{}}] positive_threshold"
    else:
        scale_max = SimulationConfig().scale_max
        dims = _survey_dimensions(data, path)
        problems = [Problem(file, f"[data] thresholds: unknown dimension '{d}'{schema.suggest(d, dims)}")
                    for d in given if d not in dims]
        problems += [Problem(file, f"[data] thresholds.{d} must be in 1..{scale_max}", value=v)
                     for d, v in given.items() if d in dims and not 1 <= v <= scale_max]
        if problems:
            return problems
        known = {d: given.get(d) for d in dims}
        where = "[data] thresholds.{}"
    cell = {**CELL_KEYS, **raw.get("cell", {})}
    grid = raw.get("grid", {})
    missing: dict[str, set[str]] = {}
    for values in itertools.product(*grid.values()):
        params = {**cell, **dict(zip(grid, values, strict=True))}
        if get_plugin(params["method"]).requires == "ratings":
            for d in judged_dimensions(params, list(known)):
                if known.get(d) is None:
                    missing.setdefault(d, set()).add(params["method"])
    return [Problem(file, f"{', '.join(sorted(methods))} labels responses desirable by the survey's positive "
                          f"threshold; {where.format(d)} is not set") for d, methods in sorted(missing.items())]


def _scorer_problems(file: str, named: dict[str, str | None]) -> list[Problem]:
    """A Problem for each scorer name (``[evaluate] scorer``, ``[train] reward_scorer``) that is not installed."""
    from pluralstats.evaluate.scorers import available_scorers, unknown_scorer

    installed = available_scorers()
    return [Problem(file, f"[{where.rsplit('.', 1)[0]}] {where.rsplit('.', 1)[1]}: {unknown_scorer(name)}", value=name)
            for where, name in named.items() if name is not None and name not in installed]


def _survey_dimensions(data: Any, path: Path) -> list[str]:
    """The dimensions the cells can use: the simulated study's, or those of the bundle's survey.toml."""
    from pluralstats.survey.survey_config import STUDY_DIMENSIONS, load_config

    if data is None or (data.bundle is None) == (data.simulate is None):
        return []  # already a problem of [data]
    if data.simulate is not None:
        return list(STUDY_DIMENSIONS)
    bundle = Path(data.bundle) if Path(data.bundle).is_absolute() else path.parent / data.bundle
    return list(load_config(bundle).dimensions)  # an unreadable bundle is its own InputError
