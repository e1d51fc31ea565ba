"""The shift model recovers planted shifts (points and percent), agrees with the bootstrap check, diagnoses itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import arviz as az
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
from pluralstats.evaluate.shift import (
    ShiftDiagnostics,
    bootstrap_draws,
    bootstrap_table,
    diagnose_shift,
    posterior_table,
)

PLANTED = {"control": {"toxicity": 0.0, "helpfulness": 0.0},
           "dpo": {"toxicity": -0.45, "helpfulness": 0.30},
           "null": {"toxicity": 0.0, "helpfulness": 0.0}}
BASE = {"toxicity": 2.6, "helpfulness": 3.1}


def planted_scores(seed: int = 3, prompts: int = 30, completions: int = 4, cell_sd: float = 0.1) -> pd.DataFrame:
    """Scores with prompt (sd 0.5), model-by-prompt (``cell_sd``) and completion (sd 0.4) noise around known shifts."""
    rng = np.random.default_rng(seed)
    prompt_effect = {d: rng.normal(0, 0.5, prompts) for d in BASE}
    rows = []
    for model, shifts in PLANTED.items():
        for p in range(prompts):
            for d, shift in shifts.items():
                cell = rng.normal(0, cell_sd)
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


@pytest.fixture(scope="module")
def wide():
    """Model-by-prompt sd 0.3 beside the residual sd 0.4: there the new-prompt and evaluated-prompt readings differ."""
    scores = planted_scores(cell_sd=0.3)
    return shift_results(scores, settings=ShiftSettings(draws=600, tune=600, bootstrap=0), seed=1)


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
    assert row.lo < -0.45 < row.hi and row.hi < 0 and row.n_runs == 2
    assert set(result.table.method) == {"bayes"}
    # a new run of the condition (and a new prompt) is less certain than the two runs on these prompts
    evaluated = posterior_table(replace(result.fit, population="evaluated"))
    narrow = _row(evaluated, "shift", "dpo", "control", "toxicity")
    assert narrow.hi - narrow.lo < row.hi - row.lo


def _shift_sds(fit, scores) -> tuple[np.ndarray, np.ndarray]:
    """Posterior and prompt-bootstrap sd of every shift vs the control and of the dpo - null difference."""
    boot = bootstrap_draws(scores, n_boot=4000, seed=1)[0]
    sds = []
    for draws in (fit.shift_draws(), boot):
        tuned = draws[:, 1:, :]  # (draws, dpo/null, dimension)
        sds.append(np.concatenate([tuned.std(axis=0).ravel(), (tuned[:, 0] - tuned[:, 1]).std(axis=0)]))
    return sds[0], sds[1]


def test_posterior_sd_matches_prompt_bootstrap_with_large_model_by_prompt_variation(wide):
    """Model-by-prompt sd 0.3 beside residual sd 0.4 (30 prompts, 4 completions): the new-prompt shift's sd
    is within 15% of the prompt bootstrap's (averaged over the 6 comparisons, as one is noisy: about 13%).

    The evaluated-prompts reading, which is what the shift model reported before (model-by-prompt effects
    centred per model, so the sd is about sigma * sqrt(2 / PC) whatever sigma_w is), is far too narrow: the
    old model gave a ratio of 0.62 on these data, as the evaluated reading does here, and fails this test.
    """
    post, boot = _shift_sds(wide.fit, wide.scores)
    assert post.mean() / boot.mean() == pytest.approx(1.0, abs=0.15), post / boot
    evaluated, _ = _shift_sds(replace(wide.fit, population="evaluated"), wide.scores)
    assert evaluated.mean() / boot.mean() < 0.75


def test_population_recorded_and_run_counts_in_the_table(result):
    fit = result.fit
    assert fit.population == "prompts" and fit.idata.posterior.attrs["population"] == "prompts"
    assert {"beta", "mu", "beta_eval", "mu_eval"} <= set(fit.idata.posterior.data_vars)
    assert fit.n_runs == {"control": 1, "dpo": 1, "null": 1}
    assert (result.table.n_runs == 1).all()  # one checkpoint per model: the reports carry the one-seed note


def test_a_posterior_with_one_reading_is_refused():
    """A shift posterior must carry both readings (beta/mu and beta_eval/mu_eval); one without is refused with a
    message saying what to rerun, not read under a guessed meaning."""
    rng = np.random.default_rng(0)
    idata = az.from_dict(posterior={"beta": rng.normal(-0.4, 0.05, (2, 50, 1, 1)), "mu": np.full((2, 50, 1), 2.0)},
                         coords={"tuned": ["dpo"], "dimension": ["toxicity"]},
                         dims={"beta": ["tuned", "dimension"], "mu": ["dimension"]})
    idata.posterior.attrs.update({"models": "control,dpo", "control": "control"})
    with pytest.raises(InputError, match="one reading only .*rerun pluralstats evaluate"):
        shift_fit_from(idata)


def fake_posterior(bad: bool) -> az.InferenceData:
    """Draws of every checked variable; with ``bad`` the two chains disagree about mu (R-hat far above 1.01)."""
    rng = np.random.default_rng(1)
    shape = (2, 500, 1)
    mu = rng.normal(2.0, 0.05, shape) + (np.array([0.0, 0.5])[:, None, None] if bad else 0.0)
    post = {"mu": mu, "mu_eval": mu, "beta": rng.normal(-0.4, 0.05, (2, 500, 1, 1)),
            "beta_eval": rng.normal(-0.4, 0.05, (2, 500, 1, 1)), "sigma": np.abs(rng.normal(0.4, 0.01, shape))}
    dims = {"mu": ["dimension"], "mu_eval": ["dimension"], "sigma": ["dimension"],
            "beta": ["tuned", "dimension"], "beta_eval": ["tuned", "dimension"]}
    idata = az.from_dict(posterior=post, coords={"tuned": ["dpo"], "dimension": ["toxicity"]}, dims=dims,
                         sample_stats={"diverging": np.zeros((2, 500), dtype=bool)})
    idata.posterior.attrs.update({"models": "control,dpo", "control": "control", "population": "prompts",
                                  "n_runs": "1,1"})
    return idata


def test_diagnostics_object_reads_as_a_table():
    good, bad = diagnose_shift(fake_posterior(False)), diagnose_shift(fake_posterior(True))
    assert isinstance(bad, ShiftDiagnostics) and good.ok and not bad.ok
    assert bad.summary()["converged"] == 0 and bad.summary()["max_rhat_shifts"] > 1.01  # mu is reported
    assert any("R-hat" in p and "mu" in p for p in bad.problems)
    rows = bad.by_parameter().set_index("parameter")
    assert rows.loc["mu", "failing"] == 1 and rows.loc["beta", "failing"] == 0
    text = str(bad)
    assert "FAILED" in text and "worst r_hat" in text and "\n" in text  # a table, not a dict
    assert bad.rich_table().row_count == len(rows)


def test_evaluate_command_exits_3_on_failed_diagnostics(tiny_bundle, tmp_path, monkeypatch):
    """The CLI prints the diagnostics table and exits 3 (after writing), or 0 with --allow-bad-diagnostics."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    import pluralstats.evaluate.evaluation as evaluation
    import pluralstats.evaluate.run as run
    import pluralstats.evaluate.scorers as scorers
    from pluralstats.cli import cli

    fit = shift_fit_from(fake_posterior(bad=True))
    fake = evaluation.EvalResult(planted_scores(prompts=2), posterior_table(fit).assign(p_better=np.nan)[
        evaluation.TABLE_COLUMNS], fit, diagnose_shift(fit.idata))
    # generation, scoring and sampling are replaced: this checks what the command does with the diagnostics
    monkeypatch.setattr(run, "eval_prompts", lambda items, split, cap: items.head(2))
    monkeypatch.setattr(scorers, "load_scorer", lambda spec: SimpleNamespace(scale_max=5, dimensions=[]))
    monkeypatch.setattr(run, "score_models", lambda *args, **kwargs: fake.scores)
    monkeypatch.setattr(run, "shift_results", lambda *args, **kwargs: fake)
    model = tmp_path / "model"  # what the model-folder check looks for; nothing loads it
    model.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (model / name).write_text("{}")
    out = tmp_path / "eval" / "results.parquet"
    args = ["evaluate", str(tiny_bundle), "--model", f"control={model}", "--model", f"dpo={model}", "--out", str(out),
            "--scorer", "stub"]
    failed = CliRunner().invoke(cli, args)
    assert failed.exit_code == 3, failed.output
    text = " ".join(failed.output.split())  # rich wraps lines at the terminal width
    assert "Shift-model diagnostics" in text and "R-hat" in text and out.exists()
    assert "one seed cannot separate method from run" in text
    kept = CliRunner().invoke(cli, [*args, "--allow-bad-diagnostics", "--inference", "these-prompts"])
    assert kept.exit_code == 0, kept.output


