"""Group x item terms (``fit-survey --disagreement``): recovery of tau and of the planted item-level group
differences, the ``disagreements`` command, and group-specific posterior preferences.

One small simulated survey design (one attribute, political; one dimension) fitted three times through one
compiled model: with planted disagreement, with an additive truth, and with an additive truth plus a 1.5-logit
level shift (same shape, so nutpie only swaps the data).
The chains are short for speed, so consumers that gate on diagnostics are called with allow_bad_diagnostics.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.estimates.disagreements import disagreement_tables
from pluralstats.models import category_probabilities, meta_of, save_posterior
from pluralstats.models.data import META_KEY, build_model_data
from pluralstats.models.predict import flat_draws
from pluralstats.models.rating import build_model, data_arrays, set_disagreement
from pluralstats.models.sampling import finish_idata, nutpie_compile, nutpie_sample
from pluralstats.prefs import build_preferences
from pluralstats.prefs.predictive import SharedOrderWarning
from pluralstats.report import build_report
from pluralstats.survey import save_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.simulation_config import PlantedEffect

DIM = "toxicity"
TAU = 1.0
CFG = SimulationConfig(n_participants=200, prompts_per_language=8, responses_per_prompt=4, prompts_per_participant=4,
                       attribute_shares={"political": {"liberal": 0.5, "conservative": 0.5}}, effects=(),
                       disagreement_sd=TAU)


def _fit(sims):
    """Fit each simulation with w_political, compiling once (the surveys have one shape)."""
    compiled, out = None, []
    for sim in sims:
        data = build_model_data(sim.survey, [DIM], ["political"])
        set_disagreement(data, ["political"])
        if compiled is None:
            compiled = nutpie_compile(build_model(data))
        raw = nutpie_sample(compiled.with_data(**data_arrays(data)), draws=500, tune=400, chains=2, seed=1,
                            progress=False)
        out.append(finish_idata(raw, data, backend="nutpie", joint=False, seconds=0.0))
    return out


#: an additive truth whose conservative raters rate toxicity 1.5 logits higher than liberal ones (the planted
#: relative difference that calibrates to it)
SHIFT = SimulationConfig(**{**CFG.__dict__, "disagreement_sd": 0.0,
                            "effects": (PlantedEffect(DIM, "political", "conservative", "liberal", 40.4),)})


@pytest.fixture(scope="module")
def sims():
    """Planted disagreement; an additive truth; an additive truth with a 1.5-logit level shift."""
    return (simulate_survey(CFG, seed=5), simulate_survey(SimulationConfig(**{**CFG.__dict__, "disagreement_sd": 0.0}),
                                                          seed=6), simulate_survey(SHIFT, seed=7))


@pytest.fixture(scope="module")
def fits(sims):
    return _fit(sims)


def _interval(x: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(x, [0.025, 0.975])
    return float(lo), float(hi)


def test_tau_recovered_and_additive_truth_reaches_zero(sims, fits):
    planted, additive = fits[:2]
    lo, hi = _interval(planted.posterior["tau_political"].sel(dimension=DIM).to_numpy())
    assert sims[0].truth["tau"]["political"][DIM] == TAU
    assert lo <= TAU <= hi and lo > 0.3, (lo, hi)
    lo0, hi0 = _interval(additive.posterior["tau_political"].sel(dimension=DIM).to_numpy())
    print(f"tau 95% interval: planted {TAU}: [{lo:.2f}, {hi:.2f}]; additive truth: [{lo0:.3f}, {hi0:.2f}]")
    assert sims[1].truth["tau"] == {} and lo0 < 0.1 and hi0 < 0.6, (lo0, hi0)


def test_item_level_group_differences_recovered(sims, fits):
    """Per item, w[conservative] - w[liberal] (logits, beyond the level shift) against the planted one."""
    idata, truth = fits[0], sims[0].truth["w"]["political"][DIM]
    levels = meta_of(idata).attributes["political"]
    items = idata.constant_data["item"].to_numpy().astype(str)
    w = flat_draws(idata, "w_political")[:, 0]  # (draw, item, level)
    diff = w[:, :, levels.index("conservative")] - w[:, :, levels.index("liberal")]
    true = np.array([truth["conservative"][i] - truth["liberal"][i] for i in items])
    lo, hi = np.quantile(diff, [0.025, 0.975], axis=0)
    coverage = float(((lo <= true) & (true <= hi)).mean())
    corr = float(np.corrcoef(diff.mean(axis=0), true)[0, 1])
    print(f"item-level group differences: correlation {corr:.2f}, 95% coverage {coverage:.2f} ({len(items)} items)")
    assert corr > 0.6 and coverage >= 0.8, (corr, coverage)


def test_unknown_or_single_level_attribute_refused(sims, tmp_path):
    data = build_model_data(sims[0].survey, [DIM], ["political"])
    with pytest.raises(InputError, match="valid: political"):
        set_disagreement(data, ["gender"])
    data.meta.attributes["political"] = ["liberal"]
    with pytest.raises(InputError, match=r"valid: \(none\)"):
        set_disagreement(data, ["political"])
    save_survey(sims[0].survey, tmp_path / "b")
    result = CliRunner().invoke(cli, ["fit-survey", str(tmp_path / "b"), "--out", str(tmp_path / "p.nc"),
                                      "--dimensions", DIM, "--disagreement", "politcal"])
    assert result.exit_code == 2 and "valid:" in result.output, result.output


def _true_better(sim, level: str, a: str, b: str) -> bool:
    """Whether an average rater of ``level`` truly rates ``a`` less toxic than ``b``."""
    v, w = sim.truth["item_effects"][DIM], sim.truth["w"]["political"][DIM][level]
    return v[a] + w[a] < v[b] + w[b]


def test_posterior_preferences_are_group_specific(sims, fits):
    sim, idata = sims[0], fits[0]
    prefs = {}
    for level in ("liberal", "conservative"):
        with warnings.catch_warnings():
            warnings.simplefilter("error", SharedOrderWarning)  # this posterior has w_political: no warning
            df, _ = build_preferences(sim.survey, strategy="posterior", groups=[f"political={level}"],
                                      objective=DIM, posterior=idata, use="all", allow_bad_diagnostics=True)
        prefs[level] = df
        agree = np.mean([_true_better(sim, level, c, r) for c, r in zip(df.chosen_item_id, df.rejected_item_id,
                                                                          strict=True)])
        print(f"{level}: {len(df)} pairs, {agree:.2f} agree with the group's true ordering")
        assert agree > 0.7, (level, agree)
    key = {lv: {frozenset(p): p[0] for p in zip(d.chosen_item_id, d.rejected_item_id, strict=True)}
           for lv, d in prefs.items()}
    common = set(key["liberal"]) & set(key["conservative"])
    flipped = sum(key["liberal"][p] != key["conservative"][p] for p in common)
    print(f"{flipped} of {len(common)} pairs oriented differently by liberal and conservative")
    assert flipped >= 3


def test_additive_posterior_warns_and_orients_alike(sims, fits):
    idata = copy.deepcopy(fits[0])
    meta = json.loads(idata.constant_data.attrs[META_KEY])
    idata.constant_data.attrs[META_KEY] = json.dumps({**meta, "disagreement": []})  # w ignored: additive
    a = category_probabilities(idata, DIM, {"political": "liberal"})
    b = category_probabilities(idata, DIM, {"political": "conservative"})
    mean_a, mean_b = (p @ np.arange(1, 6) for p in (a, b))
    assert (np.argsort(mean_a.mean(axis=0)) == np.argsort(mean_b.mean(axis=0))).all()
    with pytest.warns(SharedOrderWarning, match="every group orients every pair the same way"):
        build_preferences(sims[0].survey, strategy="posterior", groups=["political=liberal"], objective=DIM,
                          posterior=idata, use="all", allow_bad_diagnostics=True)


def test_disagreements_command(fits, tmp_path):
    path = save_posterior(fits[0], tmp_path / "p.nc")
    out = tmp_path / "d"
    result = CliRunner().invoke(cli, ["disagreements", str(path), "--groups", "liberal", "conservative",
                                      "--top", "5", "--out", str(out), "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    pairs = pd.read_csv(out / "disagreement_pairs.csv")
    items = pd.read_csv(out / "disagreement_items.csv")
    assert len(pairs) == 16 * 6 and len(items) == 64 and (out / "disagreements.png").exists()
    assert pairs.p_opposite.is_monotonic_decreasing and pairs.p_opposite.iloc[0] > 0.5
    assert items.latent_diff.abs().is_monotonic_decreasing
    assert json.loads((out / "manifest.json").read_text())["options"]["delta"] == 0.1
    text = (out / "disagreement_pairs.csv").read_text() + (out / "disagreement_items.csv").read_text()
    assert "participant" not in text and "P00" not in text
    report = build_report(tmp_path).read_text()  # the report shows the top rows, labelled with the groups
    assert "Items liberal and conservative disagree on most" in report and "top 10 of 64" in report
    assert f"| {items.item_id.iloc[0]} | {items.latent_diff.iloc[0]:.3f} |" in report
    assert "Pairs liberal and conservative most likely order oppositely" in report
    idata = copy.deepcopy(fits[0])
    meta = json.loads(idata.constant_data.attrs[META_KEY])
    idata.constant_data.attrs[META_KEY] = json.dumps({**meta, "disagreement": []})
    additive = save_posterior(idata, tmp_path / "a.nc")
    result = CliRunner().invoke(cli, ["disagreements", str(additive), "--groups", "liberal", "conservative",
                                      "--out", str(tmp_path / "e"), "--allow-bad-diagnostics"])
    assert result.exit_code == 2 and "no group x item" in result.output, result.output
    attributes = {**meta["attributes"], "gender": ["female", "male"]}  # a second attribute, for the refusal only
    idata.constant_data.attrs[META_KEY] = json.dumps({**meta, "attributes": attributes})
    two = save_posterior(idata, tmp_path / "g.nc")
    result = CliRunner().invoke(cli, ["disagreements", str(two), "--groups", "liberal", "male",
                                      "--out", str(tmp_path / "f"), "--allow-bad-diagnostics"])
    assert result.exit_code == 2 and "same attribute" in result.output, result.output


def test_level_shift_is_not_disagreement(sims, fits):
    """An additive truth with a 1.5-logit level shift: the latent item differences w_A - w_B cover 0 (at most 5%
    of the intervals exclude it), no pair is more likely than not ordered oppositely, while the rating-scale
    difference still varies over items (the floor and ceiling), which is why items are not ranked by it."""
    sim, idata = sims[2], fits[2]
    shift = sim.truth["beta"][DIM]["political"]["conservative"] - sim.truth["beta"][DIM]["political"]["liberal"]
    assert abs(shift - 1.5) < 0.05 and sim.truth["w"] == {}
    items, pairs = disagreement_tables(idata, "political", "conservative", "liberal")
    w = flat_draws(idata, "w_political")[:, 0]
    levels = meta_of(idata).attributes["political"]
    direct = (w[:, :, levels.index("conservative")] - w[:, :, levels.index("liberal")]).mean(axis=0)
    order = pd.Index(idata.constant_data["item"].to_numpy().astype(str))
    assert np.allclose(items.latent_diff.to_numpy(), direct[order.get_indexer(items.item_id)])
    excludes = ((items.latent_lo > 0) | (items.latent_hi < 0)).mean()
    spread = items.rating_diff.max() - items.rating_diff.min()
    print(f"1.5-logit level shift, additive truth: {excludes:.3f} of {len(items)} latent intervals exclude 0; "
          f"rating-scale differences span {spread:.2f} points; max p_opposite {pairs.p_opposite.max():.2f}")
    assert excludes <= 0.05, excludes
    assert (pairs.p_opposite <= 0.5).all(), pairs.p_opposite.max()
    assert spread > 0.1 and (items.rating_diff > 0).all()  # what the old rating-scale ranking sorted on
    loose = disagreement_tables(idata, "political", "conservative", "liberal", delta=0.0)[1]
    strict = disagreement_tables(idata, "political", "conservative", "liberal", delta=0.3)[1]
    key = ["dimension", "item_1", "item_2"]
    both = loose.merge(pairs, on=key, suffixes=("_0", "")).merge(strict, on=key, suffixes=("", "_3"))
    assert (both.p_opposite_0 >= both.p_opposite).all() and (both.p_opposite >= both.p_opposite_3).all()
    assert (both.p_gap_0 >= both.p_gap).all() and both.p_gap_0.min() > 0.99  # |d_A - d_B| > 0 almost surely


def test_one_response_per_prompt_writes_items_and_exits_0(fits, tmp_path):
    idata = copy.deepcopy(fits[0])
    items = idata.constant_data["item"].to_numpy().astype(str)
    idata.constant_data["item_prompt"] = ("item", np.array([f"prompt-{i}" for i in items]))  # no two share one
    path = save_posterior(idata, tmp_path / "p.nc")
    out = tmp_path / "d"
    result = CliRunner().invoke(cli, ["disagreements", str(path), "--groups", "liberal", "conservative",
                                      "--out", str(out), "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert "no within-prompt pairs" in " ".join(result.output.split())
    assert len(pd.read_csv(out / "disagreement_items.csv")) == 64
    assert len(pd.read_csv(out / "disagreement_pairs.csv")) == 0
    assert (out / "disagreements.png").exists() and (out / "disagreements.pdf").exists()


def _coverage_module():
    """analyses/disagreement_coverage.py, imported from its file."""
    path = Path(__file__).resolve().parents[1] / "analyses" / "disagreement_coverage.py"
    spec = importlib.util.spec_from_file_location("disagreement_coverage", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_item_difference_coverage_over_seeds():
    """analyses/disagreement_coverage.py over 20 surveys: item-level 95% intervals cover 0.92-0.98."""
    module = _coverage_module()
    frame = pd.DataFrame([module.fit_one(seed, 200, 1.0, 1000, 400) for seed in range(2000, 2020)])
    print(module.summarize(frame))
    assert 0.92 <= frame.coverage.mean() <= 0.98


@pytest.mark.slow
def test_coverage_where_users_are():
    """analyses/disagreement_coverage.py's users design (three political levels, other effects, tau 0.5) over 10
    surveys: the latent and rating-scale item differences `disagreements` prints cover 0.92-0.98 over every pair
    of levels, and tau's interval covers 0.5 in at least 8 of 10."""
    module = _coverage_module()
    frame = pd.DataFrame([module.fit_one(seed, 300, 0.5, 1000, 400, "users") for seed in range(3000, 3010)])
    print(module.summarize(frame))
    assert len([c for c in frame.columns if c.startswith("rating_coverage[")]) == 3
    assert 0.92 <= frame.coverage.mean() <= 0.98 and 0.92 <= frame.rating_coverage.mean() <= 0.98
    assert frame.tau_covered.sum() >= 8


