"""Fast checks of the rating models on a small simulated survey (one fit, shared by the module)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy.special import expit

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.estimates.group_comparison import compare_groups, resolve_groups
from pluralstats.models import (
    all_contrasts,
    category_probabilities,
    contrast_draws,
    expected_rating,
    fit_survey,
    group_contrasts,
    load_posterior,
    meta_of,
    save_posterior,
)
from pluralstats.models.predict import flat_draws
from pluralstats.survey import save_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

DIMS = ["toxicity", "emotional_awareness"]
ATTRS = ["gender", "political", "race_ethnicity"]
SMALL = SimulationConfig(n_participants=240, prompts_per_language=8, responses_per_prompt=4,
                         prompts_per_participant=3)


@pytest.fixture(scope="module")
def sim():
    return simulate_survey(SMALL, seed=3)


@pytest.fixture(scope="module")
def idata(sim):
    return fit_survey(sim.survey, dimensions=DIMS, attributes=ATTRS, draws=250, tune=500, seed=1,
                      progress=False)


def _truth(sim, dimension, attribute, level_a):
    return next(c for c in sim.truth["contrasts"] if c["dimension"] == dimension
                and c["attribute"] == attribute and c["level_a"] == level_a)


def test_planted_effects_recovered(sim, idata):
    """Each planted effect (the simulator's PAPER_EFFECTS) lies inside its 95% interval, with the right sign."""
    for eff in sim.truth["planted"]:
        if eff["dimension"] not in DIMS:
            continue
        row = group_contrasts(idata, eff["attribute"], eff["level_a"], eff["level_b"], [eff["dimension"]]).iloc[0]
        truth = _truth(sim, eff["dimension"], eff["attribute"], eff["level_a"])
        assert row.rel_lo <= truth["rel_pct"] <= row.rel_hi, (eff, row.to_dict())
        assert row.diff_lo <= truth["diff"] <= row.diff_hi
        assert np.sign(row["diff"]) == np.sign(eff["rel_pct"])
        assert (row.p_positive > 0.975) if eff["rel_pct"] > 0 else (row.p_positive < 0.025)


def test_contrast_matches_brute_force_simulation(idata):
    """The grid-integrated contrast equals simulating new raters and ratings from the posterior."""
    rng = np.random.default_rng(0)
    meta = meta_of(idata)
    d = meta.dimensions.index("toxicity")
    levels = idata.constant_data["rater_level"].to_numpy()
    picks = np.arange(0, flat_draws(idata, "sigma_item").shape[0], 25)
    n = 60_000

    def simulate_mean(draw: int, level: str) -> float:
        r = rng.integers(0, levels.shape[0], n)
        eta = rng.normal(0, flat_draws(idata, "sigma_rater")[draw, d], n)
        for j, attr in enumerate(meta.attributes):
            beta = flat_draws(idata, f"beta_{attr}")[draw, d]
            eta += beta[meta.attributes[attr].index(level)] if attr == "gender" else beta[levels[r, j]]
        v = flat_draws(idata, "item_effect")[draw, :, d]
        eta += v[rng.integers(0, v.size, n)]
        cut = flat_draws(idata, "cutpoints")[draw, d]
        return float((1 + (rng.random(n)[:, None] > expit(cut[None, :] - eta[:, None])).sum(axis=1)).mean())

    brute = np.array([simulate_mean(s, "male") - simulate_mean(s, "female") for s in picks])
    grid = contrast_draws(idata, "gender", "male", "female", ["toxicity"])["diff"].to_numpy().ravel()[picks]
    assert abs(brute.mean() - grid.mean()) < 0.004  # MC error of the brute force ~0.001
    assert np.abs(brute - grid).max() < 0.03


def test_category_probabilities(idata):
    items = list(idata.constant_data["item"].to_numpy()[:5])
    probs = category_probabilities(idata, "toxicity", {"political": "conservative"}, items)
    assert probs.shape == (1000, 5, 5)
    np.testing.assert_allclose(probs.sum(axis=2), 1.0, atol=1e-9)
    mean_from_probs = (probs * np.arange(1, 6)).sum(axis=2).mean(axis=1)
    np.testing.assert_allclose(mean_from_probs, expected_rating(idata, "toxicity", {"political": "conservative"},
                                                                items), atol=1e-6)
    with pytest.raises(InputError, match="not in the fitted survey"):
        category_probabilities(idata, "toxicity", None, ["no-such-item"])
    with pytest.raises(InputError, match="known: liberal"):
        category_probabilities(idata, "toxicity", {"political": "green"}, items)


def test_save_load_roundtrip(idata, tmp_path):
    path = save_posterior(idata, tmp_path / "post.nc")
    again = load_posterior(path)
    assert meta_of(again) == meta_of(idata)
    pd.testing.assert_frame_equal(all_contrasts(again), all_contrasts(idata))


def test_compare_groups_seam(idata):
    model = pd.DataFrame({"dimension": ["toxicity"], "diff": [0.1], "lo": [0.0], "hi": [0.2]})
    table = compare_groups(idata, "conservative", "political=liberal", model_side=model)
    assert list(table.dimension) == DIMS
    assert table.loc[0, "model_diff"] == 0.1 and np.isnan(table.loc[1, "model_diff"])
    with pytest.raises(InputError, match="same attribute"):
        resolve_groups(idata, "male", "liberal")


def test_plots_written(idata, tmp_path):
    from pluralstats.estimates.ppc import predictive_check
    from pluralstats.plots.posterior_plots import plot_compare, plot_forest, plot_ppc, plot_rank

    written = plot_forest(all_contrasts(idata), tmp_path / "forest.png")
    written += plot_compare(compare_groups(idata, "male", "female"), tmp_path / "cmp.png")
    observed, predicted = predictive_check(idata, None, n_draws=200)
    written += plot_ppc(observed, predicted, tmp_path / "ppc.png")
    written += plot_rank(idata, tmp_path / "rank.png")
    assert all(p.exists() and p.stat().st_size > 1000 for p in written) and len(written) == 8
    assert set(observed.attribute) == set(ATTRS)
    # data simulated from the model: its observed shares lie inside the replicated 95% intervals (replications
    # with new raters and new multinomial draws), and the large groups' shares are matched on average
    merged = observed.merge(predicted, on=["attribute", "dimension", "group", "rating"], suffixes=("_obs", ""))
    inside = (merged.share_obs >= merged.lo) & (merged.share_obs <= merged.hi)
    assert inside.mean() >= 0.9, merged[~inside]
    big = merged[merged.group.isin(["male", "female", "liberal", "conservative", "white"])]
    assert (np.abs(big.share_obs - big.share) < 0.04).all()
    # intervals widen for small groups (fewer raters, more rater and multinomial variability)
    width = merged.assign(w=merged.hi - merged.lo).groupby("group").w.mean()
    assert width["non_binary"] > width["female"]


def test_replicated_ratings_follow_the_category_probabilities(idata):
    """With sigma_rater = 0, the frequency of each replicated category of one rating over draws equals the
    mean of its textbook probabilities expit(c_k - eta) - expit(c_(k-1) - eta)."""
    from pluralstats.estimates.ppc import replicate_ratings

    fixed = idata.copy()
    fixed.posterior["sigma_rater"] = fixed.posterior["sigma_rater"] * 0.0
    total = fixed.posterior.sizes["chain"] * fixed.posterior.sizes["draw"]
    rep = replicate_ratings(fixed, n_draws=total, seed=3)
    cd = fixed.constant_data
    post = fixed.posterior.stack(s=("chain", "draw"))
    for obs in (0, 17, 500):
        d, r, i = (int(cd[v][obs]) for v in ("obs_dimension", "obs_rater", "obs_item"))
        eta = post["item_effect"].to_numpy()[i, d]
        for j, attr in enumerate(cd["attribute"].to_numpy()):
            eta = eta + post[f"beta_{attr}"].to_numpy()[d, int(cd["rater_level"][r, j])]
        cuts = post["cutpoints"].to_numpy()[d]  # (cut, sample)
        cdf = np.vstack([np.zeros_like(eta), expit(cuts - eta), np.ones_like(eta)])
        expected = np.diff(cdf, axis=0).mean(axis=1)
        freq = np.bincount(rep[:, obs] - 1, minlength=len(expected)) / rep.shape[0]
        assert np.abs(freq - expected).max() < 0.05, (obs, freq, expected)


def test_az_plot_ppc_works_on_the_replications(idata, tmp_path):
    import arviz as az
    import matplotlib.pyplot as plt

    from pluralstats.estimates.ppc import add_posterior_predictive

    with_pp = add_posterior_predictive(idata.copy(), n_draws=50)
    assert with_pp.posterior_predictive["rating"].shape == (1, 50, len(idata.constant_data["obs_rating"]))
    az.plot_ppc(with_pp, kind="cumulative", num_pp_samples=20)
    plt.close("all")


@pytest.fixture(scope="module")
def bundle(sim, tmp_path_factory):
    return save_survey(sim.survey, tmp_path_factory.mktemp("bundle") / "survey")


def test_cli_compare_unknown_group_exits_2(bundle):
    result = CliRunner().invoke(cli, ["compare", str(bundle), "--groups", "liberal", "martian", "--out", "x"])
    assert result.exit_code == 2
    assert "martian" in result.output and "liberal" in result.output and "conservative" in result.output


def test_cli_too_few_draws_flagged_then_contrasts(bundle, tmp_path):
    """A 30-draw fit fails the ESS check (exit 3, file kept); contrasts then needs the override."""
    runner = CliRunner()
    post = tmp_path / "p.nc"
    result = runner.invoke(cli, ["fit-survey", str(bundle), "--out", str(post), "--dimensions", "toxicity",
                                 "--attributes", "gender,political", "--draws", "30", "--tune", "100",
                                 "--max-chains", "2"])
    assert result.exit_code == 3, result.output
    assert "ESS" in result.output and post.exists()
    result = runner.invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 3
    result = runner.invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "c.csv"), "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(tmp_path / "c.csv").level_a) == {"male", "non_binary", "conservative"}
    result = runner.invoke(cli, ["compare", str(post), "--groups", "female", "male", "--out", str(tmp_path / "cmp"),
                                 "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cmp" / "compare.csv").exists() and (tmp_path / "cmp" / "compare.pdf").exists()
    result = runner.invoke(cli, ["compare", str(post), "--groups", "female", "elf", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "non_binary" in result.output
    # the issue's spelling, --posterior, reads the same file and gives the same table
    result = runner.invoke(cli, ["compare", "--posterior", str(post), "--groups", "female", "male", "--out",
                                 str(tmp_path / "cmp2"), "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "cmp2" / "compare.csv"),
                                  pd.read_csv(tmp_path / "cmp" / "compare.csv"))
    result = runner.invoke(cli, ["compare", "--groups", "female", "male", "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "exactly one" in result.output


def test_ordinal_loglik_equals_textbook_form():
    """The one-exp-one-log likelihood equals sum log(sigmoid(c_hi - eta) - sigmoid(c_lo - eta)) in value
    and gradient, bottom and top categories and |eta| up to 40 included."""
    import pytensor
    import pytensor.tensor as pt
    from scipy.special import log_expit

    from pluralstats.models.rating import BIG, ordinal_loglik

    rng = np.random.default_rng(0)
    n_dim, n_cat = 2, 5
    cuts = np.sort(rng.normal(0, 2, (n_dim, n_cat - 1)), axis=1)
    dim_val = rng.integers(0, n_dim, 400)
    y_val = rng.integers(0, n_cat, 400)
    eta_val = np.concatenate([rng.normal(0, 3, 396), [-40.0, 40.0, -25.0, 25.0]])
    eta, cut, dim, y = pt.dvector("eta"), pt.dmatrix("cut"), pt.lvector("dim"), pt.lvector("y")
    padded = pt.concatenate([pt.fill(cut[:, :1], -BIG), cut, pt.fill(cut[:, :1], BIG)], axis=1)
    cell = dim * n_cat + y
    fast = ordinal_loglik(eta, padded, cell, pt.extra_ops.bincount(cell, minlength=n_dim * n_cat))
    lo, hi = padded.flatten()[dim * (n_cat + 1) + y], padded.flatten()[dim * (n_cat + 1) + y + 1]
    textbook = pt.log(pt.sigmoid(hi - eta) - pt.sigmoid(lo - eta)).sum()
    f = pytensor.function([eta, cut, dim, y], [fast, textbook, *pt.grad(fast, [eta, cut]),
                                               *pt.grad(textbook, [eta, cut])])
    # every rating, extremes included, against an independent stable closed form
    padded_np = np.concatenate([np.full((n_dim, 1), -np.inf), cuts, np.full((n_dim, 1), np.inf)], axis=1)
    c_lo, c_hi = padded_np[dim_val, y_val], padded_np[dim_val, y_val + 1]
    with np.errstate(divide="ignore"):
        exact = (log_expit(c_hi - eta_val) + log_expit(eta_val - c_lo) + np.log(-np.expm1(c_lo - c_hi))).sum()
    value = f(eta_val, cuts, dim_val, y_val)[0]
    assert np.isfinite(value)
    np.testing.assert_allclose(value, exact, rtol=1e-12)
    # value and gradient against the textbook form where that form is accurate (|eta| <~ 10)
    v_fast, v_book, ge_fast, gc_fast, ge_book, gc_book = f(eta_val[:396], cuts, dim_val[:396], y_val[:396])
    np.testing.assert_allclose(v_fast, v_book, rtol=1e-10)
    np.testing.assert_allclose(ge_fast, ge_book, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(gc_fast, gc_book, rtol=1e-7, atol=1e-10)


# ---------------------------------------------------------------- adjusted contrasts: shares, groups, weights


def test_contrasts_labelled_with_shares(idata):
    """Every row says it is standardised to the sample; the share rows are P(rating >= k) of the category
    probabilities, in percent, and their difference is in percentage points."""
    from pluralstats.models.groups import group_draws

    frame = all_contrasts(idata, ["gender"], ["toxicity"], quantities=("mean", "share"))
    k = meta_of(idata).thresholds["toxicity"]
    assert set(frame.standardisation) == {"adjusted (standardised to the sample)"}
    assert list(frame.quantity) == ["mean", "mean", f"share>={k}", f"share>={k}"]
    share = group_draws(idata, "toxicity", [{"gender": "male"}], quantity="share")[:, 0]
    probs = category_probabilities(idata, "toxicity", {"gender": "male"})[:, :, k - 1:].sum(axis=2).mean(axis=1)
    np.testing.assert_allclose(share, 100 * probs, atol=1e-3)
    row = frame[(frame.quantity != "mean") & (frame.level_a == "male")].iloc[0]
    assert row.mean_a == pytest.approx(share.mean()) and row.diff_lo < row["diff"] < row.diff_hi


def test_groups_case_insensitive_and_ambiguous(idata):
    from pluralstats.survey import resolve_level

    assert resolve_groups(idata, "Conservative", "POLITICAL=Liberal") == ("political", "conservative", "liberal")
    with pytest.raises(InputError, match="ambiguous: it matches gender=Other, race=other"):
        resolve_level({"gender": ["Other", "f"], "race": ["other", "w"]}, "OTHER")
    with pytest.raises(InputError, match="matches Male, male"):
        resolve_level({"gender": ["Male", "male"]}, "gender=MALE")
    with pytest.raises(InputError, match="Unknown attribute 'party'; known: gender, political"):
        all_contrasts(idata, ["party"])


def test_intersectional_groups_and_their_suppression(idata):
    from pluralstats.models.groups import group_draws, group_size

    a, b = {"gender": "female", "political": "conservative"}, {"gender": "male", "political": "liberal"}
    table = compare_groups(idata, "gender=female&political=conservative", "Political=liberal&gender=male",
                           dimensions=["toxicity"])
    assert (table.attribute.iloc[0], table.level_a.iloc[0], table.level_b.iloc[0]) == \
        ("gender&political", "female&conservative", "male&liberal")
    draws = group_draws(idata, "toxicity", [a, b])
    assert table["diff"].iloc[0] == pytest.approx((draws[:, 0] - draws[:, 1]).mean())
    with pytest.raises(InputError, match="fixing"):
        resolve_groups(idata, "gender=female&political=liberal", "male")
    # a cell with fewer than k raters is suppressed although each of its levels has k or more
    k = meta_of(idata).min_group_size
    small = next(g for g in ({"gender": "non_binary", "race_ethnicity": r} for r in
                             meta_of(idata).attributes["race_ethnicity"]) if group_size(idata, g, "toxicity") < k)
    spec = f"gender=non_binary&race_ethnicity={small['race_ethnicity']}"
    hidden = compare_groups(idata, spec, "gender=female&race_ethnicity=white", dimensions=["toxicity"])
    assert hidden.suppressed.all() and hidden["diff"].isna().all() and hidden.small_cell.all()


def test_hypothesis_matches_contrast(idata, tmp_path):
    from pluralstats.estimates.hypothesis import hypothesis

    row = hypothesis(idata, "political:Conservative - political:liberal > 0", "toxicity")
    ref = group_contrasts(idata, "political", "conservative", "liberal", ["toxicity"]).iloc[0]
    assert row.estimate == pytest.approx(ref["diff"]) and row.probability == pytest.approx(ref.p_positive)
    assert row.lo == pytest.approx(ref.diff_lo) and not row.suppressed
    halves = hypothesis(idata, "2 * (political:conservative - 0.5 * political:liberal) - political:liberal "
                               "<= -0.1", "toxicity")
    assert halves.estimate == pytest.approx(2 * ref["diff"])
    with pytest.raises(InputError, match="known: liberal, conservative"):
        hypothesis(idata, "political:green > 0", "toxicity")
    post = save_posterior(idata, tmp_path / "post.nc")
    result = CliRunner().invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "h.csv"), "--hypothesis",
                                      "political:martian - political:liberal > 0.2"])
    assert result.exit_code == 2 and "liberal, conservative" in result.output
    result = CliRunner().invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "h.csv"), "--hypothesis",
                                      "political:conservative - political:liberal > 0.2", "--dimension",
                                      "emotional_awareness", "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    saved = pd.read_csv(tmp_path / "h.csv")
    assert list(saved.dimension) == ["emotional_awareness"] and 0 <= saved.probability.iloc[0] <= 1
    # on shares: the same draws as the share>=k contrast, in percentage points
    result = CliRunner().invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "s.csv"), "--hypothesis",
                                      "political:conservative - political:liberal > 0", "--dimension", "toxicity",
                                      "--quantity", "share", "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    share = group_contrasts(idata, "political", "conservative", "liberal", ["toxicity"], quantities=("share",))
    saved = pd.read_csv(tmp_path / "s.csv").iloc[0]
    assert saved.quantity == share.quantity.iloc[0] and saved.estimate == pytest.approx(share["diff"].iloc[0])


def _conservative_margins(idata) -> pd.DataFrame:
    """Population cells: everyone conservative, race as in the sample, gender as in the sample."""
    meta = meta_of(idata)
    levels = idata.constant_data["rater_level"].to_numpy()
    names = list(meta.attributes)
    cells = []
    for g, ng in enumerate(np.bincount(levels[:, names.index("gender")]) / len(levels)):
        for r, nr in enumerate(np.bincount(levels[:, names.index("race_ethnicity")]) / len(levels)):
            cells.append({"gender": meta.attributes["gender"][g], "political": "conservative",
                          "race_ethnicity": meta.attributes["race_ethnicity"][r], "share": ng * nr})
    return pd.DataFrame(cells)


def test_poststratified_contrast_reproduces_the_subgroup(idata, tmp_path):
    """All weight on political=conservative (race as in the sample) gives the male - female contrast of
    conservative raters, computed as an intersectional contrast standardised to the sample."""
    from pluralstats.models.contrasts import group_contrast_draws
    from pluralstats.models.groups import composition

    margins = _conservative_margins(idata)
    path = tmp_path / "margins.csv"
    margins.to_csv(path, index=False)
    weighted = contrast_draws(idata, "gender", "male", "female", ["toxicity"], weights=path)
    subgroup = group_contrast_draws(idata, "gender=male&political=conservative",
                                    "gender=female&political=conservative", ["toxicity"])
    np.testing.assert_allclose(weighted["diff"].to_numpy(), subgroup["diff"].to_numpy(), atol=2e-3)
    np.testing.assert_allclose(weighted["mean_a"].to_numpy(), subgroup["mean_a"].to_numpy(), atol=2e-3)
    table = group_contrasts(idata, "gender", "male", "female", ["toxicity"], weights=path)
    assert table.standardisation.iloc[0] == "adjusted (poststratified to margins.csv: each group's own cells)"
    standardised = group_contrasts(idata, "gender", "male", "female", ["toxicity"],
                                   weights=composition(idata, path, "standardised"))
    assert standardised.standardisation.iloc[0] == "adjusted (standardised to margins.csv)"
    # equal cells: the unbalanced sample (55% white, 3% non-binary...) gives other group means
    sample = all_contrasts(idata, ["political"], ["toxicity"])
    equal = all_contrasts(idata, ["political"], ["toxicity"], weights="equal")
    assert equal.standardisation.iloc[0] == "adjusted (standardised to equal cells of every attribute)"
    assert abs(equal.mean_a.iloc[0] - sample.mean_a.iloc[0]) > 0.01


def test_margins_file_errors(idata, tmp_path):
    from pluralstats.models.groups import composition

    good = _conservative_margins(idata)
    cases = {
        "unknown level": (good.assign(political=["martian"] + ["conservative"] * (len(good) - 1)),
                          "line 2: Unknown level 'martian'"),
        "sum": (good.assign(share=good.share * 0.9), "sum to 0.9"),
        "columns": (good.drop(columns="race_ethnicity"), "missing: race_ethnicity"),
        "duplicate": (pd.concat([good, good.iloc[[0]]]).assign(share=lambda f: f.share / f.share.sum()),
                      f"line {len(good) + 2}: the same cell as line 2"),
    }
    for frame, message in cases.values():
        path = tmp_path / "m.csv"
        frame.to_csv(path, index=False)
        with pytest.raises(InputError, match=message):
            composition(idata, path)
    post = save_posterior(idata, tmp_path / "post.nc")
    result = CliRunner().invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "c.csv"), "--weights",
                                      str(tmp_path / "m.csv")])
    assert result.exit_code == 2 and "the same cell as line 2" in result.output