@pytest.mark.parametrize("runs", [1, 2])
def test_report_says_one_seed_cannot_separate_method_from_run(tmp_path, runs):
    from pluralstats.evaluate.shift import comparisons
    from pluralstats.report import ONE_RUN_NOTE, build_report

    draws = np.random.default_rng(0).normal(-0.2, 0.05, (500, 1, 1))
    shifts = np.concatenate([np.zeros_like(draws), draws], axis=1)
    table = comparisons(shifts, 2.5 + shifts, ["control", "dpo"], ["toxicity"], "control", "bayes",
                        n_runs={"control": 1, "dpo": runs})
    (tmp_path / "tuned").mkdir()
    table.assign(p_better=0.9).to_parquet(tmp_path / "tuned" / "results.parquet")
    report = build_report(tmp_path, title="t").read_text()
    assert "| dpo | toxicity |" in report.replace("| | ", "| ")
    assert (ONE_RUN_NOTE in report) == (runs == 1)


@pytest.mark.parametrize("allow", [False, True])
def test_experiment_run_prints_no_shifts_from_a_failed_shift_model(tmp_path, monkeypatch, allow):
    """`experiment run` gates the shift model as `evaluate` does: exit 3 with the diagnostics table and no
    shift table, unless --allow-bad-diagnostics (exit 0, the shifts and a warning)."""
    from types import SimpleNamespace

    from click.testing import CliRunner

    import pluralstats.evaluate.evaluation as evaluation
    import pluralstats.experiments.experiment_config as config
    import pluralstats.experiments.runner as runner
    from pluralstats.cli import cli

    fit = shift_fit_from(fake_posterior(bad=True))
    fake = evaluation.EvalResult(planted_scores(prompts=2), posterior_table(fit).assign(p_better=np.nan)[
        evaluation.TABLE_COLUMNS], fit, diagnose_shift(fit.idata))
    cells = pd.DataFrame({"label": ["control", "dpo"], "seed": [0, 0], "folder": ["a", "b"],
                          "status": ["done", "done"], "seconds": [1.0, 1.0], "skipped": [False, False],
                          "error": ["", ""]})
    monkeypatch.setattr(config, "load_experiment", lambda path, overrides: SimpleNamespace(name="tiny"))
    monkeypatch.setattr(runner, "run_experiment",
                        lambda cfg, out, **kwargs: runner.RunReport(Path(out), cells, result=fake))
    path = tmp_path / "tiny.toml"
    path.write_text("name = 'tiny'\n")
    result = CliRunner().invoke(cli, ["experiment", "run", str(path), "--out", str(tmp_path / "run")]
                                + (["--allow-bad-diagnostics"] if allow else []))
    text = " ".join(result.output.split())
    assert "Shift-model diagnostics" in text
    if allow:
        assert result.exit_code == 0, result.output
        assert "shift vs control" in text and "kept: --allow-bad-diagnostics" in text
    else:
        assert result.exit_code == 3, result.output
        assert "failed its diagnostics" in text and "shift vs control" not in text
