"""DPO through TRL on the tiny model: weights change, the implicit reward margin rises, pair weights count."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from pluralstats.errors import InputError
from pluralstats.finetune.dpo import DPOPlugin, _PairWeighted
from pluralstats.finetune.dpo_config import DPOTrainConfig
from pluralstats.finetune.pair_datasets import preference_margins
from tests.finetune_fixtures import max_change, parameters


def _load(path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _config(**kw) -> DPOTrainConfig:
    base = dict(epochs=2, learning_rate=5e-4, batch_size=8, device="cpu", seed=0, logging_steps=4,
                progress=False, save_steps=1000)
    return DPOTrainConfig(**{**base, **kw})


def test_dpo_changes_weights_and_raises_margin(tiny_dir, ft_pairs, ft_prefs_path, tmp_path, capsys):
    base_path, _ = tiny_dir
    base, tok = _load(base_path)
    before = preference_margins(base, tok, ft_pairs)
    capsys.readouterr()
    out = DPOPlugin().train(ft_prefs_path, str(base_path), _config(), tmp_path / "dpo")
    assert "'loss'" not in capsys.readouterr().out  # no log given: TRL's raw log dicts are not printed
    tuned, _ = _load(out)
    after = preference_margins(tuned, tok, ft_pairs, reference=base, beta=0.1)
    assert max_change(parameters(base), parameters(tuned)) > 1e-3
    # implicit reward margin beta*[(log pi/ref)(chosen) - (log pi/ref)(rejected)] is 0 before training
    assert after.reward_margin.mean() > 0.3
    assert after.logp_margin.mean() > before.logp_margin.mean() + 3.0
    assert (after.reward_margin > 0).mean() > 0.7
    log = json.loads((out / "training_log.json").read_text())
    assert log["global_step"] == 16 and any("pair_weight" in row for row in log["log_history"])
    assert not (tmp_path / "dpo.checkpoints").exists()


def test_zero_pair_weights_are_refused_before_training(tiny_dir, ft_pairs, tmp_path):
    # a pair of weight 0 carries no preference: the one weight rule, (0, 1], refuses it before any model loads
    base_path, _ = tiny_dir
    zero = ft_pairs.head(16).assign(weight=0.0)
    with pytest.raises(InputError, match=r"weight in \(0, 1\]"):
        DPOPlugin().train(zero, str(base_path), _config(epochs=1), tmp_path / "zero")
    assert not (tmp_path / "zero").exists()


def test_pair_weight_feeds_trls_per_sequence_weight_exactly():
    class Toy(torch.nn.Module):
        def forward(self, x):
            return {"log_probs": x * 1.0}

    x = torch.tensor([[-1.0, -2.0], [-3.0, -4.0], [-5.0, -6.0], [-7.0, -8.0]], requires_grad=True)  # 2 pairs
    out = _PairWeighted(Toy(), torch.tensor([0.25, 1.0]))(x=x)
    assert torch.equal(out["log_probs"], x)  # the policy's log-probs (values and gradient) untouched
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    # TRL's per-row weight: exp(mean over completion tokens of (log_probs - log_sum_sq_probs))
    row = torch.exp(((x.detach() - out["log_sum_sq_probs"]) * mask).sum(1) / mask.sum(1))
    chosen, rejected = row.chunk(2)
    assert torch.allclose(chosen * rejected, torch.tensor([0.25, 1.0]))


def test_logged_loss_is_the_weighted_mean_of_pair_losses(tiny_dir, ft_pairs, tmp_path):
    """The logged loss is mean_i(w_i * loss_i), each pair's sigmoid DPO loss computed here independently."""
    import torch.nn.functional as F

    from pluralstats.finetune.dpo import build_trainer
    from pluralstats.finetune.trl_helpers import checkpoint_dir

    base_path, _ = tiny_dir
    pairs = ft_pairs.head(4).assign(weight=[0.2, 1.0, 0.5, 0.8])
    cfg = _config(max_steps=1, batch_size=4, learning_rate=0.0, logging_steps=1, max_length=512)
    trainer, tok = build_trainer(pairs, str(base_path), cfg, checkpoint_dir(tmp_path / "w"))
    torch.manual_seed(0)
    with torch.no_grad():  # move the policy off the (already precomputed) reference: pair losses differ
        for p in trainer.model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    policy = copy.deepcopy(trainer.model).eval()
    trainer.train()
    logged = next(row["loss"] for row in trainer.state.log_history if "loss" in row)
    base, _ = _load(base_path)
    margins = preference_margins(policy, tok, pairs, reference=base, beta=0.1)
    per_pair = -F.logsigmoid(torch.tensor(margins.reward_margin.to_numpy()))
    w = torch.tensor(pairs.weight.to_numpy())
    assert per_pair.std() > 0.01  # the check below would not tell weighted from unweighted otherwise
    assert logged == pytest.approx(float((w * per_pair).mean()), rel=1e-4)
    assert abs(logged - float(per_pair.mean())) > 0.01