def test_example_margins_file_fits_its_attributes():
    from pathlib import Path

    from pluralstats.models.data import ModelMeta
    from pluralstats.models.margins import margins_composition
    from pluralstats.survey.simulation_config import ATTRIBUTE_SHARES

    path = Path(__file__).resolve().parents[1] / "analyses" / "margins" / "us_gender_age_education.csv"
    meta = ModelMeta(dimensions=["toxicity"], scale_max=5, polarity={},
                     attributes={a: list(ATTRIBUTE_SHARES[a]) for a in ("gender", "age_group", "education")})
    comp = margins_composition(pd.read_csv(path, dtype=str), meta, path.name)
    assert comp.weights.sum() == pytest.approx(1) and len(comp.weights) == 36


def test_cli_contrasts_and_intersectional_compare(idata, tmp_path):
    post = save_posterior(idata, tmp_path / "post.nc")
    runner = CliRunner()
    result = runner.invoke(cli, ["contrasts", str(post), "--out", str(tmp_path / "c.csv"), "--attributes",
                                 "Political", "--weights", "equal", "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "c.csv")
    assert set(frame.quantity) == {"mean", "share>=4"} and "equal cells" in frame.standardisation.iloc[0]
    result = runner.invoke(cli, ["compare", str(post), "--groups", "gender=female&political=conservative",
                                 "gender=male&political=liberal", "--out", str(tmp_path / "cmp"),
                                 "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert set(table.attribute) == {"gender&political"} and len(table) == 2 * len(DIMS)


def test_marginal_means_and_their_figures(idata, tmp_path):
    from pluralstats.models.contrasts import level_means
    from pluralstats.models.groups import marginal_means

    means = marginal_means(idata, ["gender"], ["toxicity"], suppress_small=False)
    direct = level_means(idata, "toxicity", "gender", meta_of(idata).attributes["gender"])
    np.testing.assert_allclose(means["mean"].to_numpy(float), direct.mean(axis=0))
    assert set(means.standardisation) == {"adjusted (standardised to the sample)"}
    hidden = marginal_means(idata, ["gender"], ["toxicity"])
    small = hidden.n_raters.isna() | (means.n_raters < meta_of(idata).min_group_size)
    assert (hidden.suppressed == small).all() and hidden.loc[hidden.suppressed, "mean"].isna().all()
    post = save_posterior(idata, tmp_path / "post.nc")
    result = CliRunner().invoke(cli, ["plot-posterior", str(post), "--out", str(tmp_path / "figs"), "--kind", "means",
                                      "--kind", "heatmap"])
    assert result.exit_code == 0, result.output
    for name in ("marginal_means", "contrasts_heatmap"):
        figs = tmp_path / "figs"
        assert (figs / f"{name}.png").stat().st_size > 1000 and (figs / f"{name}.pdf").exists()


def test_report_says_which_quantity_and_standardisation(tmp_path):
    from pluralstats.report import build_report

    base = {"dimension": "toxicity", "attribute": "gender", "level_a": "male", "level_b": "female",
            "standardisation": "adjusted (standardised to the sample)", "diff_lo": -1.0, "diff_hi": 1.0,
            "rel_pct": 1.0, "p_positive": 0.5, "small_cell": False, "suppressed": False}
    pd.DataFrame([{**base, "quantity": "mean", "diff": 0.1}, {**base, "quantity": "share>=4", "diff": 3.0}]) \
        .to_csv(tmp_path / "contrasts.csv", index=False)
    report = build_report(tmp_path, title="t").read_text()
    assert "adjusted (standardised to the sample)" in report and "| share>=4 |" in report


def test_cli_compare_bundle_checks_margins_before_fitting(bundle, tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame({"gender": ["female", "male"], "share": [0.5, 0.5]}).to_csv(path, index=False)
    result = CliRunner().invoke(cli, ["compare", str(bundle), "--groups", "female", "male", "--attributes",
                                      "gender,political", "--weights", str(path), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "missing: political" in result.output and "Fitting" not in result.output


def test_preference_implied_shift_is_the_weighted_favoured_minus_disfavoured_rating(idata):
    """A's sets favours item 0 over 1 (weight 1) and 2 over 3 (0.5); B's favours 1 over 0: per draw, the
    implied shift is A's weighted mean difference in an average rater's expected rating minus B's."""
    from pluralstats.evaluate.compare_models import preference_implied
    from pluralstats.models.predict import item_means

    items = [str(i) for i in idata.constant_data["item"].to_numpy()[:4]]
    a = pd.DataFrame({"chosen_item_id": [items[0], items[2]], "rejected_item_id": [items[1], items[3]],
                      "weight": [1.0, 0.5]})
    b = pd.DataFrame({"chosen_item_id": [items[1]], "rejected_item_id": [items[0]], "weight": [0.8]})
    row = preference_implied(idata, a, b, ["toxicity"]).iloc[0]
    mu = item_means(idata, "toxicity", None, items)
    expected = ((mu[:, 0] - mu[:, 1]) + 0.5 * (mu[:, 2] - mu[:, 3])) / 1.5 - (mu[:, 1] - mu[:, 0])
    assert np.allclose(row.draws, expected, atol=1e-3)  # the integration grid follows the items asked for
    assert row.implied_lo < row.implied < row.implied_hi
    assert np.allclose(preference_implied(idata, a, a, ["toxicity"]).iloc[0].draws, 0.0)  # same data, no shift
