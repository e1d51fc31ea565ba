"""Hostile inputs to the commands downstream of the bundle (prefs, fit, finetune, plot, describe, simulate,
contrasts, evaluate, report), plus the valid inputs that used to fail.

Each bad case asserts, through ``run_bad``, exit code 2 and a message naming the culprit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pluralstats.models import fit as fit_module
from pluralstats.prefs import build_preferences
from pluralstats.samplers import get_sampler
from pluralstats.survey.simulate import simulate_survey
from tests.hostile.conftest import SMALL

# --- valid input that used to fail --------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_preserve_weights_build_and_lie_in_unit_interval(seed):
    # seed 1 gave a weight of 1.0000000000000002 (a sum of products of shares) that failed the schema
    survey = simulate_survey(SMALL, seed=seed).survey
    pairs, _ = build_preferences(survey, strategy="preserve", allow_small_groups=True)
    assert len(pairs) and ((pairs.weight > 0) & (pairs.weight <= 1)).all()


def test_advi_on_one_dimension_returns_a_posterior(hostile_survey_dir, monkeypatch):
    from pluralstats.survey import load_survey

    # few iterations: this checks the graph compiles and samples, not the quality of the fit
    monkeypatch.setattr(get_sampler("advi"), "n_iter", 200)
    idata = fit_module.fit_survey(load_survey(hostile_survey_dir), dimensions=["toxicity"], backend="advi",
                                  draws=20, chains=2, progress=False)
    cuts = idata.posterior["cutpoints"]
    assert cuts.sizes["chain"] == 2 and cuts.sizes["draw"] == 20 and list(cuts.dimension.values) == ["toxicity"]
    assert np.isfinite(cuts.values).all() and (np.diff(cuts.values, axis=-1) > 0).all()


# --- preference data given to finetune ----------------------------------------------------------------------

def _pairs(**columns) -> pd.DataFrame:
    base = {"prompt": ["p1", "p2"], "chosen": ["good", "fine"], "rejected": ["bad", "poor"], "weight": [0.5, 1.0]}
    return pd.DataFrame({**base, **columns})


@pytest.mark.parametrize("frame, names", [
    (_pairs(chosen=[None, "fine"]), ["chosen", "row 1", "missing value"]),
    (_pairs(rejected=["bad", ""]), ["rejected", "row 2"]),
    (_pairs(prompt=["p1", None]), ["prompt", "row 2", "missing value"]),
    (_pairs(weight=["0.5", "1"]), ["weight", "row 1", "not a number"]),
    (_pairs(weight=[0.0, 1.0]), ["weight", "row 1", "(0, 1]"]),
    (_pairs(weight=[0.5, 1.5]), ["weight", "row 2", "1.5"]),
    (_pairs(weight=[0.5, None]), ["weight", "row 2", "missing value"]),
    (_pairs(chosen=[1, 2]), ["chosen", "row 1", "not a string"]),
])
def test_finetune_refuses_bad_pair_fields(tmp_path, run_bad, frame, names):
    path = tmp_path / "p.parquet"
    frame.to_parquet(path)
    out = tmp_path / "model"
    run_bad(["finetune", "--method", "dpo", "--prefs", path, "--model", "m", "--out", out],
            names=["p.parquet", *names], watch=[path], absent=[out])


def test_finetune_refuses_a_missing_base_model(tmp_path, run_bad):
    path = tmp_path / "p.parquet"
    _pairs().to_parquet(path)
    run_bad(["finetune", "--method", "dpo", "--prefs", path, "--model", "./no/such/model", "--out",
             tmp_path / "out", "--device", "cpu"], names=["--model", "no/such/model"], absent=[tmp_path / "out"])


# --- simulate, describe, plot -------------------------------------------------------------------------------

def test_simulate_refuses_an_impossible_design(tmp_path, run_bad):
    out = tmp_path / "s"
    run_bad(["simulate", "--out", out, "--participants", "20", "--prompts-per-language", "5"],
            names=["impossible design", "--participants", "--prompts-per-language"], absent=[out])


@pytest.mark.parametrize("threshold", ["toxicity=9", "toxicity=0"])
def test_describe_refuses_a_threshold_outside_the_scale(survey_copy, tmp_path, run_bad, threshold):
    out = tmp_path / "d"
    run_bad(["describe", survey_copy, "--out", out, "--threshold", threshold],
            names=["--threshold", threshold, "1..5"], watch=[survey_copy], absent=[out])


@pytest.fixture
def results_path(tmp_path):
    from tests.test_evaluate_figures import results_table

    path = tmp_path / "results.parquet"
    results_table(["control", "5", "3", "2"]).to_parquet(path)
    return path


def test_plot_refuses_an_unknown_dimension(results_path, run_bad):
    run_bad(["plot", results_path, "--figure", "3", "--dimensions", "toxicty"],
            names=["--dimensions", "toxicty", "valid", "toxicity", "emotional_awareness"], watch=[results_path],
            absent=[results_path.parent / "figure3.png", results_path.parent / "figure3.pdf"])


def test_plot_refuses_to_draw_an_empty_figure(results_path, run_bad):
    # the experiment's cells name conditions the results table does not have: every panel would be blank
    pd.DataFrame({"label": ["control", "7", "9"], "seed": 0}).to_csv(results_path.parent / "cells.csv", index=False)
    (results_path.parent / "manifest.json").write_text('{"figure": 3}')
    run_bad(["plot", results_path.parent], names=["figure3", "no data"], watch=[results_path],
            absent=[results_path.parent / "figure3.png", results_path.parent / "figure3.pdf"])


@pytest.mark.parametrize("content, names", [
    (b"PAR1 this is not parquet", ["results.parquet", "not a readable parquet"]),
    (None, ["results.parquet", "comparison"]),  # a parquet lacking the results columns
])
def test_plot_refuses_a_corrupt_results_table(results_path, run_bad, content, names):
    if content is None:
        pd.DataFrame({"x": [1]}).to_parquet(results_path)
    else:
        results_path.write_bytes(content)
    run_bad(["plot", results_path, "--figure", "3"], names=names, watch=[results_path],
            absent=[results_path.parent / "figure3.png"])


def test_plot_writes_a_manifest(results_path):
    import json

    from tests.hostile.conftest import run_cli

    result = run_cli(["plot", results_path, "--figure", "3"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((results_path.parent / "figure3.png.manifest.json").read_text())
    assert manifest["command"] == "plot" and str(results_path) in manifest["inputs"]
    assert set(manifest["files"]) == {"figure3.png", "figure3.pdf"}


# --- foreign files where a pluralstats output is expected ---------------------------------------------------

def test_contrasts_refuses_a_plain_xarray_netcdf(tmp_path, run_bad):
    import xarray as xr

    path = tmp_path / "plain.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    run_bad(["contrasts", path, "--out", tmp_path / "c"], names=["plain.nc", "fit-survey"], watch=[path],
            absent=[tmp_path / "c"])


@pytest.mark.parametrize("files, names", [
    ({"config.json": "{}"}, ["--model tuned", "weights", "tokenizer"]),
    ({}, ["--model tuned", "weights"]),
    (None, ["--model tuned", "no such model folder"]),
])
def test_evaluate_refuses_a_folder_that_is_not_a_model(hostile_survey_dir, tmp_path, run_bad, files, names):
    control = tmp_path / "control"  # passes the file check; nothing is loaded before every model is checked
    control.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (control / name).write_text("{}")
    tuned = tmp_path / "tuned"
    if files is not None:
        tuned.mkdir()
        for name, text in files.items():
            (tuned / name).write_text(text)
    out = tmp_path / "eval" / "results.parquet"
    run_bad(["evaluate", hostile_survey_dir, "--model", f"control={control}", "--model", f"tuned={tuned}",
             "--out", out], names=names, watch=[hostile_survey_dir], absent=[out])


# --- report over malformed artifacts ------------------------------------------------------------------------

def _contrast_csv(path):
    pd.DataFrame({"dimension": ["toxicity"], "attribute": "gender", "level_a": "male", "level_b": "female",
                  "diff": [0.1], "diff_lo": [0.0], "diff_hi": [0.2], "rel_pct": [5.0],
                  "p_positive": [0.9]}).to_csv(path, index=False)


@pytest.mark.parametrize("name, content, names", [
    ("contrasts.csv", "a,b\n1,2\n3,4,5,6\n", ["contrasts.csv", "not a readable CSV"]),
    ("contrasts.csv", b"\xff\xfe\x00\x81 binary", ["contrasts.csv", "not a readable CSV"]),
    ("contrasts.csv", "drop:diff_hi", ["contrasts.csv", "diff_hi", "missing"]),
    ("cells.csv", "label,seed\ncontrol,0\n", ["cells.csv", "status"]),
    ("results.parquet", b"PAR1 not parquet at all", ["results.parquet", "not a readable parquet"]),
    ("results.parquet", "frame", ["results.parquet", "comparison"]),
    ("manifest.json", "{not json", ["manifest.json", "not valid JSON"]),
    ("manifest.json", "[1, 2]", ["manifest.json", "JSON object"]),
])
def test_report_refuses_malformed_artifacts(tmp_path, run_bad, name, content, names):
    root = tmp_path / "runs"
    folder = root / "step"
    folder.mkdir(parents=True)
    _contrast_csv(folder / "contrasts.csv")  # one valid table, so the folder is reported
    target = folder / name
    if content == "drop:diff_hi":
        pd.read_csv(target).drop(columns="diff_hi").to_csv(target, index=False)
    elif content == "frame":
        pd.DataFrame({"model": ["a"]}).to_parquet(target)
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    run_bad(["report", root], names=names, watch=[folder], absent=[root / "report.md"])


def test_report_writes_a_manifest(tmp_path):
    import json

    from tests.hostile.conftest import run_cli

    (tmp_path / "step").mkdir()
    _contrast_csv(tmp_path / "step" / "contrasts.csv")
    result = run_cli(["report", tmp_path, "--title", "t"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "report.md.manifest.json").read_text())
    assert manifest["command"] == "report" and manifest["options"]["title"] == "t"


def test_prefs_refuses_a_plain_xarray_netcdf_as_posterior(survey_copy, tmp_path, run_bad):
    import xarray as xr

    path = tmp_path / "plain.nc"
    xr.Dataset({"x": ("a", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")
    out = tmp_path / "p.parquet"
    run_bad(["prefs", survey_copy, "--out", out, "--strategy", "posterior", "--posterior", path,
             "--allow-small-groups"], names=["plain.nc", "fit-survey"], watch=[path, survey_copy], absent=[out])
