"""The data, priors and Bambi model of a formula on one dimension of a survey (for :mod:`.formula`, whose
docstring says which columns a formula may use and which priors it gets)."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from typing import Any

import arviz as az
import numpy as np
import pandas as pd

from pluralstats.errors import InputError, shorten
from pluralstats.survey import Survey

from .data import ConfoundedAttributeWarning, ModelData, build_model_data, meta_of, survey_digest
from .priors import DEFAULT_PRIORS, Priors

#: the response every formula must have
RESPONSE = "rating"
#: friendly column -> the tidy data's column it is read from (``rater`` is the participant's pseudonym)
RENAMED = {"item": "item_id", "prompt": "prompt_id", "language": "language"}
#: tidy columns a formula may not name, and what to write instead
REFUSED = {"participant_id": "write rater (the rater's pseudonym)", "item_id": "write item",
           "prompt_id": "write prompt", "dimension": "one dimension per fit: pass dimension="}
#: the posterior attribute holding the formula (the mark of a :func:`~pluralstats.models.formula.to_bambi` fit)
FORMULA_ATTR = "formula"


@dataclasses.dataclass
class FormulaSpec:
    """A checked formula on one dimension: the data Bambi sees, the metadata, what the layout can hold."""

    formula: str
    dimension: str
    frame: pd.DataFrame  # one row per rating, the columns the formula uses (attribute levels coded, see `coded`)
    data: ModelData  # the package's index arrays and metadata of the same ratings, row for row
    attributes: list[str]  # the attributes the formula uses, in survey.toml's order
    coded: dict[str, dict[str, str]]  # attribute -> level -> the label Bambi sees (sorts reference first)
    family: str  # "logit" or "probit"

    @property
    def decoded(self) -> dict[str, str]:
        """Bambi's label -> the survey's level."""
        return {code: level for levels in self.coded.values() for level, code in levels.items()}


def _variables(formula: str) -> set[str]:
    """The columns ``formula`` names (response included); InputError when it is not a formula with response
    ``rating``."""
    import formulae

    if not isinstance(formula, str) or "~" not in formula:
        raise InputError(f"A formula needs a response and terms: 'rating ~ ...'; got {shorten(formula, 80)!r}")
    try:
        description = formulae.model_description(formula)
    except Exception as exc:  # formulae's scanner and parser raise several kinds
        raise InputError(f"Cannot read the formula {shorten(formula, 120)!r}: {shorten(exc, 200)}") from None
    response = description.response
    components = getattr(getattr(response, "term", None), "components", [])
    if (response is None or len(components) != 1 or type(components[0]).__name__ != "Variable"
            or components[0].name != RESPONSE or getattr(components[0], "level", None) is not None):
        raise InputError(f"The formula's response must be '{RESPONSE}' (the rating, ordered 1..scale_max); got "
                         f"{shorten(str(formula).split('~')[0].strip(), 80)!r}")
    return set(description.var_names)


def formula_spec(survey: Survey, formula: str, dimension: str | None = None, family: str = "logit") -> FormulaSpec:
    """Check ``formula`` against ``survey`` (module docstring: the columns it may use) and build the data Bambi
    fits: the ratings of ``dimension`` (None: the survey's only dimension), one row each, in the order of the
    package's index arrays. Attribute levels are coded so that survey.toml's reference level sorts first
    (formulae takes the alphabetically first level as the reference); the layout decodes them again."""
    if family not in ("logit", "probit"):
        raise InputError(f"family must be 'logit' or 'probit' (Bambi's cumulative links); got {shorten(family, 40)!r}")
    if dimension is None:
        if len(survey.dimensions) != 1:
            raise InputError(f"A formula is fitted to one dimension; pass dimension= one of "
                             f"{', '.join(survey.dimensions)}")
        dimension = survey.dimensions[0]
    if dimension not in survey.dimensions:
        raise InputError(f"Unknown dimension '{shorten(dimension, 60)}'; known: {', '.join(survey.dimensions)}")
    tidy = survey.ratings_with_attributes()
    tidy = tidy[tidy.dimension == dimension].reset_index(drop=True)
    extra = [c for c in tidy.columns if c not in {"participant_id", "item_id", "dimension", "rating", "prompt_id",
                                                   *survey.attributes, *RENAMED.values()}]
    available = [RESPONSE, "rater", *RENAMED, *survey.attributes, *extra]
    used = _variables(formula)
    unknown = sorted(used - set(available))
    if unknown:
        hints = [f"{name}: {REFUSED[name]}" for name in unknown if name in REFUSED]
        raise InputError(f"The formula names unknown column(s) {', '.join(shorten(u, 60) for u in unknown)}"
                         + (f" ({'; '.join(hints)})" if hints else "")
                         + f"; a formula may use {', '.join(available)}")
    attributes = [a for a in survey.attributes if a in used]
    with warnings.catch_warnings():
        if not attributes:  # every attribute indexed only to be dropped below: no warning about unused ones
            warnings.simplefilter("ignore", ConfoundedAttributeWarning)
        data = build_model_data(survey, [dimension], attributes or None)
    if len(data.y) != len(tidy) or not np.array_equal(data.item_ids[data.obs_item].astype(str),
                                                      tidy.item_id.astype(str).to_numpy()):
        raise InputError(f"The ratings of {dimension} could not be lined up with their raters and items")
    if not attributes:
        data = dataclasses.replace(data, rater_levels=np.zeros((len(data.rater_ids), 0), dtype=int),
                                   meta=dataclasses.replace(data.meta, attributes={}))
        data.meta.survey_digest = survey_digest(data)
    frame = pd.DataFrame({RESPONSE: pd.Categorical(data.y + 1, categories=range(1, data.meta.scale_max + 1),
                                                   ordered=True)})
    if "rater" in used:
        frame["rater"] = data.rater_ids[data.obs_rater].astype(str)
    coded = {}
    for j, attr in enumerate(data.meta.attributes):
        levels = data.meta.attributes[attr]
        width = max(2, len(str(len(levels) - 1)))
        coded[attr] = {lv: f"{i:0{width}d}_{lv}" for i, lv in enumerate(levels)}
        labels = np.array([coded[attr][lv] for lv in levels], dtype=object)
        frame[attr] = labels[data.rater_levels[data.obs_rater, j]]
    for column in sorted(used - {RESPONSE, "rater", *attributes}):
        values = tidy[RENAMED.get(column, column)]
        missing = int(values.isna().sum())
        if missing:
            raise InputError(f"Column '{column}' has no value for {missing} of the {len(tidy)} ratings of "
                             f"{dimension}; a formula may only use complete columns")
        frame[column] = values.astype(str).to_numpy() if column in RENAMED else values.to_numpy()
    data.meta.family = family
    return FormulaSpec(formula=formula, dimension=dimension, frame=frame, data=data, attributes=attributes,
                       coded=coded, family=family)


def _categorical(term: Any) -> bool:
    """Whether every component of a Bambi term is categorical (a main effect of a factor, or an interaction of
    factors)."""
    if getattr(term, "kind", "") == "categoric":
        return True
    parts = getattr(getattr(term, "term", None), "components", None)
    return getattr(term, "kind", "") == "interaction" and bool(parts) and all(
        getattr(p, "kind", "") == "categoric" for p in parts)


def bambi_priors(model: Any, priors: Priors, n_cut: int) -> dict[str, Any]:
    """The package's prior scales (``priors``) as Bambi priors for ``model``'s terms (module docstring); terms
    with a numeric part are left out (they keep Bambi's default)."""
    import bambi as bmb
    import pymc as pm

    parent = model.components[model.family.likelihood.parent]
    out: dict[str, Any] = {}
    for name, term in parent.common_terms.items():
        if _categorical(term):
            out[name] = bmb.Prior("Normal", mu=0.0, sigma=priors.beta_sd)
    for name, term in parent.group_specific_terms.items():
        expr, factor = name.split("|", 1)
        if expr == "1":
            sd = {"rater": priors.sigma_rater_sd, "item": priors.sigma_item_sd}.get(factor, 1.0)
        elif getattr(term, "kind", "") == "categoric":
            sd = priors.tau_sd
        else:
            continue
        out[name] = bmb.Prior("Normal", mu=0.0, sigma=bmb.Prior("HalfNormal", sigma=sd))
    location = np.linspace(-2.0, 2.0, n_cut) if n_cut > 1 else np.zeros(1)
    out["threshold"] = bmb.Prior("Normal", mu=location, sigma=priors.cutpoint_sd,
                                 transform=pm.distributions.transforms.ordered)
    return out


def build_bambi(spec: FormulaSpec, priors: Priors | str | None = None,
                term_priors: Mapping[str, Any] | None = None) -> Any:
    """The ``bambi.Model`` of ``spec`` with the priors of the module docstring (``priors``: a
    :class:`~pluralstats.models.priors.Priors`, None for the defaults, or "bambi" for Bambi's own), and
    ``term_priors`` (Bambi priors by term name) over them. Bad terms raise :class:`InputError`."""
    import bambi as bmb

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The intercept is omitted in ordinal families")
            model = bmb.Model(spec.formula, spec.frame, family="cumulative", link=spec.family)
    except Exception as exc:  # formulae's and Bambi's errors name the term; no data value is in them
        raise InputError(f"Bambi cannot build the formula {shorten(spec.formula, 120)!r}: {shorten(exc, 300)}") \
            from None
    parent = model.components[model.family.likelihood.parent]
    if parent.offset_terms or parent.hsgp_terms:
        raise InputError("offset() and hsgp() terms are not supported by to_bambi")
    by_rater = [n for n in parent.group_specific_terms if n.split("|", 1)[1] == "rater" and n != "1|rater"]
    if by_rater:
        raise InputError(f"The formula groups by rater with {', '.join(by_rater)}: only the rater intercept "
                         "(1|rater) is supported (a rater's attributes do not vary across their ratings)")
    chosen = {} if isinstance(priors, str) and priors == "bambi" else bambi_priors(
        model, priors if isinstance(priors, Priors) else DEFAULT_PRIORS, spec.data.meta.n_cut)
    if isinstance(priors, str) and priors != "bambi":
        raise InputError(f"priors must be a Priors, None or 'bambi'; got {shorten(priors, 40)!r}")
    chosen.update(term_priors or {})
    if chosen:
        try:
            model.set_priors(priors=chosen)
        except Exception as exc:
            raise InputError(f"Bambi refused the priors: {shorten(exc, 300)}") from None
    return model


def additive(spec: FormulaSpec, model: Any) -> bool:
    """Whether the formula is the rating model's additive form: every common term one attribute's main effect,
    and exactly ``(1|rater) + (1|item)``."""
    parent = model.components[model.family.likelihood.parent]
    return (set(parent.group_specific_terms) == {"1|rater", "1|item"}
            and all(getattr(t, "kind", "") == "categoric" and name in spec.attributes
                    for name, t in parent.common_terms.items()))


def stated_priors(model: Any) -> dict[str, str]:
    """Each term's prior (and the thresholds'), as Bambi prints it."""
    parent = model.components[model.family.likelihood.parent]
    out = {name: str(term.prior) for name, term in {**parent.common_terms, **parent.group_specific_terms}.items()}
    for name, component in model.constant_components.items():
        out[name] = str(component.prior)
    return out


def spec_of(survey: Survey, idata: az.InferenceData) -> FormulaSpec:
    """The :class:`FormulaSpec` of ``idata``'s formula on ``survey``; InputError unless the survey holds the
    ratings the posterior was fitted to."""
    attrs = idata.posterior.attrs
    if FORMULA_ATTR not in attrs:
        raise InputError("This posterior was not fitted by to_bambi (no formula recorded)")
    spec = formula_spec(survey, str(attrs[FORMULA_ATTR]), str(attrs["dimension"]), str(attrs.get("family", "logit")))
    if survey_digest(spec.data) != meta_of(idata).survey_digest:
        raise InputError(f"The posterior was fitted to other ratings than survey '{survey.config.name}' has on "
                         f"{spec.dimension}; give the survey it was fitted to")
    return spec
