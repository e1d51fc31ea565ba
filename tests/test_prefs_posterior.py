"""The posterior strategy: pair weights against a brute-force Monte Carlo of new raters' ratings."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from pluralstats.prefs import build_preferences
from pluralstats.prefs.scales import collapse
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

N_DRAWS, N_MC, TOL = 40, 100_000, 0.01  # MC standard error <= 0.0016 per pair; TOL ~ 6 SE


@pytest.fixture(scope="module")
def survey():
    cfg = SimulationConfig(n_participants=150, prompts_per_language=3, prompts_per_participant=2)
    return simulate_survey(cfg, seed=11).survey


def fake_probabilities(idata, dimension, group, item_ids):
    """Stand-in for models.category_probabilities: Dirichlet draws fixed by (dimension, group, item)."""
    out = []
    for item in item_ids:
        key = f"{dimension}|{sorted((group or {}).items())}|{item}"
        rng = np.random.default_rng(zlib.crc32(key.encode()))  # stable across processes
        alpha = rng.uniform(0.3, 3.0, size=5)
        out.append(rng.dirichlet(alpha, size=N_DRAWS))
    return np.stack(out, axis=1)  # (draws, items, 5)


def brute_force(survey, df, dimension, members, scale, fn=fake_probabilities, idata=None, n=N_MC, seed=0):
    """P(chosen rated better | not tied) by sampling: a draw t, a member by share and one of her mixture raters
    by weight per pair (one person rates both responses), then her raw rating of each; collapse, orient,
    compare. ``fn`` returns a member's rating distributions (one rater: given the member, the two ratings are
    independent) or ``(probs, weights)`` as ``models.predict.rater_mixture`` does."""
    rng = np.random.default_rng(seed)
    sign = survey.config.dimensions[dimension].sign
    cuts = {5: (), 3: (2, 3), 2: (survey.config.threshold(dimension) - 1,)}[scale]
    ids = sorted(set(df.chosen_item_id) | set(df.rejected_item_id))
    parts = []
    for g, _ in members:
        out = fn(idata, dimension, g, ids)
        parts.append(out if isinstance(out, tuple) else (out[:, :, None, :], np.ones((out.shape[0], 1))))
    width = max(p.shape[2] for p, _ in parts)  # members' mixtures padded to one width with weight-0 raters
    probs = np.stack([np.pad(p, ((0, 0), (0, 0), (0, width - p.shape[2]), (0, 0)), constant_values=0.2)
                      for p, _ in parts])  # (members, t, items, raters, 5)
    weights = np.stack([np.pad(w, ((0, 0), (0, width - w.shape[1]))) for _, w in parts])
    shares = np.array([s for _, s in members])

    t = rng.integers(probs.shape[1], size=(n, len(df)))  # one posterior draw per sampled pair, shared by both items
    g = rng.choice(len(members), p=shares, size=(n, len(df)))  # one person per pair: her member rates both
    cum = np.cumsum(weights[g, t], axis=-1)
    m = np.minimum((rng.random((n, len(df), 1)) > cum / cum[..., -1:]).sum(axis=-1), width - 1)

    def ratings(column):
        cols = np.array([ids.index(i) for i in column])
        cdf = np.cumsum(probs[g, t, cols[None, :], m], axis=-1)
        raw = 1 + (rng.random((n, len(cols), 1)) > cdf).sum(axis=-1)
        return sign * collapse(np.minimum(raw, probs.shape[-1]), cuts)

    yc, yr = ratings(df.chosen_item_id), ratings(df.rejected_item_id)
    wins, losses = (yc > yr).sum(axis=0), (yc < yr).sum(axis=0)
    return wins / (wins + losses)


@pytest.mark.parametrize(("dimension", "scale", "jury"), [
    ("toxicity", 5, None),
    ("emotional_awareness", 3, None),
    ("toxicity", 2, "political=liberal:0.7,political=conservative:0.3"),
])
def test_weights_equal_monte_carlo(survey, dimension, scale, jury):
    df, summary = build_preferences(survey, strategy="posterior", posterior=object(), objective=dimension,
                                    scale=scale, jury=jury, groups=() if jury else ["liberal"],
                                    probability_fn=fake_probabilities, eval_fraction=0.0)
    assert len(df) > 10 and (df.weight >= 0.5).all()
    members = ([({"political": "liberal"}, 0.7), ({"political": "conservative"}, 0.3)] if jury
               else [({"political": "liberal"}, 1.0)])
    mc = brute_force(survey, df, dimension, members, scale)
    err = np.abs(mc - df.weight.to_numpy())
    print(f"MC check {dimension} scale={scale} jury={bool(jury)}: {len(df)} pairs, max |err| {err.max():.4f}")
    assert err.max() < TOL, (err.max(), np.sort(err)[-3:])
    assert summary.by_dimension.ties.iloc[0] + summary.by_dimension.pairs.iloc[0] == \
        summary.by_dimension.candidate_pairs.iloc[0]


def test_max_draws_subsamples(survey):
    full, _ = build_preferences(survey, strategy="posterior", posterior=object(), eval_fraction=0.0,
                                probability_fn=fake_probabilities)
    sub, _ = build_preferences(survey, strategy="posterior", posterior=object(), eval_fraction=0.0,
                               probability_fn=fake_probabilities, max_draws=10, seed=1)
    assert len(sub) == len(full) or abs(len(sub) - len(full)) < 5
    assert not np.allclose(sub.weight.to_numpy()[:5], full.weight.to_numpy()[:5])
    # the weights are those of exactly the 10 seeded draws: the same pairs from a posterior that has only them
    keep = np.sort(np.random.default_rng(1).choice(N_DRAWS, size=10, replace=False))
    only_kept, _ = build_preferences(survey, strategy="posterior", posterior=object(), eval_fraction=0.0, seed=1,
                                     probability_fn=lambda *args: fake_probabilities(*args)[keep])
    key = ["prompt_id", "chosen_item_id", "rejected_item_id"]
    merged = sub.merge(only_kept, on=key, suffixes=("", "_kept"), validate="one_to_one")
    assert len(merged) == len(sub) == len(only_kept)
    assert np.allclose(merged.weight, merged.weight_kept, atol=1e-12)


def test_gauss_rule_integrates_like_the_dense_grid():
    """The rater mixture's quadrature: a 16-node rule of a skewed mixture (two rater groups of different means
    and sds) integrates one rater's two-item comparison as the 2,000-point grid does."""
    from pluralstats.models.predict import STEP, _link, _offset_pmf, gauss_rule
    from pluralstats.prefs.evidence import evidence

    rng = np.random.default_rng(0)
    s = np.concatenate([rng.normal(-0.5, 0.3, (3, 40)), rng.normal(1.2, 0.2, (3, 20))], axis=1)
    sigma = np.concatenate([np.full((3, 40), 0.6), np.full((3, 20), 1.7)], axis=1)
    lo = s.min() - 6 * sigma.max()
    n_grid = int(np.ceil((s.max() + 6 * sigma.max() - lo) / STEP)) + 1
    grid = lo + np.arange(n_grid) * STEP
    pmf = _offset_pmf(s, sigma, lo, n_grid, STEP)
    nodes, weights = gauss_rule(grid, pmf, 16)
    assert np.allclose(weights.sum(axis=1), 1) and (weights >= 0).all()
    cut = np.tile([-1.5, -0.2, 0.8, 2.0], (3, 1))
    x_a, x_b = np.array([0.3, -0.4, 1.1]), np.array([-0.2, 0.5, 1.0])

    def one_rater(offsets: np.ndarray, w: np.ndarray) -> np.ndarray:
        pa = _link(x_a[:, None] + offsets, cut, "probs")
        pb = _link(x_b[:, None] + offsets, cut, "probs")
        return (evidence(pa, pb)[0] * w).sum(axis=1)

    dense = one_rater(np.broadcast_to(grid, pmf.shape), pmf / pmf.sum(axis=1, keepdims=True))
    assert np.abs(one_rater(nodes, weights) - dense).max() < 2e-5  # far below posterior uncertainty


