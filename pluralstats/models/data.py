"""The survey as index arrays for the rating model, and the metadata a posterior file must carry.

The posterior file has to be self-sufficient: contrasts and predictive distributions are
computed from it alone (the bundle may be gone), so the level names, reference levels, the item
ids and the raters' attribute combinations (the "rater composition") travel with the draws.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from pluralstats.errors import InputError
from pluralstats.families import DEFAULT_FAMILY, Family, get_family
from pluralstats.privacy import pseudonyms
from pluralstats.survey import Survey

META_KEY = "pluralstats"


@dataclass
class ModelMeta:
    """What a posterior needs to be interpreted: names, levels (reference first), the scale."""

    dimensions: list[str]
    attributes: dict[str, list[str]]  # attribute -> levels, reference level first
    scale_max: int
    polarity: dict[str, str]
    survey: str = ""
    joint: bool = False
    backend: str = ""
    min_group_size: int = 5  # k of the survey: levels with fewer raters are suppressed in every output
    disagreement: list[str] = field(default_factory=list)  # attributes with group x item terms (w, tau)
    #: dimension -> survey.toml's positive threshold k (a rating >= k counts as positive, e.g. "flagged as
    #: toxic")
    thresholds: dict[str, int] = field(default_factory=dict)
    #: the rating model's family (:mod:`pluralstats.families`)
    family: str = DEFAULT_FAMILY
    #: attribute whose levels have their own rater sd (``sigma_rater[dimension, level]``); None: one per dimension
    rater_variance_by: str | None = None
    #: fingerprint of the data the model saw (:func:`survey_digest`); empty when none was recorded
    survey_digest: str = ""

    @property
    def n_cut(self) -> int:
        """Number of cutpoints of the ordinal scale (scale_max - 1)."""
        return self.scale_max - 1

    def reference(self, attribute: str) -> str:
        """The attribute's reference level (the first of its levels)."""
        return self.attributes[attribute][0]

    def to_json(self) -> str:
        """The metadata as JSON (stored in the posterior file)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        """Metadata from ``to_json``'s text."""
        return cls(**json.loads(text))


@dataclass
class ModelData:
    """Index arrays of the ratings (0-based categories) plus the metadata."""

    meta: ModelMeta
    rater_ids: np.ndarray
    item_ids: np.ndarray
    rater_levels: np.ndarray  # (n_raters, n_attributes) level index, 0 = reference
    obs_dim: np.ndarray
    obs_rater: np.ndarray
    obs_item: np.ndarray
    y: np.ndarray  # rating - 1
    item_prompts: np.ndarray | None = None  # prompt id of each item (pairs within a prompt need it)

    def constant_data(self) -> xr.Dataset:
        """Rater composition, item ids and the observations, stored in the posterior file."""
        attrs = list(self.meta.attributes)
        ds = xr.Dataset(
            {
                "rater_level": (("rater", "attribute"), self.rater_levels.astype("int16")),
                "obs_dimension": ("obs", self.obs_dim.astype("int16")),
                "obs_rater": ("obs", self.obs_rater.astype("int32")),
                "obs_item": ("obs", self.obs_item.astype("int32")),
                "obs_rating": ("obs", (self.y + 1).astype("int16")),
                **({} if self.item_prompts is None else {"item_prompt": ("item", self.item_prompts.astype(str))}),
            },
            coords={"rater": self.rater_ids.astype(str), "item": self.item_ids.astype(str),
                    "attribute": np.array(attrs, dtype=str)},
        )
        ds.attrs[META_KEY] = self.meta.to_json()
        return ds


def _check_subset(requested: list[str] | None, known: list[str], what: str) -> list[str]:
    if requested is None:
        return list(known)
    unknown = [r for r in requested if r not in known]
    if unknown:
        raise InputError(f"Unknown {what} {', '.join(unknown)}; known: {', '.join(known) or '(none)'}")
    if not requested:
        raise InputError(f"No {what} selected")
    return list(dict.fromkeys(requested))


class ConfoundedAttributeWarning(UserWarning):
    """An attribute's levels never rate the same items, so its effect is confounded with item effects."""


def confounded_attributes(survey: Survey, attributes: list[str]) -> list[str]:
    """Attributes whose every item is rated by raters of one level only (e.g. country when raters only
    see items in their own language): their effect cannot be told apart from the items' effects."""
    rated = survey.ratings[["participant_id", "item_id"]].drop_duplicates()
    merged = rated.merge(survey.participants[["participant_id", *attributes]], on="participant_id")
    return [a for a in attributes
            if merged[a].nunique() > 1 and merged.groupby("item_id")[a].nunique().max() == 1]