def _person_monte_carlo(idata, group: dict, a: np.ndarray, b: np.ndarray, keep: np.ndarray, n: int = 200_000,
                        seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``P(y_a > y_b)`` and ``P(y_b > y_a)`` per pair by simulating people: a draw (of ``keep``), a survey rater's
    levels (the group's fixed), ONE rater effect from her level's sd, then her logistic-latent rating of each
    item."""
    rng = np.random.default_rng(seed)

    def draws(name: str) -> np.ndarray:
        return flat_draws(idata, name)[keep]

    meta = meta_of(idata)
    attrs = list(meta.attributes)
    levels = idata.constant_data["rater_level"].to_numpy()
    t = rng.integers(len(keep), size=n)
    lv = levels[rng.integers(len(levels), size=n)].copy()
    for attr, level in group.items():
        lv[:, attrs.index(attr)] = meta.attributes[attr].index(level)
    base = sum(draws(f"beta_{attr}")[t, 0, lv[:, j]] for j, attr in enumerate(attrs))
    sigma = draws("sigma_rater")
    sd = sigma[t, 0] if sigma.ndim == 2 else sigma[t, 0, lv[:, attrs.index(meta.rater_variance_by)]]
    person = base + rng.normal(size=n) * sd  # shared by both of her ratings
    v, cut = draws("item_effect")[:, :, 0], draws("cutpoints")[:, 0]
    w = draws("w_political")[:, 0]
    j = attrs.index("political")

    def rating(item: np.ndarray) -> np.ndarray:
        eta = person[:, None] + v[t[:, None], item[None, :]] + w[t[:, None], item[None, :], lv[:, j, None]]
        latent = eta + rng.logistic(size=eta.shape)
        return 1 + (latent[:, :, None] > cut[t][:, None, :]).sum(axis=2)

    ya, yb = rating(a), rating(b)
    return (ya > yb).mean(axis=0), (yb > ya).mean(axis=0)


def _with_rater_sd_by_level(idata, sds: dict[str, float]):
    """A copy whose sigma_rater has one sd per political level (as fit-survey --rater-variance-by political)."""
    import xarray as xr

    out = copy.deepcopy(idata)
    levels = meta_of(out).attributes["political"]
    base = out.posterior["sigma_rater"]
    scale = xr.DataArray([sds[lv] for lv in levels], dims="political_level")
    out.posterior["sigma_rater"] = base / base.mean() * scale
    meta = json.loads(out.constant_data.attrs[META_KEY])
    out.constant_data.attrs[META_KEY] = json.dumps({**meta, "rater_variance_by": "political"})
    return out


@pytest.mark.parametrize("case", ["one sd", "sd by level, group fixed", "sd by level, all raters"])
def test_pair_probability_is_one_raters(fits, case):
    """The posterior strategy's E(a > b) integrates ONE rater effect per pair: it matches a simulation of people
    rating both responses, and the product of the marginals (two different raters) does not."""
    from pluralstats.models.predict import rater_mixture
    from pluralstats.prefs.evidence import evidence

    idata = fits[0] if case == "one sd" else _with_rater_sd_by_level(fits[0], {"liberal": 0.6, "conservative": 1.6})
    group = {} if case == "sd by level, all raters" else {"political": "conservative"}
    a, b = np.arange(0, 24, 4), np.arange(1, 24, 4)  # six within-prompt pairs (items sorted by id)
    keep = np.arange(0, flat_draws(idata, "sigma_item").shape[0], 5)
    probs, weights = rater_mixture(idata, DIM, group or None, draws=keep)
    assert np.allclose(weights.sum(axis=1), 1.0)
    fwd, bwd = evidence(probs[:, a], probs[:, b])
    e_ab, e_ba = np.einsum("npm,nm->p", fwd, weights) / len(keep), np.einsum("npm,nm->p", bwd, weights) / len(keep)
    marginal = category_probabilities(idata, DIM, group or None)[keep]
    assert np.abs(np.einsum("nimk,nm->nik", probs, weights) - marginal).max() < 2e-3
    two_raters = evidence(marginal[:, a], marginal[:, b])[0].mean(axis=0)
    mc_ab, mc_ba = _person_monte_carlo(idata, group, a, b, keep)
    err = max(np.abs(mc_ab - e_ab).max(), np.abs(mc_ba - e_ba).max())
    gap = np.abs(two_raters - mc_ab).max()
    print(f"{case}: |quadrature - MC| {err:.4f}, |two raters - MC| {gap:.4f}")
    assert err < 0.006, err  # MC se <= 0.0012
    assert gap > 0.015, gap


def test_fit_survey_command_reports_each_family(sims, tmp_path):
    """The command's whole path with group x item terms: the fit, each family's R-hat against its bound, the
    posterior and its manifest written (a short run, its verdict whatever it is, let through)."""
    save_survey(sims[0].survey, tmp_path / "b")
    result = CliRunner().invoke(cli, ["fit-survey", str(tmp_path / "b"), "--out", str(tmp_path / "p.nc"),
                                      "--dimensions", DIM, "--disagreement", "political", "--draws", "100",
                                      "--tune", "100", "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert "w_political:" in result.output and "the term nearest its bound: R-hat" in result.output
    assert (tmp_path / "p.nc").exists() and (tmp_path / "p.nc.manifest.json").exists()
