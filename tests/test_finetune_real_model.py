"""A real-model path offline: any local causal-LM folder (here a GPT-2 architecture, not the tiny Llama), its
tokenizer's own chat template, LoRA targets read from its module names, bf16 on CUDA."""

from __future__ import annotations

import pytest
import torch

from pluralstats.finetune.dpo import DPOPlugin
from pluralstats.finetune.dpo_config import DPOTrainConfig
from pluralstats.finetune.train_config import resolve_device
from pluralstats.finetune.trl_helpers import checkpoint_dir, lora_targets, policy_dtype, save_final, trl_arguments
from tests.finetune_fixtures import max_change, parameters

TEMPLATE = ("{% for m in messages %}{% if m['role'] == 'user' %}### User: {{ m['content'] }}\n"
            "{% else %}### Assistant: {{ m['content'] }}<|eos|>{% endif %}{% endfor %}"
            "{% if add_generation_prompt %}### Assistant: {% endif %}")
LLAMA = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


@pytest.fixture
def gpt2_dir(tiny_dir, tmp_path):
    """A small GPT-2 (Conv1D layers, other module names) saved with a tokenizer whose chat template differs."""
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(tiny_dir[0])
    tok.chat_template = TEMPLATE
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=1, n_head=2,
                                       bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id,
                                       pad_token_id=tok.pad_token_id))
    model.save_pretrained(tmp_path / "gpt2")
    tok.save_pretrained(tmp_path / "gpt2")
    return tmp_path / "gpt2"


def test_lora_targets_come_from_the_models_module_names(tiny_dir, gpt2_dir):
    from transformers import AutoModelForCausalLM

    assert set(lora_targets(AutoModelForCausalLM.from_pretrained(gpt2_dir))) == {"c_attn", "c_proj", "c_fc"}
    assert set(lora_targets(AutoModelForCausalLM.from_pretrained(tiny_dir[0]))) == LLAMA  # no lm_head


def test_dpo_lora_on_a_local_gpt2_folder_uses_its_template(gpt2_dir, ft_pairs, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = DPOTrainConfig(max_steps=2, batch_size=4, learning_rate=1e-2, device="cpu", lora=True, lora_r=4,
                         logging_steps=1, progress=False, save_steps=1000)
    out = tmp_path / "tuned"
    trainer, tok = DPOPlugin().build_trainer(ft_pairs.head(8), str(gpt2_dir), cfg, checkpoint_dir(out))
    assert set(trainer.model.peft_config["default"].target_modules) == {"c_attn", "c_proj", "c_fc"}
    first = trainer.train_dataset[0]
    prompt = tok.decode(first["prompt_ids"])  # rendered with the folder's own template, not the tiny one
    assert prompt.startswith("### User: ") and prompt.rstrip().endswith("### Assistant:")
    trainer.train()
    save_final(trainer, tok, out)
    tuned = AutoModelForCausalLM.from_pretrained(out)
    assert tuned.config.model_type == "gpt2" and not any("lora" in k for k in tuned.state_dict())
    assert max_change(parameters(AutoModelForCausalLM.from_pretrained(gpt2_dir)), parameters(tuned)) > 0


def test_bf16_on_a_bf16_capable_gpu(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_device("auto") == ("cuda", True)
    full, lora = DPOTrainConfig(device="auto"), DPOTrainConfig(device="auto", lora=True)
    args = trl_arguments(full, tmp_path)
    assert args["bf16"] is True and args["use_cpu"] is False
    assert policy_dtype(full) == torch.float32  # fp32 master weights under bf16 autocast
    assert policy_dtype(lora) == torch.bfloat16  # the frozen base in bf16
    assert policy_dtype(DPOTrainConfig(device="cpu", lora=True)) == torch.float32