@pytest.mark.slow
def test_fitted_model_end_to_end(survey, tmp_path):
    """Fit the real rating model (nutpie, small), write it, build from the CLI, check against MC."""
    import pandas as pd
    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.models import fit_survey, save_posterior
    from pluralstats.models.predict import rater_mixture
    from pluralstats.survey import save_survey

    idata = fit_survey(survey, dimensions=["toxicity"], draws=200, tune=300, chains=1, seed=0, progress=False)
    posterior = save_posterior(idata, tmp_path / "posterior.nc")
    bundle = save_survey(survey, tmp_path / "bundle")
    out = tmp_path / "prefs.parquet"
    result = CliRunner().invoke(cli, ["prefs", str(bundle), "--out", str(out), "--strategy", "posterior",
                                      "--posterior", str(posterior), "--group", "liberal", "--scale", "3",
                                      "--allow-bad-diagnostics"])  # one short chain: unchecked, used knowingly
    assert result.exit_code == 0, result.output
    assert "unchecked" in json.loads(Path(f"{out}.manifest.json").read_text())["options"]["diagnostics"]
    df = pd.read_parquet(out)
    mc = brute_force(survey, df, "toxicity", [({"political": "liberal"}, 1.0)], 3, rater_mixture, idata)
    assert np.abs(mc - df.weight.to_numpy()).max() < TOL
