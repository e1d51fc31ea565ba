"""Poststratification (MRP) and standardisation on a synthetic population with known subgroup means; margins
raked into a joint table by iterative proportional fitting."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from pluralstats.errors import InputError
from pluralstats.models.data import build_model_data, meta_of
from pluralstats.models.groups import composition, group_draws
from pluralstats.models.margins import rake
from pluralstats.models.sampling import finish_idata
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

DIM = "toxicity"
BETA = {"gender": {"female": 0.0, "male": 0.8, "non_binary": -0.4},
        "political": {"conservative": 0.0, "liberal": -1.5}}
CUTS = np.array([-1.0, 0.2, 1.1, 2.3])
SIGMA_RATER = 0.7
#: a population where gender and politics go together: women mostly liberal, men mostly conservative
JOINT = {("female", "conservative"): 0.08, ("female", "liberal"): 0.42, ("male", "conservative"): 0.36,
         ("male", "liberal"): 0.09, ("non_binary", "conservative"): 0.01, ("non_binary", "liberal"): 0.04}


@pytest.fixture(scope="module")
def setup():
    sim = simulate_survey(SimulationConfig(n_participants=120, prompts_per_language=4, responses_per_prompt=3,
                                           prompts_per_participant=2, effects=()), seed=2)
    data = build_model_data(sim.survey, [DIM], ["gender", "political"])
    items = np.random.default_rng(0).normal(0, 0.8, len(data.item_ids))
    shape = (2, 20)

    def const(value):
        value = np.asarray(value, dtype=float)
        return np.broadcast_to(value, shape + value.shape).copy()

    post = {"cutpoints": const(CUTS[None, :]), "item_effect": const(items[:, None]),
            "sigma_rater": const([SIGMA_RATER]), "sigma_item": const([0.8])}
    dims = {"cutpoints": ["dimension", "cutpoint"], "item_effect": ["item", "dimension"],
            "sigma_rater": ["dimension"], "sigma_item": ["dimension"]}
    coords = {"dimension": [DIM], "cutpoint": np.arange(1, 5), "item": list(data.item_ids)}
    for attr, levels in data.meta.attributes.items():
        post[f"beta_{attr}"] = const([[BETA[attr][lv] for lv in levels]])
        dims[f"beta_{attr}"] = ["dimension", f"{attr}_level"]
        coords[f"{attr}_level"] = levels
    idata = finish_idata(az.from_dict(posterior=post, coords=coords, dims=dims), data, backend="nutpie",
                         joint=False, seconds=0.0)
    return idata, items


def _cell_mean(items: np.ndarray, gender: str, political: str) -> float:
    """Expected rating of a new rater of one cell, by direct integration over the rater effect."""
    u = np.linspace(-8 * SIGMA_RATER, 8 * SIGMA_RATER, 4001)
    density = np.exp(-0.5 * (u / SIGMA_RATER) ** 2)
    density /= np.trapezoid(density, u)
    z = BETA["gender"][gender] + BETA["political"][political] + items[:, None] + u[None, :]
    rating = 1 + expit(z[:, :, None] - CUTS[None, None, :]).sum(axis=2)
    return float(np.trapezoid(rating * density[None, :], u, axis=1).mean())


def _joint_frame() -> pd.DataFrame:
    return pd.DataFrame([{"gender": g, "political": p, "share": s} for (g, p), s in JOINT.items()])


def test_poststratified_means_are_each_groups_own_cells(setup):
    idata, items = setup
    cells = {key: _cell_mean(items, *key) for key in JOINT}
    comp = composition(idata, _joint_frame())
    assert comp.estimand == "poststratified" and "poststratified" in comp.label
    got = group_draws(idata, DIM, [{"gender": "female"}, {"gender": "male"}], comp)
    assert np.ptp(got, axis=0).max() < 1e-9  # constant draws: one number per group
    truth = {g: sum(JOINT[(g, p)] * cells[(g, p)] for p in ("conservative", "liberal"))
             / sum(JOINT[(g, p)] for p in ("conservative", "liberal")) for g in ("female", "male")}
    assert got[0, 0] == pytest.approx(truth["female"], abs=2e-3)
    assert got[0, 1] == pytest.approx(truth["male"], abs=2e-3)
    # standardised: both genders over the whole population's politics (46% conservative)
    conservative = sum(s for (g, p), s in JOINT.items() if p == "conservative")
    flat = {g: conservative * cells[(g, "conservative")] + (1 - conservative) * cells[(g, "liberal")]
            for g in ("female", "male")}
    std = group_draws(idata, DIM, [{"gender": "female"}, {"gender": "male"}],
                      composition(idata, _joint_frame(), "standardised"))
    assert std[0, 0] == pytest.approx(flat["female"], abs=2e-3) and std[0, 1] == pytest.approx(flat["male"], abs=2e-3)
    # the two estimands answer different questions: here the gap differs by far more than the grid error
    assert abs((got[0, 1] - got[0, 0]) - (std[0, 1] - std[0, 0])) > 0.3


def test_poststratified_to_the_sample_uses_the_groups_own_raters(setup):
    idata, items = setup
    meta_levels = idata.constant_data["rater_level"].to_numpy()
    genders, parties = meta_of(idata).attributes["gender"], meta_of(idata).attributes["political"]
    got = group_draws(idata, DIM, [{"gender": "male"}], composition(idata, "sample", "poststratified"))
    mine = meta_levels[meta_levels[:, 0] == genders.index("male")]
    truth = np.mean([_cell_mean(items, "male", parties[p]) for p in mine[:, 1]])
    assert got[0, 0] == pytest.approx(truth, abs=2e-3)


def test_a_group_without_population_share_has_no_poststratified_number(setup):
    idata, _ = setup
    frame = _joint_frame()
    frame = frame[frame.gender != "non_binary"].assign(share=lambda f: f.share / f.share.sum())
    got = group_draws(idata, DIM, [{"gender": "non_binary"}, {"gender": "female"}], composition(idata, frame))
    assert np.isnan(got[:, 0]).all() and np.isfinite(got[:, 1]).all()


def test_rake_meets_the_margins_and_keeps_the_seeds_associations():
    rng = np.random.default_rng(1)
    cells = np.array([(a, b, c) for a in range(3) for b in range(2) for c in range(2)])
    seed = rng.integers(1, 30, len(cells)).astype(float)
    seed[3] = 0  # an empty cell stays empty
    targets = {0: np.array([0.5, 0.3, 0.2]), 1: np.array([0.45, 0.55])}
    shares = rake(seed, cells, targets)
    assert shares.sum() == pytest.approx(1.0) and shares[3] == 0
    for j, target in targets.items():
        np.testing.assert_allclose(np.bincount(cells[:, j], weights=shares), target, atol=1e-9)
    # IPF's solution multiplies the seed by one factor per raked attribute level: log(shares / seed) is
    # additive in (attribute 0 level, attribute 1 level), and attribute 2 (not raked) gets no factor
    keep = seed > 0
    log_ratio = np.log(shares[keep] / seed[keep])
    design = np.column_stack([cells[keep, 0] == k for k in range(3)] + [cells[keep, 1] == 1]).astype(float)
    coef, *_ = np.linalg.lstsq(design, log_ratio, rcond=None)
    np.testing.assert_allclose(design @ coef, log_ratio, atol=1e-8)


def test_margins_only_file_is_raked_from_the_survey(setup, tmp_path):
    idata, _ = setup
    path = tmp_path / "margins.csv"
    pd.DataFrame({"attribute": ["gender"] * 3 + ["political"] * 2,
                  "level": ["female", "male", "non_binary", "conservative", "liberal"],
                  "share": [0.5, 0.45, 0.05, 0.46, 0.54]}).to_csv(path, index=False)
    comp = composition(idata, path)
    assert comp.estimand == "poststratified" and comp.table is not None and "raked" in comp.label
    table = comp.table
    assert table.groupby("gender").share.sum().to_dict() == pytest.approx(
        {"female": 0.5, "male": 0.45, "non_binary": 0.05}, abs=1e-9)
    assert table.groupby("political").share.sum()["liberal"] == pytest.approx(0.54, abs=1e-9)
    # seeded with the survey's own joint distribution: its cells and counts
    levels = idata.constant_data["rater_level"].to_numpy()
    assert table.sample_raters.sum() == len(levels) and (table.sample_raters > 0).all()


@pytest.mark.parametrize(("rows", "message"), [
    ([("gender", "female", "0.6"), ("gender", "male", "0.6")], "sum to 1.2"),
    ([("gender", "female", "1"), ("gender", "female", "0")], "again"),
    ([("gender", "robot", "1")], "robot"),
    ([("gender", "female", "x")], "not a number"),
])
def test_bad_margins_only_files_name_the_line(setup, tmp_path, rows, message):
    idata, _ = setup
    path = tmp_path / "m.csv"
    pd.DataFrame(rows, columns=["attribute", "level", "share"]).to_csv(path, index=False)
    with pytest.raises(InputError, match=message):
        composition(idata, path)


def test_contrasts_write_the_raked_table_beside_the_output_and_keep_a_users_file(setup, tmp_path):
    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.models import save_posterior

    idata, _ = setup
    post = save_posterior(idata.copy(), tmp_path / "post.nc")
    margins = tmp_path / "margins.csv"
    pd.DataFrame({"attribute": ["political", "political"], "level": ["conservative", "liberal"],
                  "share": [0.3, 0.7]}).to_csv(margins, index=False)
    args = ["contrasts", str(post), "--weights", str(margins), "--allow-bad-diagnostics", "--dimensions", DIM]
    result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 0, result.output
    raked = pd.read_csv(tmp_path / "c.raked.csv")
    assert list(raked.columns) == ["gender", "political", "share"]  # no survey counts
    assert raked.share.sum() == pytest.approx(1.0, abs=1e-9)
    # cells of fewer than k raters are pooled into one row naming no level: their share would show how the
    # few raters of a small group split on the other attributes
    pooled = raked.gender == "(cells of fewer than k raters)"
    sizes = setup[0].constant_data["rater_level"].to_numpy()
    assert pooled.sum() <= 1 and (pooled.any() or len(np.unique(sizes, axis=0)) == len(raked))
    assert raked[~pooled].groupby("political").share.sum()["liberal"] <= 0.7 + 1e-9
    table = pd.read_csv(tmp_path / "c.csv")
    assert table.standardisation.str.contains("poststratified to margins.csv").all()
    # a rerun replaces its own files; a user's file where the raked table would go is refused, untouched
    assert CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "c.csv")]).exit_code == 0
    (tmp_path / "d.raked.csv").write_text("mine\n")
    refused = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "d.csv")])
    assert refused.exit_code == 2 and "d.raked.csv" in refused.output
    assert (tmp_path / "d.raked.csv").read_text() == "mine\n" and not (tmp_path / "d.csv").exists()