def build_model_data(survey: Survey, dimensions: list[str] | None = None,
                     attributes: list[str] | None = None) -> ModelData:
    """Index the survey for the model; reference levels come from ``survey.toml``.

    By default every attribute of survey.toml enters the model except those confounded with the
    items (:func:`confounded_attributes`), which are left out with a warning: their coefficient is
    identified only through the item-effect prior, which both biases it and ruins mixing. Naming
    such an attribute in ``attributes`` keeps it (still with a warning).
    """
    dims = _check_subset(dimensions, survey.dimensions, "dimension(s)")
    attrs = _check_subset(attributes, survey.attributes, "attribute(s)")
    for attr in confounded_attributes(survey, attrs):
        action = "kept because it was asked for" if attributes is not None else "left out of the model"
        warnings.warn(f"attribute '{attr}' is confounded with the items (no item is rated by raters of two of its "
                      f"levels), so its effect is not identified apart from item effects; {action}",
                      ConfoundedAttributeWarning, stacklevel=2)
        if attributes is None:
            attrs.remove(attr)
    ratings = survey.ratings[survey.ratings.dimension.isin(dims)]
    if ratings.empty:
        raise InputError(f"No ratings for dimension(s) {', '.join(dims)}")
    raters = survey.participants[survey.participants.participant_id.isin(ratings.participant_id)]
    raters = raters.sort_values("participant_id").reset_index(drop=True)
    levels: dict[str, list[str]] = {}
    codes = []
    for attr in attrs:
        values = raters[attr].astype(str)
        present = sorted(values.unique())
        ref = survey.config.attributes[attr]
        if ref not in present:
            raise InputError(f"Reference level '{ref}' of '{attr}' (survey.toml) has no raters; "
                             f"levels present: {', '.join(present)}")
        ordered = [ref, *(v for v in present if v != ref)]
        levels[attr] = ordered
        codes.append(pd.Categorical(values, categories=ordered).codes)
    rater_levels = np.column_stack(codes) if codes else np.zeros((len(raters), 0), dtype=int)
    item_ids = np.array(sorted(ratings.item_id.unique()), dtype=object)
    prompt_of = survey.items.set_index("item_id").prompt_id
    participant_ids = raters.participant_id.to_numpy(dtype=object)
    rater_ids = pseudonyms(participant_ids)  # the posterior never holds a participant id (privacy)
    meta = ModelMeta(
        dimensions=dims, attributes=levels, scale_max=survey.config.scale_max,
        polarity={d: survey.config.dimensions[d].polarity for d in dims}, survey=survey.config.name,
        min_group_size=survey.config.min_group_size, thresholds={d: survey.config.threshold(d) for d in dims},
    )
    data = ModelData(
        meta=meta, rater_ids=rater_ids, item_ids=item_ids, rater_levels=rater_levels.astype(int),
        obs_dim=pd.Categorical(ratings.dimension, categories=dims).codes.astype(int),
        obs_rater=pd.Categorical(ratings.participant_id, categories=participant_ids).codes.astype(int),
        obs_item=pd.Categorical(ratings.item_id, categories=item_ids).codes.astype(int),
        y=ratings.rating.to_numpy(dtype=int) - 1,
        item_prompts=prompt_of.reindex(item_ids).astype(str).to_numpy(dtype=object),
    )
    data.meta.survey_digest = survey_digest(data)
    return data


def survey_digest(data: ModelData) -> str:
    """A fingerprint of the ratings a model of ``data`` sees: ``sha256:`` and the hex digest of the sorted
    (rater pseudonym, item, dimension, rating, the rater's level of each model attribute) rows.

    Recorded in the metadata by :func:`build_model_data`, so a consumer that pairs a posterior with a survey
    (``prefs --strategy posterior``) can tell whether the posterior was fitted to that survey
    (:func:`check_same_survey`). Pseudonyms, not participant ids, enter it; they are a function of the ids.
    """
    attrs = list(data.meta.attributes)
    columns = {"rater": data.rater_ids[data.obs_rater].astype(str), "item": data.item_ids[data.obs_item].astype(str),
               "dimension": np.asarray(data.meta.dimensions, dtype=object)[data.obs_dim].astype(str),
               "rating": (data.y + 1).astype(int).astype(str)}
    for j, attr in enumerate(attrs):
        names = np.asarray(data.meta.attributes[attr], dtype=object)
        columns[f"attribute:{attr}"] = names[data.rater_levels[data.obs_rater, j]].astype(str)
    frame = pd.DataFrame(columns).sort_values(list(columns), kind="stable")
    text = frame.to_csv(index=False, lineterminator="\n")
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_same_survey(idata, survey: Survey, what: str = "this posterior") -> None:
    """InputError unless ``idata`` was fitted to ``survey``'s ratings (the fingerprint of the dimensions and
    attributes it was fitted on matches; :func:`survey_digest`). A posterior without a fingerprint is refused too:
    nothing says which survey it belongs to."""
    meta = meta_of(idata)
    if not meta.survey_digest:
        raise InputError(f"{what} carries no fingerprint of the survey it was fitted to, so it cannot be checked "
                         "against this survey; refit it with fit-survey")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConfoundedAttributeWarning)
            data = build_model_data(survey, list(meta.dimensions), list(meta.attributes))
        digest = survey_digest(data)
    except InputError as exc:
        raise InputError(f"{what} was not fitted to survey '{survey.config.name}' ({exc}); fit it to this "
                         "survey with fit-survey") from None
    if digest != meta.survey_digest:
        raise InputError(f"{what} was fitted to other ratings than survey '{survey.config.name}' has on "
                         f"{', '.join(meta.dimensions)} (posterior survey: '{meta.survey or '?'}'; the "
                         "fingerprints of raters, items, ratings and attribute levels differ); fit it to this "
                         "survey with fit-survey")


def meta_of(idata) -> ModelMeta:
    """The :class:`ModelMeta` stored in a posterior (raises InputError for a foreign file)."""
    try:
        return ModelMeta.from_json(idata.constant_data.attrs[META_KEY])
    except (AttributeError, KeyError) as exc:
        raise InputError("This InferenceData was not written by pluralstats fit-survey "
                         "(no model metadata in constant_data)") from exc


def family_of(idata) -> Family:
    """The family a posterior was fitted with (:mod:`pluralstats.families`; logit when it predates families)."""
    return get_family(meta_of(idata).family)
