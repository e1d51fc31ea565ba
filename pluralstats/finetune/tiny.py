"""A tiny Llama-style causal LM built offline from a survey's texts (the *control* model).

1. a byte-level BPE tokenizer trained with ``tokenizers`` on the train prompts' prompts and responses;
2. a small ``LlamaConfig`` (default 2 layers, width 64);
3. a short supervised warm start on (prompt, response) pairs rendered with the chat template below,
   so that the model generates text from the survey's response distribution.

Chat template (also saved in the tokenizer, so ``apply_chat_template`` works)::

    <|user|>{prompt}<|assistant|>{response}<|eos|>

The tokenizer pads on the left with ``<|pad|>`` and ends responses with ``<|eos|>``, so batched
``generate`` works out of the box. Only train-split prompts are used (``prompt_split``).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from pluralstats.chat import render  # noqa: F401 - re-exported: the chat format of the models built here
from pluralstats.io import atomic_path
from pluralstats.survey import Survey
from pluralstats.survey.split import prompt_split

PAD, EOS, USER, ASSISTANT = "<|pad|>", "<|eos|>", "<|user|>", "<|assistant|>"
CHAT_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}" + USER + "{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}" + ASSISTANT + "{{ m['content'] }}" + EOS + "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + ASSISTANT + "{% endif %}"
)


@dataclass
class TinyModelConfig:
    """Size and warm-start options; the defaults finish in about a minute on 2 CPU cores."""

    vocab_size: int = 2000
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128
    max_length: int = 128
    steps: int = 300
    batch_size: int = 16
    learning_rate: float = 3e-3
    eval_fraction: float = 0.2
    seed: int = 0
    threads: int | None = None


def training_texts(survey: Survey, eval_fraction: float = 0.2, seed: int = 0) -> pd.DataFrame:
    """(prompt, response) of the train prompts only: the warm start never sees a held-out prompt."""
    side = prompt_split(survey.items, eval_fraction=eval_fraction, seed=seed)
    train_ids = set(side.index[side == "train"])
    items = survey.items[survey.items.prompt_id.isin(train_ids)]
    return items[["prompt", "response"]].drop_duplicates().reset_index(drop=True)


def train_tokenizer(texts: list[str], vocab_size: int = 2000):
    """A byte-level BPE tokenizer with pad/eos/chat tokens, wrapped as a transformers fast tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, EOS, USER, ASSISTANT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    wrapped = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS, bos_token=None,
                                      additional_special_tokens=[USER, ASSISTANT], padding_side="left")
    wrapped.chat_template = CHAT_TEMPLATE
    return wrapped


def build_tiny_model(survey: Survey, out_dir: str | Path, config: TinyModelConfig | None = None,
                     *, progress: bool = True) -> dict:
    """Train tokenizer + warm start and save both atomically to ``out_dir``; return a summary dict."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = config or TinyModelConfig()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    pairs = training_texts(survey, cfg.eval_fraction, cfg.seed)
    tokenizer = train_tokenizer(list(pairs.prompt) + list(pairs.response), cfg.vocab_size)
    model_cfg = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden_size, intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers, num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(256, 2 * cfg.max_length), tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
    )
    model = LlamaForCausalLM(model_cfg)
    texts = [render(tokenizer, p, r) for p, r in zip(pairs.prompt, pairs.response, strict=True)]
    losses = _warm_start(model, tokenizer, texts, cfg, progress=progress)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    with atomic_path(out_dir, is_dir=True) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return {"pairs": len(pairs), "vocab_size": len(tokenizer), "parameters": model.num_parameters(),
            "loss_first": losses[0], "loss_last": losses[-1], "seconds": time.perf_counter() - start,
            "config": asdict(cfg)}


def _warm_start(model, tokenizer, texts: list[str], cfg: TinyModelConfig, *, progress: bool) -> list[float]:
    """Plain next-token training on the rendered texts; returns the loss per logged step."""
    import torch
    from rich.progress import Progress

    enc = tokenizer(texts, truncation=True, max_length=cfg.max_length)["input_ids"]
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * s / max(1, cfg.steps))))
    model.train()
    losses: list[float] = []
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("warm start", total=cfg.steps)
        for _ in range(cfg.steps):
            idx = torch.randint(len(enc), (cfg.batch_size,), generator=gen).tolist()
            batch = tokenizer.pad({"input_ids": [enc[i] for i in idx]}, padding_side="right", return_tensors="pt")
            labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
            loss = model(**batch, labels=labels).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            losses.append(loss.item())
            bar.update(task, advance=1, description=f"warm start loss {loss.item():.3f}")
    model.eval()
    return losses


def generate(model_dir: str | Path, prompts: list[str], *, max_new_tokens: int = 48, seed: int = 0,
             do_sample: bool = True, temperature: float = 1.0) -> list[str]:
    """Batched generation from a saved checkpoint (left padding, stop at eos); returns the responses."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    torch.manual_seed(seed)
    batch = tokenizer([render(tokenizer, p) for p in prompts], return_tensors="pt", padding=True,
                      add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=do_sample,
                             temperature=temperature, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
