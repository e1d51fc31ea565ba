"""Data-parallel fine-tuning: 2 processes (gloo on CPU) match 1 process with doubled gradient accumulation (DPO),
GRPO runs in 2 processes;
--processes beyond the machine exits 2 with the count."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.finetune.distributed import available_workers, check_processes, train_data_parallel
from pluralstats.finetune.dpo import DPOPlugin
from pluralstats.finetune.dpo_config import DPOTrainConfig
from tests.finetune_fixtures import max_change, parameters

# Tolerances of the 2-process vs 1-process comparison: the two runs differ only in the order of float
# additions (gradients averaged by all-reduce vs accumulated in one process); on 2 CPU cores they were bit-identical.
LOSS_RTOL, WEIGHT_ATOL = 1e-4, 1e-5


def _steps(out) -> list[float]:
    log = json.loads((out / "training_log.json").read_text())
    return [row["loss"] for row in log["log_history"] if "loss" in row]


@pytest.mark.slow  # spawns two training processes: about 1-2 min on 2 shared cores
def test_two_processes_match_one_with_doubled_accumulation(tiny_dir, ft_pairs, tmp_path):
    from transformers import AutoModelForCausalLM

    base_path, _ = tiny_dir
    pairs = ft_pairs.head(32)
    cfg = DPOTrainConfig(max_steps=3, batch_size=4, learning_rate=2e-3, device="cpu", seed=0, logging_steps=1,
                         progress=False, save_steps=1000)
    one = DPOPlugin().train(pairs, str(base_path), dataclasses.replace(cfg, grad_accum=2), tmp_path / "one")
    two = train_data_parallel("dpo", pairs, str(base_path), cfg, tmp_path / "two", processes=2)
    assert json.loads((two / "training_log.json").read_text())["processes"] == 2
    losses_one, losses_two = _steps(one), _steps(two)
    assert len(losses_one) == len(losses_two) == 3
    assert losses_two == pytest.approx(losses_one, rel=LOSS_RTOL)
    base = parameters(AutoModelForCausalLM.from_pretrained(base_path))
    w_one = parameters(AutoModelForCausalLM.from_pretrained(one))
    w_two = parameters(AutoModelForCausalLM.from_pretrained(two))
    assert max_change(base, w_one) > 1e-3  # the runs moved the weights: the comparison below means something
    assert max_change(w_one, w_two) < WEIGHT_ATOL


def test_too_many_processes_exit_2_with_the_count(ft_prefs_path, tmp_path):
    count, unit = available_workers("cpu")
    with pytest.raises(InputError, match=rf"--processes {count + 1} exceeds the {count} {unit} available"):
        check_processes(count + 1, "cpu")
    with pytest.raises(InputError, match="at least 1"):
        check_processes(0, "cpu")
    check_processes(1, "cpu")
    res = CliRunner().invoke(cli, ["finetune", "--method", "dpo", "--prefs", str(ft_prefs_path), "--model", "m",
                                   "--out", str(tmp_path / "o"), "--device", "cpu", "--processes", str(count + 1)])
    assert res.exit_code == 2 and f"exceeds the {count} CPU cores" in res.output
    assert not (tmp_path / "o").exists()
    assert torch.get_num_threads() >= 1


@pytest.mark.slow  # spawns two GRPO processes (generation in each): about 1 min on 2 shared cores
def test_grpo_runs_data_parallel(tiny_dir, ft_pairs, hashing_rater, tmp_path):
    from transformers import AutoModelForCausalLM

    from pluralstats.finetune.grpo_config import GRPOTrainConfig

    base_path, _ = tiny_dir
    hashing_rater.save(tmp_path / "rater")  # each process loads the rater from its folder
    cfg = GRPOTrainConfig(rater=str(tmp_path / "rater"), max_steps=2, batch_size=4, num_generations=4,
                          max_completion_length=8, learning_rate=1e-2, device="cpu", progress=False,
                          logging_steps=1, save_steps=1000)
    out = train_data_parallel("grpo", list(ft_pairs.prompt.unique()[:8]), str(base_path), cfg, tmp_path / "g",
                              processes=2)
    log = json.loads((out / "training_log.json").read_text())
    assert log["processes"] == 2 and log["global_step"] == 2
    assert all("reward" in row for row in log["log_history"] if "loss" in row)
    tuned = AutoModelForCausalLM.from_pretrained(out)
    assert max_change(parameters(AutoModelForCausalLM.from_pretrained(base_path)), parameters(tuned)) > 0
