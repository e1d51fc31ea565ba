"""Experiment configs choose the trainer per cell (any installed plugin, KTO included), each with its own
``[train.<method>]`` options; KTO cells need the survey's positive thresholds, checked before anything runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pluralstats.errors import InputError
from pluralstats.experiments.experiment_config import judged_dimensions, load_experiment

BASE = """
name = "t"
seeds = [0]
[data]
simulate = { participants = 50 }
"""
THRESHOLDS = "thresholds = { toxicity = 4, emotional_awareness = 4 }\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


def test_a_grid_of_one_method_takes_that_methods_train_options(tmp_path):
    # the grid's only method equals [cell]'s default: its options must still be known
    cfg = load_experiment(write(tmp_path, BASE + '[grid]\nmethod = ["dpo"]\n[train]\nbeta = 0.2\n'))
    assert cfg.train_options("dpo") == {"beta": 0.2}


def test_each_method_gets_the_shared_train_keys_and_its_own_table(tmp_path):
    text = BASE + THRESHOLDS + """
[grid]
method = ["dpo", "grpo", "kto"]
[train]
max_steps = 5
beta = 0.1
[train.kto]
desirable_weight = 1.5
beta = 0.3
[train.grpo]
num_generations = 2
"""
    cfg = load_experiment(write(tmp_path, text))
    assert cfg.train_options("kto") == {"max_steps": 5, "beta": 0.3, "desirable_weight": 1.5}
    assert cfg.train_options("grpo") == {"max_steps": 5, "beta": 0.1, "num_generations": 2}
    assert cfg.train_options("dpo") == {"max_steps": 5, "beta": 0.1}
    assert cfg.train_options(None) == {"max_steps": 5, "beta": 0.1}  # a control trains nothing
    assert [c.params["method"] for c in cfg.cells()[1:]] == ["dpo", "grpo", "kto"]


@pytest.mark.parametrize("extra, message", [
    ('[grid]\nmethod = ["dpo"]\n[train.sft]\nmax_steps = 2\n', r"\[train.sft\] applies to no cell"),
    ('[grid]\nmethod = ["dpo", "kto"]\n[train.kto]\nnum_generations = 2\n', r"\[train.kto\] unknown key"),
    ('[grid]\nmethod = ["dpo", "kto"]\n[train.kto]\nseed = 2\n', r"\[train.kto\] unknown key 'seed'"),
    ('[grid]\nmethod = ["grpo"]\n[train.grpo]\nreward_scorer = "nope"\n', r"\[train.grpo\] reward_scorer"),
])
def test_bad_method_tables_rejected(tmp_path, extra, message):
    with pytest.raises(InputError) as err:
        load_experiment(write(tmp_path, BASE + THRESHOLDS + extra))
    assert any(re.search(message, str(p)) for p in err.value.problems), err.value.problems


def test_kto_cells_need_thresholds_on_the_dimensions_they_judge(tmp_path):
    text = BASE + '[grid]\nmethod = ["kto"]\nobjective = ["toxicity", "sensitivity"]\n'
    with pytest.raises(InputError) as err:
        load_experiment(write(tmp_path, text.replace("[grid]", "thresholds = { toxicity = 4 }\n[grid]")))
    messages = [str(p) for p in err.value.problems]
    assert len(messages) == 1 and "[data] thresholds.sensitivity is not set" in messages[0]
    assert "kto" in messages[0]
    with pytest.raises(InputError, match="unknown dimension 'toxic'"):
        load_experiment(write(tmp_path, text.replace("[grid]", "thresholds = { toxic = 4 }\n[grid]")))
    with pytest.raises(InputError, match="must be in 1..5"):
        load_experiment(write(tmp_path, text.replace("[grid]", "thresholds = { toxicity = 9 }\n[grid]")))
    ok = "thresholds = { toxicity = 4, sensitivity = 3 }\n[grid]"
    assert len(load_experiment(write(tmp_path, text.replace("[grid]", ok))).cells()) == 3


def test_dpo_needs_no_thresholds(tmp_path):
    assert load_experiment(write(tmp_path, BASE + '[grid]\nmethod = ["dpo", "grpo"]\n'))


def test_judged_dimensions():
    dims = ["toxicity", "helpfulness"]
    assert judged_dimensions({"objective": "toxicity"}, dims) == ["toxicity"]
    assert judged_dimensions({"objective": "multi", "weights": None}, dims) == dims
    assert judged_dimensions({"objective": "multi", "weights": {"helpfulness": 2.0}}, dims) == ["helpfulness"]


KTO_CELL = """
name = "kto-cell"
seeds = [0]

[data]
simulate = { participants = 80, prompts_per_language = 5, responses_per_prompt = 3, seed = 0 }
eval_fraction = 0.4
thresholds = { toxicity = 2 }  # at this size, 4 would label every response desirable

[base_model]
steps = 30

[cell]
method = "kto"
objective = "toxicity"

[train]
max_steps = 3
batch_size = 4
learning_rate = 5e-3
progress = false

[train.kto]
desirable_weight = 1.5

[evaluate]
completions = 2
max_new_tokens = 8
draws = 200
tune = 200
bootstrap = 200
"""


@pytest.mark.slow
def test_a_kto_cell_trains_on_unpaired_labels_from_the_experiments_split(tmp_path):
    import json

    import pandas as pd
    import torch
    from transformers import AutoModelForCausalLM

    from pluralstats.experiments.runner import run_experiment

    out = tmp_path / "run"
    report = run_experiment(load_experiment(write(tmp_path, KTO_CELL)), out, threads=2)
    assert (report.cells.status == "done").all(), report.cells.to_string()
    cell = out / "cells/tuned/seed-0"
    manifest = json.loads((cell / "manifest.json").read_text())
    assert manifest["params"]["method"] == "kto" and manifest["judged_on"] == ["toxicity"]
    assert manifest["train"]["desirable_weight"] == 1.5 and manifest["train"]["objective"] == "toxicity"
    assert 0 < manifest["desirable"] < manifest["responses"]
    unpaired = pd.read_parquet(cell / "unpaired.parquet")
    split = pd.read_csv(out / "split.csv", dtype=str).set_index("prompt_id").split
    assert set(split[unpaired.prompt_id].unique()) == {"train"}  # the experiment's split, not KTO's own
    log = json.loads((cell / "model" / "training_log.json").read_text())
    assert log["method"] == "kto"
    base = AutoModelForCausalLM.from_pretrained(out / "base-model")
    tuned = AutoModelForCausalLM.from_pretrained(cell / "model")
    changed = [n for n, p in tuned.named_parameters() if not torch.equal(p, base.get_parameter(n))]
    assert changed  # training moved the weights
    shifts = report.result.table
    assert set(shifts[shifts.comparison == "shift"].model) == {"tuned"}


def test_grid_option_replaces_one_factor(tmp_path):
    from pluralstats.cli.evaluate import grid_override

    path = write(tmp_path, BASE + THRESHOLDS + '[grid]\nmethod = ["dpo", "kto"]\nobjective = ["toxicity", "multi"]\n')
    grid = grid_override(path, ('objective=["toxicity"]',))
    assert grid == {"method": ["dpo", "kto"], "objective": ["toxicity"]}
    cfg = load_experiment(path, {"grid": grid})
    assert [c.key for c in cfg.cells()[1:]] == ["dpo_toxicity/seed-0", "kto_toxicity/seed-0"]  # the full grid's keys
    with pytest.raises(InputError, match="FACTOR=\\[values\\]"):
        grid_override(path, ("objective toxicity",))
