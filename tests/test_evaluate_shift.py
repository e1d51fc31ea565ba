"""The shift model recovers planted shifts (points and percent) and agrees with the bootstrap check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralstats.errors import InputError
from pluralstats.evaluate.evaluation import (
    ShiftSettings,
    read_results,
    shift_fit_from,
    shift_results,
    write_results,
)
from pluralstats.evaluate.shift import bootstrap_table

PLANTED = {"control": {"toxicity": 0.0, "helpfulness": 0.0},
           "dpo": {"toxicity": -0.45, "helpfulness": 0.30},
           "null": {"toxicity": 0.0, "helpfulness": 0.0}}
BASE = {"toxicity": 2.6, "helpfulness": 3.1}


def planted_scores(seed: int = 3, prompts: int = 30, completions: int = 4) -> pd.DataFrame:
    """Scores with prompt, model-by-prompt and completion noise around known shifts."""
    rng = np.random.default_rng(seed)
    prompt_effect = {d: rng.normal(0, 0.5, prompts) for d in BASE}
    rows = []
    for model, shifts in PLANTED.items():
        for p in range(prompts):
            for d, shift in shifts.items():
                cell = rng.normal(0, 0.1)
                for c in range(completions):
                    score = BASE[d] + prompt_effect[d][p] + shift + cell + rng.normal(0, 0.4)
                    rows.append({"model": model, "run": model, "prompt_id": f"p{p:03d}", "completion_id": c,
                                 "dimension": d, "score": score})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def result():
    scores = planted_scores()
    return shift_results(scores, settings=ShiftSettings(draws=600, tune=600, bootstrap=1000),
                         signs={"toxicity": -1, "helpfulness": 1}, seed=1)


def _row(table, comparison, model, reference, dim, method="bayes"):
    sel = table[(table.comparison == comparison) & (table.model == model) & (table.reference == reference)
                & (table.dimension == dim) & (table.method == method)]
    assert len(sel) == 1
    return sel.iloc[0]


def test_planted_shifts_inside_intervals(result):
    table = result.table
    for model in ("dpo", "null"):
        for dim, truth in PLANTED[model].items():
            row = _row(table, "shift", model, "control", dim)
            assert row.lo < truth < row.hi, (model, dim, row.lo, row.hi)
    tox = _row(table, "shift", "dpo", "control", "toxicity")
    assert tox.hi < 0 and tox.p_better > 0.99  # lower toxicity is better
    # percent is relative to the control's mean over the evaluation prompts (~BASE)
    assert tox.rel_pct == pytest.approx(100 * -0.45 / BASE["toxicity"], abs=6)
    pair = _row(table, "pairwise", "dpo", "null", "helpfulness")
    shifts = [_row(table, "shift", m, "control", "helpfulness").estimate for m in ("dpo", "null")]
    assert pair.estimate == pytest.approx(shifts[0] - shifts[1], abs=1e-9) and pair.lo > 0


def test_bootstrap_agrees_with_posterior(result):
    table = result.table
    for dim in BASE:
        bayes = _row(table, "shift", "dpo", "control", dim)
        boot = _row(table, "shift", "dpo", "control", dim, method="bootstrap")
        assert abs(bayes.estimate - boot.estimate) < 0.05
        assert abs((bayes.hi - bayes.lo) - (boot.hi - boot.lo)) < 0.12


def test_diagnostics_recorded_and_roundtrip(result, tmp_path):
    attrs = result.fit.idata.posterior.attrs
    assert {"max_rhat", "min_ess_bulk", "divergences", "converged", "max_rhat_shifts"} <= set(attrs)
    assert attrs["max_rhat_shifts"] < 1.02 and attrs["min_ess_bulk_shifts"] > 200
    paths = write_results(result, tmp_path / "results.parquet")
    assert all(p.exists() for p in paths.values())
    table, idata = read_results(tmp_path / "results.parquet")
    pd.testing.assert_frame_equal(table, result.table)
    fit = shift_fit_from(idata)
    assert fit.models == ["control", "dpo", "null"]
    np.testing.assert_allclose(fit.shift_draws(), result.fit.shift_draws())


def test_bootstrap_rejects_missing_control():
    with pytest.raises(InputError, match="control"):
        bootstrap_table(planted_scores(prompts=3).query("model != 'control'"))


def test_training_runs_widen_the_interval_but_keep_the_shift():
    """Several seeds per condition: a run effect is added and the shift is still recovered."""
    rng = np.random.default_rng(7)
    scores = planted_scores(seed=5, prompts=12, completions=2)
    scores = scores[scores.dimension == "toxicity"].copy()
    scores["run"] = scores.model + "#s" + (scores.completion_id % 2).astype(str)  # two runs per model
    run_effect = {r: rng.normal(0, 0.05) for r in scores.run.unique()}
    scores["score"] += scores.run.map(run_effect)
    result = shift_results(scores, settings=ShiftSettings(draws=300, tune=300, bootstrap=0), seed=2)
    assert "s_z" in result.fit.idata.posterior  # the run term is in the model
    row = _row(result.table, "shift", "dpo", "control", "toxicity")
    assert row.lo < -0.45 < row.hi and row.hi < 0
    assert set(result.table.method) == {"bayes"}
