"""Every section of an experiment config checked before anything runs: keys, types, values.

Each section is a pydantic model (strict: ``seeds = "zero"`` or ``max_steps = "2"`` are refused, not
converted). The stage options (``[base_model]``, ``[train]``, ``[evaluate]``, ``[survey_model]``) are
derived from the dataclasses and function the runner passes them to, so a key the runner would drop
is an unknown key here. An unknown key gets the nearest valid one suggested. All problems of a config
are reported at once, as :class:`pluralstats.errors.Problem`.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from pydantic import ValidationError as PydanticValidationError

from pluralstats.errors import Problem

STRICT = ConfigDict(extra="forbid", strict=True)
# options the runner sets itself for every cell (a config value would be overwritten, so it is refused)
RUNNER_SET = {"train": {"seed", "rater", "objective", "group", "weights"}, "base_model": {"eval_fraction", "seed"},
              "survey_model": {"survey", "seed", "progress", "check"}}
# "scorer": the name of an installed scorer (entry points 'pluralstats.scorers'), checked in check_config
EVALUATE_EXTRA = {"max_prompts": (int | None, Field(default=None, ge=1)), "scorer": (str | None, None)}


class Simulate(BaseModel):
    """``[data] simulate = {...}``: the options of ``pluralstats simulate``, with its bounds."""

    model_config = STRICT
    participants: int = Field(default=1095, ge=2)
    prompts_per_language: int = Field(default=40, ge=1)
    responses_per_prompt: int = Field(default=5, ge=2)
    prompts_per_participant: int = Field(default=5, ge=1)
    interactions: float | None = Field(default=None, ge=-2, le=2)
    disagreement: float = Field(default=0.0, ge=0, le=5)  # sd of the planted group x item terms (logits)
    disagreement_attributes: list[str] | None = None  # default: every demographic attribute
    seed: int = 0

    @model_validator(mode="after")
    def _participant_prompts(self) -> Simulate:
        if self.prompts_per_participant > self.prompts_per_language:
            raise ValueError("prompts_per_participant cannot exceed prompts_per_language")
        from pluralstats.survey.simulate import SimulationConfig

        known = sorted(SimulationConfig().attribute_shares)
        unknown = sorted(set(self.disagreement_attributes or ()) - set(known))
        if unknown:
            raise ValueError(f"disagreement_attributes: unknown {', '.join(unknown)}; valid: {', '.join(known)}")
        return self


class Data(BaseModel):
    """The ``[data]`` section: a survey bundle or simulation settings, the prompt split's seed and eval share."""

    model_config = STRICT
    bundle: str | None = None
    simulate: dict[str, Any] | None = None  # checked as its own section, for its own key suggestions
    seed: int = 0
    eval_fraction: float = Field(default=0.2, gt=0, lt=1)
    # positive_threshold per dimension of a simulated survey (KTO's desirable / undesirable labels need them)
    thresholds: dict[str, int] | None = None


class Top(BaseModel):
    """The top-level keys that are not sections."""

    model_config = ConfigDict(strict=True)  # sections are checked one by one
    name: str | None = None
    description: str = ""
    figure: int | None = Field(default=None, ge=1)
    seeds: list[int] = Field(default=[0, 1], min_length=1)
    compare: list[typing.Annotated[list[str], Field(min_length=2, max_length=2)]] = []


def cell_model(strategies: Iterable[str], scales: Iterable[int], methods: Iterable[str]) -> type[BaseModel]:
    """``[cell]`` (and each ``[grid]`` value): settings of one condition, choices from the installed code."""
    return create_model(
        "Cell", __config__=STRICT,
        method=(Literal[tuple(methods)], "dpo"),
        scale=(Literal[tuple(scales)], 5),
        strategy=(Literal[tuple(strategies)], "majority"),
        objective=(str, "toxicity"),
        groups=(list[str], []),
        weights=(dict[str, float] | None, None),
        jury=(str | dict[str, float] | None, None),
    )


def options_model(name: str, sources: Iterable[type | Callable], skip: set[str] = frozenset(),
                  extra: dict[str, tuple] | None = None) -> type[BaseModel]:
    """A strict model of the options a stage accepts: the fields of dataclasses / parameters of functions."""
    # the stages that read a file of their own (a model, a posterior) take its path
    fields: dict[str, tuple] = {"path": (str | None, None)} if name not in ("train", "prefs") else {}
    for source in sources:
        hints = typing.get_type_hints(source)
        if dataclasses.is_dataclass(source):
            names = [f.name for f in dataclasses.fields(source)]
        else:
            names = [p for p, param in inspect.signature(source).parameters.items()
                     if param.kind == param.KEYWORD_ONLY]
        for field in names:
            if field not in skip and field in hints:
                fields.setdefault(field, (hints[field] | None, None))  # None: leave the stage's default
    fields.update(extra or {})
    return create_model(name, __config__=STRICT, **fields)


def suggest(key: str, known: Iterable[str]) -> str:
    """A hint for an unknown ``key``: the closest known key, else the list of valid ones."""
    known = list(known)
    if not known:  # e.g. [train] when no cell's method could be read: an empty list would say nothing
        return " (no key can be checked here until the errors above are fixed)"
    close = difflib.get_close_matches(key, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (valid: {', '.join(sorted(known))})"


def short(value: object, limit: int = 40) -> object:
    """``value`` for a message, its repr cut to ``limit`` characters when longer."""
    text = repr(value)
    return value if len(text) <= limit else text[:limit] + "..."


def check_section(file: str, section: str, values: object, model: type[BaseModel],
                  problems: list[Problem]) -> BaseModel | None:
    """Validate one section; append a Problem per unknown key (with a suggestion) and per bad value."""
    if not isinstance(values, dict):
        problems.append(Problem(file, f"[{section}] must be a table of settings", value=short(values)))
        return None
    known = model.model_fields
    unknown = [k for k in values if k not in known]
    for key in unknown:
        problems.append(Problem(file, f"[{section}] unknown key '{key}'{suggest(key, known)}"))
    try:
        return model.model_validate({k: v for k, v in values.items() if k not in unknown})
    except PydanticValidationError as exc:
        for err in exc.errors(include_url=False):
            where = ".".join(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(file, f"[{section}] {where + ': ' if where else ''}{message}",
                                    value=short(err.get("input")) if where else None))
        return None
