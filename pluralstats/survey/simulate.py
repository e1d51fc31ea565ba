"""A simulated survey shaped like the study, with planted group effects and known truth.

Generating model (the rating model's own form), per dimension d, rater r, item i::

    y = 1 + #{k : eta + e > c_{d,k}},  e ~ Logistic(0, 1)      (cumulative logit)
    eta = sum_a beta_{d,a}[level of r] + u_{d,r} + s_{d,r} * v_{d,i} + sum_a w_{d,a}[level of r, i]
    u_{d,r} ~ N(0, sigma_rater),  v_{d,i} = slope * (level_{d,i} - 1.5) + N(0, sigma_item)

``e`` is drawn from the config's ``family`` (:mod:`pluralstats.families`): logistic by default, standard
normal with ``family="probit"``; the calibration of planted effects uses the same family.

``w`` (``disagreement_sd`` > 0, ``simulate --disagreement SD``): group x item terms of every demographic
attribute (or of ``disagreement_attributes``), N(0, SD) centred over levels within each item and over items
within each level, exactly the rating model's ``fit-survey --disagreement`` term; 0 by default.

``s_{d,r}`` is 1 unless a planted effect gives its group a ``slope_ratio``: how strongly that group's
ratings follow the response's quality. A pure level shift (slope_ratio 1, the paper default) moves a
group's ratings of every response alike, so it cancels in within-prompt preference pairs; a
slope_ratio != 1 (``with_interactions``) makes the groups *prefer* differently, which is what a model
tuned on one group's pairs can pick up. The rating model is additive, so it is exact for the default.

``level_{d,i}`` (0-3) is how strongly response i shows quality d; the response *text* is built from
phrase banks by those levels (insults, empathy, stereotypes, care, concrete help), in English and
German, so a text model can learn the qualities. Planted effects are given as the relative difference
of expected ratings (the study's "male raters rated responses 18% less toxic") and calibrated to
logits with the same contrast definition the rating model estimates: the expected rating of a new
rater of group A vs group B, averaged over the survey's items, the rater-effect distribution and the
survey's composition on the other attributes.

What to simulate (:class:`SimulationConfig`, the planted effects, the presets) is :mod:`.simulation_config`; the
true expected ratings and the calibration of planted effects are :mod:`.simulation_truth`.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, replace
from importlib import resources

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.families import Family, get_family

from .bundle import Survey
from .simulation_config import PAPER_EFFECTS, PRESETS, REFERENCE_LEVELS, SimulationConfig, with_interactions
from .simulation_truth import _ContrastTruth, cutpoints
from .survey_config import STUDY_DIMENSIONS, Dimension, SurveyConfig

# the simulate command (pluralstats.cli.survey) takes the config and its presets from here
__all__ = ["PAPER_EFFECTS", "PRESETS", "SimulatedSurvey", "SimulationConfig", "simulate_survey", "with_interactions"]

# order of the latent quality correlation matrix below
QUALITIES = ["toxicity", "emotional_awareness", "sensitivity", "stereotypical_bias", "helpfulness"]
QUALITY_CORRELATION = np.array([
    [1.0, -0.5, -0.4, 0.5, -0.4],
    [-0.5, 1.0, 0.5, -0.3, 0.4],
    [-0.4, 0.5, 1.0, -0.3, 0.3],
    [0.5, -0.3, -0.3, 1.0, -0.2],
    [-0.4, 0.4, 0.3, -0.2, 1.0],
])
# share of responses at quality level 0..3: harmful qualities are rarer
LEVEL_SHARES = {"toxicity": [0.45, 0.25, 0.18, 0.12], "stereotypical_bias": [0.5, 0.22, 0.16, 0.12]}
DEFAULT_LEVEL_SHARES = [0.2, 0.3, 0.3, 0.2]
SOURCE_MODELS = ["gpt-4o", "llama-3-70b", "mistral-large"]


def _languages(cfg: SimulationConfig) -> tuple[str, ...]:
    """English and German, or English only when every participant is in the US."""
    return ("en",) if cfg.share_us >= 1.0 else ("en", "de")


@dataclass
class SimulatedSurvey:
    """A simulated survey and its ground truth (seed, config, attribute effects, cutpoints, rater and item effects,
    the planted effects, the true contrasts and any group x item terms), for checking what the model recovers."""

    survey: Survey
    truth: dict


def _phrases() -> dict:
    return tomllib.loads(resources.files("pluralstats.resources").joinpath("phrases.toml").read_text())


def _items(cfg: SimulationConfig, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Prompts x responses in both languages; response text assembled from quality levels."""
    bank = _phrases()
    n_prompts = len(_languages(cfg)) * cfg.prompts_per_language
    n_items = n_prompts * cfg.responses_per_prompt
    z = rng.multivariate_normal(np.zeros(5), QUALITY_CORRELATION, size=n_items)
    levels = np.empty_like(z, dtype=int)
    for j, quality in enumerate(QUALITIES):
        shares = LEVEL_SHARES.get(quality, DEFAULT_LEVEL_SHARES)
        cuts = np.quantile(z[:, j], np.cumsum(shares)[:-1])
        levels[:, j] = np.digitize(z[:, j], cuts)
    rows = []
    for lang_index, lang in enumerate(_languages(cfg)):
        situations, templates = bank["situations"][lang], bank["templates"][lang]
        for p in range(cfg.prompts_per_language):
            situation, topic, _sensitive = situations[p % len(situations)]
            template = templates[(p // len(situations)) % len(templates)]
            prompt_id = f"{lang}-{p + 1:03d}"
            prompt = template.format(situation=situation)
            for r in range(cfg.responses_per_prompt):
                i = len(rows)
                lv = dict(zip(QUALITIES, levels[i], strict=True))
                order = ["emotional_awareness", "toxicity", "stereotypical_bias", "helpfulness", "sensitivity"]
                sentences = [bank[q][lang][lv[q]][rng.integers(2)].format(topic=topic) for q in order]
                rows.append({
                    "item_id": f"{prompt_id}-r{r + 1}", "prompt_id": prompt_id, "prompt": prompt,
                    "response": " ".join(s for s in sentences if s), "language": lang,
                    "source_model": SOURCE_MODELS[(i + lang_index) % len(SOURCE_MODELS)],
                })
    return pd.DataFrame(rows), levels


def _participants(cfg: SimulationConfig, rng: np.random.Generator) -> pd.DataFrame:
    n = cfg.n_participants
    country = np.where(rng.random(n) < cfg.share_us, "us", "de")
    frame = pd.DataFrame({"participant_id": [f"P{k + 1:05d}" for k in range(n)], "country": country,
                          "language": np.where(country == "us", "en", "de")})
    for attribute, shares in cfg.attribute_shares.items():
        levels = list(shares)
        frame[attribute] = rng.choice(levels, size=n, p=np.array(list(shares.values())) / sum(shares.values()))
    return frame



def _require_levels(cfg: SimulationConfig, participants: pd.DataFrame, attributes: list[str]) -> None:
    """Refuse (exit 2) a draw too small to hold every reference level and every planted effect's levels."""
    needed = [(a, REFERENCE_LEVELS[a]) for a in attributes if REFERENCE_LEVELS.get(a)]
    needed += [(e.attribute, lvl) for e in cfg.effects for lvl in (e.level_a, e.level_b)]
    missing = sorted({f"{a}={lvl}" for a, lvl in needed if lvl not in set(participants[a].astype(str))})
    if missing:
        raise InputError(f"--participants {cfg.n_participants}: too few participants; no one was drawn for "
                         f"{', '.join(missing[:3])}{' and others' if len(missing) > 3 else ''}, which the "
                         "simulation needs (a reference level or a planted effect's group); use more participants")


def simulate_survey(config: SimulationConfig | None = None, seed: int = 0) -> SimulatedSurvey:
    """Simulate a full survey bundle and the true parameters that generated it."""
    cfg = config or SimulationConfig()
    family = get_family(cfg.family)
    rng = np.random.default_rng(seed)
    items, levels = _items(cfg, rng)
    participants = _participants(cfg, rng)
    attributes = ["country", *cfg.attribute_shares] if len(_languages(cfg)) > 1 else list(cfg.attribute_shares)
    _require_levels(cfg, participants, attributes)
    refs = {a: REFERENCE_LEVELS.get(a) or sorted(participants[a].unique())[0] for a in attributes}
    dims = [d for d in STUDY_DIMENSIONS if cfg.dimensions is None or d in cfg.dimensions]
    if not dims:
        raise InputError(f"no known dimension among {list(cfg.dimensions or ())}; known: {list(STUDY_DIMENSIONS)}")
    beta = {d: {a: {lvl: (0.0 if lvl == refs[a] else float(rng.normal(0, cfg.other_effect_sd)))
                    for lvl in sorted(participants[a].unique())} for a in attributes} for d in dims}
    cfg = replace(cfg, effects=tuple(e for e in cfg.effects if e.dimension in dims and e.attribute in attributes))
    for eff in cfg.effects:  # zero before calibration so that planted effects don't depend on noise draws
        beta[eff.dimension][eff.attribute][eff.level_a] = 0.0
    cuts = {d: cutpoints(cfg.scale_max, d) for d in dims}
    item_effects = {d: cfg.item_slope * (levels[:, QUALITIES.index(d)] - 1.5)
                    + rng.normal(0, cfg.sigma_item, len(items)) for d in dims}
    if len(cfg.sigma_rater_by) > 1 or set(cfg.sigma_rater_by) - set(attributes):
        raise ValueError(f"sigma_rater_by: one attribute among {attributes}, not {sorted(cfg.sigma_rater_by)}")
    truth_calc = _ContrastTruth(participants, item_effects, beta, cuts, cfg.sigma_rater, cfg.effects, family,
                                cfg.sigma_rater_by)
    for eff in cfg.effects:
        if eff.level_b != refs[eff.attribute]:
            raise ValueError(f"planted effect {eff}: level_b must be the reference level {refs[eff.attribute]}")
    for _ in range(6):  # planted effects shift each other's composition averages: iterate to a fixed point
        for eff in cfg.effects:
            beta[eff.dimension][eff.attribute][eff.level_a] = truth_calc.calibrate(eff)
    slopes = {d: truth_calc.slopes(d) for d in dims}
    w = _disagreement_terms(cfg, rng, participants, len(items), dims)
    ratings = _ratings(cfg, rng, participants, items, beta, item_effects, slopes, cuts, dims, w, family)
    config = SurveyConfig(
        name="simulated", scale_max=cfg.scale_max,
        dimensions={d: Dimension(d, STUDY_DIMENSIONS[d]) for d in dims},
        attributes=refs, min_group_size=cfg.min_group_size,
    )
    survey = Survey(config, ratings, participants, items)
    contrasts = [truth_calc.contrast(d, a, lvl, refs[a]) for d in dims for a in attributes
                 for lvl in sorted(beta[d][a]) if lvl != refs[a]]
    truth = {
        "seed": seed, "config": asdict(cfg), "reference_levels": refs,
        "beta": beta, "cutpoints": {d: c.tolist() for d, c in cuts.items()},
        "sigma_rater": dict.fromkeys(dims, cfg.sigma_rater),
        # with sigma_rater_by: attribute -> dimension -> level -> that level's raters' sd
        "sigma_rater_by": {a: {d: {lvl: float(by.get(lvl, cfg.sigma_rater)) for lvl in _levels(participants, a)}
                               for d in dims} for a, by in cfg.sigma_rater_by.items()},
        "sigma_item": {d: float(np.std(v)) for d, v in item_effects.items()},
        "item_effects": {d: dict(zip(items.item_id, np.round(v, 6).tolist(), strict=True))
                         for d, v in item_effects.items()},
        "item_levels": {q: dict(zip(items.item_id, levels[:, j].tolist(), strict=True))
                        for j, q in enumerate(QUALITIES)},
        "planted": [asdict(e) for e in cfg.effects],
        "contrasts": contrasts,
        # group x item terms: tau (their sd) and every term, attribute -> dimension -> level -> item. The
        # "contrasts" above are calibrated without them (they are zero-mean over items within each level, so
        # they move a group's average rating only through the link's curvature)
        "tau": {a: dict.fromkeys(dims, _disagreement_sds(cfg)[a]) for a in w},
        "w": {a: {d: {lvl: dict(zip(items.item_id, np.round(w[a][d][k], 6).tolist(), strict=True))
                      for k, lvl in enumerate(_levels(participants, a))} for d in dims} for a in w},
    }
    return SimulatedSurvey(survey, truth)


def _levels(participants: pd.DataFrame, attribute: str) -> list[str]:
    return sorted(participants[attribute].astype(str).unique())


def _disagreement_sds(cfg: SimulationConfig) -> dict[str, float]:
    """Attribute -> sd of its planted group x item terms (only attributes with sd > 0)."""
    if cfg.disagreement_by:
        chosen = dict(cfg.disagreement_by)
    else:
        chosen = dict.fromkeys(cfg.attribute_shares if cfg.disagreement_attributes is None
                               else cfg.disagreement_attributes, cfg.disagreement_sd)
    unknown = sorted(set(chosen) - set(cfg.attribute_shares))
    if unknown:
        raise ValueError(f"disagreement attributes {unknown} are not simulated; known: {sorted(cfg.attribute_shares)}")
    return {a: float(sd) for a, sd in chosen.items() if sd > 0}


def _disagreement_terms(cfg: SimulationConfig, rng: np.random.Generator, participants: pd.DataFrame,
                        n_items: int, dims: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """Planted group x item terms w[attribute][dimension] (levels x items): iid N(0, sd of the attribute), then
    centred over the levels within each item and over the items within each level, which is the rating
    model's ZeroSumNormal(tau) on both axes. Empty when no attribute has an sd above 0."""
    out = {}
    for attribute, sd in _disagreement_sds(cfg).items():
        n_levels = len(_levels(participants, attribute))
        if n_levels < 2:
            continue
        out[attribute] = {}
        for d in dims:
            raw = rng.normal(0.0, sd, (n_levels, n_items))
            raw -= raw.mean(axis=0, keepdims=True)
            out[attribute][d] = raw - raw.mean(axis=1, keepdims=True)
    return out


def _ratings(cfg, rng, participants, items, beta, item_effects, slopes, cuts, dims, w=None,
             family: Family | None = None) -> pd.DataFrame:
    """Each participant rates every response of a few prompts in their language, on every dimension."""
    prompts_by_lang = {lang: g.prompt_id.unique() for lang, g in items.groupby("language")}
    item_index = {pid: np.flatnonzero(items.prompt_id.to_numpy() == pid) for pid in items.prompt_id.unique()}
    rater_rows, item_rows = [], []
    for p, lang in enumerate(participants.language):
        chosen = rng.choice(prompts_by_lang[lang], size=cfg.prompts_per_participant, replace=False)
        idx = np.concatenate([item_index[pid] for pid in chosen])
        rater_rows.append(np.full(idx.size, p))
        item_rows.append(idx)
    r_idx, i_idx = np.concatenate(rater_rows), np.concatenate(item_rows)
    frames = []
    for d in dims:
        fixed = np.zeros(len(participants))
        for a, effects in beta[d].items():
            fixed += participants[a].map(effects).to_numpy()
        u = rng.normal(0, cfg.sigma_rater, len(participants))
        for attr, by_level in cfg.sigma_rater_by.items():  # the same draws, rescaled to each level's sd
            sd = participants[attr].astype(str).map(by_level).fillna(cfg.sigma_rater).to_numpy(dtype=float)
            u = u / cfg.sigma_rater * sd
        eta = fixed[r_idx] + u[r_idx] + slopes[d][r_idx] * item_effects[d][i_idx]
        for a, terms in (w or {}).items():
            level = pd.Categorical(participants[a].astype(str), categories=_levels(participants, a)).codes
            eta = eta + terms[d][level[r_idx], i_idx]
        latent = eta + get_family(family).sample_noise(rng, eta.size)
        rating = 1 + (latent[:, None] > cuts[d][None, :]).sum(axis=1)
        frames.append(pd.DataFrame({"participant_id": participants.participant_id.to_numpy()[r_idx],
                                    "item_id": items.item_id.to_numpy()[i_idx], "dimension": d,
                                    "rating": rating.astype("int64")}))
    return pd.concat(frames, ignore_index=True)
