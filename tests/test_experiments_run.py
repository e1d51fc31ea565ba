"""End to end: a one-cell experiment on a tiny simulated survey, resumed, with a failing cell beside it.

Everything runs for real (simulation, tiny model, preferences, TRL DPO, generation, rater, PyMC), at
sizes that finish in about two minutes on 2 CPU cores; hence ``slow``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from pluralstats.experiments.experiment_config import load_experiment
from pluralstats.experiments.runner import run_experiment
from pluralstats.finetune.dpo_config import DPOTrainConfig
from pluralstats.finetune.plugin_registry import register_plugin, unregister_plugin

TINY = """
name = "tiny"
figure = 3
seeds = [0]

[data]
simulate = { participants = 80, prompts_per_language = 5, responses_per_prompt = 3, seed = 0 }
eval_fraction = 0.4

[base_model]
steps = 30

[cell]
objective = "toxicity"

[grid]
method = ["dpo", "broken-optimizer"]

[train]
max_steps = 3
batch_size = 4
progress = false

[evaluate]
completions = 2
max_new_tokens = 8
draws = 200
tune = 200
bootstrap = 200
"""


class BrokenOptimizer:
    """A plugin that fails while training: the config is valid (unknown methods are refused up front),
    so the cell runs and fails. Ray workers do not see run-time plugins: there the cell fails too."""

    name = "broken-optimizer"
    requires = "preferences"
    config_class = DPOTrainConfig

    def train(self, data, base_model, config, out_dir):
        raise RuntimeError("broken-optimizer failed on purpose")


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    register_plugin(BrokenOptimizer)
    path = tmp_path_factory.mktemp("exp") / "tiny.toml"
    path.write_text(TINY)
    yield load_experiment(path)
    unregister_plugin(BrokenOptimizer.name)


@pytest.mark.slow
def test_one_cell_experiment_resumes_and_reports_failures(config, tmp_path):
    out = tmp_path / "run"
    first = run_experiment(config, out, threads=2)
    cells = first.cells.set_index("label")
    assert cells.loc["control", "status"] == "done" and cells.loc["dpo", "status"] == "done"
    assert cells.loc["broken-optimizer", "status"] == "failed"
    assert "broken-optimizer" in cells.loc["broken-optimizer", "error"]
    assert (out / "cells/broken-optimizer/seed-0/error.txt").exists()
    manifest = json.loads((out / "cells/dpo/seed-0/manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["pairs"] > 0 and manifest["seed"] == 0
    table = pd.read_parquet(out / "results.parquet")
    shifts = table[(table.comparison == "shift") & (table.method == "bayes")]
    assert set(shifts.model) == {"dpo"} and len(shifts) == 5  # five dimensions, the failed cell absent
    assert (out / "results.posterior.nc").exists() and (out / "cells.csv").exists()
    run_manifest = json.loads((out / "manifest.json").read_text())
    assert run_manifest["failed"][0]["label"] == "broken-optimizer"

    done_file = out / "cells/dpo/seed-0/scores.parquet"
    stamp = done_file.stat().st_mtime_ns
    second = run_experiment(config, out, threads=2)
    assert set(second.skipped) == {"control/seed-0", "dpo/seed-0"}  # finished cells are not rerun
    assert done_file.stat().st_mtime_ns == stamp
    again = second.cells.set_index("label")
    assert bool(again.loc["dpo", "skipped"]) and again.loc["broken-optimizer", "status"] == "failed"
    assert len(second.failed) == 1


@pytest.mark.slow
def test_ray_backend_runs_cells_on_a_local_instance(config, tmp_path):
    ray = pytest.importorskip("ray")
    out = tmp_path / "ray-run"
    report = run_experiment(config, out, backend="ray", num_cpus=2, threads=1)
    assert not ray.is_initialized()  # the runner shut down the instance it started
    statuses = report.cells.set_index("label").status
    assert statuses["dpo"] == "done" and statuses["control"] == "done" and statuses["broken-optimizer"] == "failed"
    assert Path(out / "results.parquet").exists()