def test_lora_and_resume(tiny_dir, ft_pairs, tmp_path):
    from pluralstats.finetune.dpo import build_trainer
    from pluralstats.finetune.trl_helpers import checkpoint_dir
    from pluralstats.io import claim_output_dir

    base_path, _ = tiny_dir
    pairs = ft_pairs.head(16)
    out = tmp_path / "lora"
    work = claim_output_dir(checkpoint_dir(out), "finetune")  # as the interrupted run's train() did
    trainer, _ = build_trainer(pairs, str(base_path), _config(lora=True, max_steps=2, save_steps=2, logging_steps=1),
                               work)
    trainer.train()  # an "interrupted" run: stops at step 2 with checkpoint-2 on disk
    assert (checkpoint_dir(out) / "checkpoint-2").exists()
    done = DPOPlugin().train(pairs, str(base_path), _config(lora=True, max_steps=4, save_steps=2, resume=True,
                                                            logging_steps=1), out)
    log = json.loads((done / "training_log.json").read_text())
    steps = [row["step"] for row in log["log_history"] if "loss" in row]
    assert log["global_step"] == 4 and steps == [1, 2, 3, 4]  # steps 1-2 restored, 3-4 trained
    tuned, _ = _load(done)  # LoRA merged: a plain checkpoint
    assert not any("lora" in k for k in tuned.state_dict())
    assert max_change(parameters(_load(base_path)[0]), parameters(tuned)) > 0


def test_cli_finetune_dpo_writes_checkpoint_and_manifest(tiny_dir, ft_prefs_path, tmp_path):
    from pluralstats.cli import cli

    base_path, _ = tiny_dir
    out = tmp_path / "cli"
    result = CliRunner().invoke(cli, ["finetune", "--method", "dpo", "--prefs", str(ft_prefs_path), "--model",
                                      str(base_path), "--out", str(out), "--max-steps", "3", "--batch-size", "4",
                                      "--lr", "1e-4", "--beta", "0.2", "--device", "cpu", "--seed", "1"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["command"] == "finetune" and manifest["seed"] == 1
    assert manifest["options"]["beta"] == 0.2 and manifest["options"]["method"] == "dpo"
    assert str(ft_prefs_path) in manifest["inputs"]
    assert (out / "model.safetensors").exists() and (out / "tokenizer.json").exists()


@pytest.mark.slow
def test_dpo_on_preserve_pairs_from_prefs_module(tiny_dir, ft_survey, tmp_path):
    """With the preference builder's own dataset (preserve strategy): margins rise."""
    prefs = pytest.importorskip("pluralstats.prefs.pairing")
    del prefs
    from click.testing import CliRunner as Runner

    from pluralstats.cli import cli
    from pluralstats.survey import save_survey

    base_path, _ = tiny_dir
    save_survey(ft_survey, tmp_path / "bundle")
    res = Runner().invoke(cli, ["prefs", str(tmp_path / "bundle"), "--out", str(tmp_path / "p.parquet"),
                                "--strategy", "preserve"])
    assert res.exit_code == 0, res.output
    pairs = pd.read_parquet(tmp_path / "p.parquet")
    out = DPOPlugin().train(tmp_path / "p.parquet", str(base_path), _config(epochs=1), tmp_path / "dpo")
    base, tok = _load(base_path)
    after = preference_margins(_load(out)[0], tok, pairs.head(64), reference=base)
    assert after.reward_margin.mean() > 0


def test_plain_model_without_chat_template_or_pad_token(tiny_dir, ft_pairs, tmp_path):
    """A base LM as users bring it (no chat template, no pad token) trains unchanged."""
    from transformers import AutoTokenizer

    base_path, _ = tiny_dir
    model, tok = _load(base_path)
    tok.chat_template = None
    tok.pad_token = None
    model.config.pad_token_id = None
    model.generation_config.pad_token_id = None
    model.save_pretrained(tmp_path / "plain")
    tok.save_pretrained(tmp_path / "plain")
    assert AutoTokenizer.from_pretrained(tmp_path / "plain").chat_template is None
    out = DPOPlugin().train(ft_pairs.head(16), str(tmp_path / "plain"), _config(max_steps=2), tmp_path / "o")
    tuned, tuned_tok = _load(out)
    assert tuned_tok.pad_token == tuned_tok.eos_token
    assert max_change(parameters(model), parameters(tuned)) > 0
