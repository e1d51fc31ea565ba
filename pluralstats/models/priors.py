"""The rating model's priors, declared apart from the model graph and the family (as Bambi keeps them).

Scales are on the latent scale of the family: logits for the default logit family. A probit fit keeps the
same numbers, which on its latent scale (sd 1 rather than the logistic's 1.81) are ~1.8 times wider
relative to the noise: still weakly informative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from pluralstats.errors import InputError

#: Prior sd of the attribute effects. A scale of 1 shrinks large group differences in small surveys: over 109
#: simulated 150-rater surveys (analyses/interval_coverage.py) the planted +44% (~1.4 rating points) contrast
#: was covered by 84.4% of its 95% intervals (mean z -0.66) with sd 1 and 92.7% (z -0.20) with 2.5; all
#: contrasts 0.931 +- 0.009 vs 0.950 +- 0.008. 2.5 is the usual weakly informative scale for logistic
#: coefficients.
BETA_PRIOR_SD = 2.5
#: Prior sd of the spread of pooled attribute levels (``pooled_levels``): spreads up to ~2 logits are plausible
POOLED_TAU_PRIOR_SD = 1.0
#: Prior sd of tau, the scale of the group x item terms: most prior mass below ~1 logit, i.e. groups that
#: disagree about single responses by less than their whole spread of item effects.
TAU_PRIOR_SD = 0.5


@dataclass(frozen=True)
class Priors:
    """Every prior scale of :func:`~pluralstats.models.rating.build_model`."""

    #: attribute effects ~ Normal(0, beta_sd) (the reference level fixed at 0)
    beta_sd: float = BETA_PRIOR_SD
    #: spread of pooled levels ~ HalfNormal(pooled_tau_sd)
    pooled_tau_sd: float = POOLED_TAU_PRIOR_SD
    #: rater-effect sd ~ HalfNormal(sigma_rater_sd) (also the joint model's sd prior)
    sigma_rater_sd: float = 1.0
    #: item-effect sd ~ HalfNormal(sigma_item_sd)
    sigma_item_sd: float = 1.0
    #: centred cut points ~ ordered Normal(0, cutpoint_sd)
    cutpoint_sd: float = 3.0
    #: group x item scale ~ HalfNormal(tau_sd)
    tau_sd: float = TAU_PRIOR_SD
    #: LKJ concentration of the joint model's rater-effect correlations
    lkj_eta: float = 2.0


DEFAULT_PRIORS = Priors()


#: ``--prior NAME=SD`` names and the :class:`Priors` field each sets
PRIOR_NAMES = {"beta": "beta_sd", "tau": "tau_sd", "sigma_rater": "sigma_rater_sd", "sigma_item": "sigma_item_sd",
               "cutpoints": "cutpoint_sd", "pooled_tau": "pooled_tau_sd", "lkj_eta": "lkj_eta"}


def parse_priors(items: Iterable[str], base: Priors = DEFAULT_PRIORS) -> tuple[Priors, list[str]]:
    """``["tau=1", "beta=1.5"]`` -> (``base`` with those scales, the names given). Names: :data:`PRIOR_NAMES`
    (``beta``: the attribute effects' Normal sd; ``tau``: the group x item scale's HalfNormal sd; ...); every
    value a positive number. An unknown name, a repeated one or a bad value raises :class:`InputError`."""
    changes: dict[str, float] = {}
    given: list[str] = []
    for item in items:
        name, sep, value = str(item).partition("=")
        name = name.strip().casefold()
        if not sep or name not in PRIOR_NAMES:
            raise InputError(f"--prior '{str(item)[:60]}' must be NAME=SD with NAME one of {', '.join(PRIOR_NAMES)}")
        if name in given:
            raise InputError(f"--prior {name} is given twice")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"--prior {name}: '{value.strip()[:30]}' is not a number") from None
        if not number > 0 or number == float("inf"):
            raise InputError(f"--prior {name}: {value.strip()[:30]} must be a positive, finite number")
        changes[PRIOR_NAMES[name]] = number
        given.append(name)
    return replace(base, **changes), given
