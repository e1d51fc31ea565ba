"""The tiny control model: trained tokenizer, reloadable checkpoint, batched generation from survey text."""

from __future__ import annotations

import re


def test_checkpoint_reloads_with_pad_eos_and_chat_template(tiny_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pluralstats.finetune.tiny import EOS, PAD

    path, info = tiny_dir
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert tok.pad_token == PAD and tok.eos_token == EOS and tok.padding_side == "left"
    assert model.config.model_type == "llama" and model.config.num_hidden_layers == 2
    assert model.config.pad_token_id == tok.pad_token_id
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text == "<|user|>Hi<|assistant|>"
    assert info["loss_last"] < info["loss_first"] - 2.0  # the warm start learned the texts


def test_warm_start_uses_train_prompts_only(ft_survey):
    from pluralstats.finetune.tiny import training_texts
    from pluralstats.survey.split import prompt_split

    side = prompt_split(ft_survey.items, 0.2, 0)
    eval_prompts = set(ft_survey.items.prompt[ft_survey.items.prompt_id.map(side) == "eval"])
    texts = training_texts(ft_survey)
    assert len(texts) > 0 and not set(texts.prompt) & eval_prompts


def test_batched_generation_speaks_the_survey_language(tiny_dir, ft_survey):
    from pluralstats.finetune.tiny import generate

    path, _ = tiny_dir
    prompts = list(ft_survey.items.prompt.drop_duplicates().head(6))
    prompts[0] = prompts[0][:12]  # different lengths -> left padding is exercised
    out = generate(path, prompts, max_new_tokens=30, seed=0)
    assert len(out) == 6 and all(o.strip() for o in out)
    vocab = {w for r in ft_survey.items.response for w in re.findall(r"\w+", r.lower())}
    words = [w for o in out for w in re.findall(r"\w+", o.lower())]
    assert len(words) > 20
    assert sum(w in vocab for w in words) / len(words) > 0.8  # text from the responses' distribution
