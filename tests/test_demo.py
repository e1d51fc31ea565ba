"""The demo pipeline runs end to end at tiny sizes and writes a report linking every figure."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pluralstats.demo import DemoSizes, run_demo

TINY = DemoSizes(participants=80, prompts_per_language=5, responses_per_prompt=3, survey_draws=100,
                 survey_tune=100, survey_attributes=("political",), tiny_steps=40, dpo_steps=3, completions=2,
                 max_new_tokens=8, shift_draws=200, allow_bad_diagnostics=True)  # toy fits cannot converge


@pytest.mark.slow
def test_demo_writes_everything_and_the_report(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, seed=0, sizes=TINY)
    report = result["report"].read_text()
    for link in ("describe/figure1_conditional.png", "compare-models/figure2.png", "compare-survey/compare.png",
                 "disagreements/disagreements.png", "disagreements/disagreement_items.csv"):
        assert link in report
    assert "Items liberal and conservative disagree on most" in report
    truth = json.loads((out / "survey" / "truth.json").read_text())
    assert truth["tau"]["political"]["toxicity"] == 0.5  # planted, so that there is disagreement to find
    cell = json.loads((out / "tuned" / "cells" / "liberal" / "seed-0" / "manifest.json").read_text())
    assert '"strategy": "posterior"' in json.dumps(cell)  # each group's pairs come from the fitted model
    assert "DPO (liberal, toxicity objective) vs control" in result["headline"]
    table = pd.read_parquet(out / "tuned" / "results.parquet")
    assert {"control", "liberal", "conservative"} == set(table[table.comparison == "mean"].model)
    compare = pd.read_csv(out / "compare-models" / "compare.csv")
    assert {"p_same_sign", "ratio", "gap", "model_diff"} <= set(compare.columns)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 0 and "total" in manifest["timings"]
    again = run_demo(out, seed=0, sizes=TINY)  # resumable: every finished step is skipped
    assert again["timings"].get("simulate") is None and again["timings"].get("fit-survey") is None
