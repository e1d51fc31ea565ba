"""Completions from a causal LM for the held-out prompts: seeded, batched, left-padded.

Prompts are rendered with the tokenizer's chat template (as in training; see :func:`pluralstats.chat.render`).

Decoder-only models continue from the last position, so prompts are padded on the left; otherwise
a short prompt would be continued after its padding. The seed is set once per model run and the
work order is fixed (sorted prompt ids, completion index inside), so the same seed, prompts and
batch size give the same completions.

Reasoning models: when the chat template names thinking markers (or ``GenerationConfig.thinking``
gives them), each completion's thinking segment is split off (:mod:`pluralstats.evaluate.reasoning`):
``completion`` holds the final answer only (what scorers see), with ``thinking_tokens`` and
``thinking_closed`` beside it; an unclosed segment leaves an empty answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError
from pluralstats.readers import loading_model


@dataclass(frozen=True)
class GenerationConfig:
    """How completions are sampled; recorded in every manifest."""

    completions: int = 4  # per prompt
    max_new_tokens: int = 32
    min_new_tokens: int = 1  # an empty completion tells the scorer nothing
    batch_size: int = 16
    temperature: float = 0.8
    top_p: float = 0.95
    do_sample: bool = True
    # thinking segment markers: "auto" (from the chat template), "off", or "OPEN,CLOSE"
    thinking: str = "auto"

    def to_dict(self) -> dict:
        """The settings as a plain dict (for manifests)."""
        return asdict(self)


def eval_prompts(items: pd.DataFrame, split: pd.Series | None, max_prompts: int | None = None) -> pd.DataFrame:
    """The held-out prompts (one row per prompt_id), sorted, optionally capped (deterministically)."""
    prompts = items[["prompt_id", "prompt"]].drop_duplicates("prompt_id")
    if split is not None:
        held = set(split[split == "eval"].index.astype(str))
        prompts = prompts[prompts.prompt_id.astype(str).isin(held)]
    prompts = prompts.sort_values("prompt_id").reset_index(drop=True)
    if prompts.empty:
        raise InputError("No held-out prompts to evaluate on (the split has no 'eval' prompts).")
    return prompts.head(max_prompts) if max_prompts else prompts


def load_lm(model_dir: str | Path):
    """Load a causal LM and its tokenizer set up for batched generation (left padding, a pad token)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    with loading_model(path, "model folder", local=True):
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def generate_completions(
    model_dir: str | Path,
    prompts: pd.DataFrame,
    config: GenerationConfig | None = None,
    *,
    seed: int = 0,
    progress=None,
    label: str = "",
) -> pd.DataFrame:
    """Sample ``config.completions`` completions per prompt; one row per (prompt_id, completion)."""
    import torch

    from pluralstats.evaluate.reasoning import markers_for, split_completions

    config = config or GenerationConfig()
    model, tokenizer = load_lm(model_dir)
    markers = markers_for(tokenizer, config.thinking)
    work = [(pid, text, k) for pid, text in zip(prompts.prompt_id, prompts.prompt, strict=True)
            for k in range(config.completions)]
    torch.manual_seed(seed)
    rows: list[dict] = []
    task = progress.add_task(f"generate {label}".strip(), total=len(work)) if progress else None
    for start in range(0, len(work), config.batch_size):
        batch = work[start:start + config.batch_size]
        texts = _complete(model, tokenizer, [text for _, text, _ in batch], config, markers)
        rows += [{"prompt_id": pid, "completion_id": k, "prompt": text, "completion": out}
                 for (pid, text, k), out in zip(batch, texts, strict=True)]
        if progress:
            progress.advance(task, len(batch))
    frame = pd.DataFrame(rows)
    return split_completions(frame, markers, tokenizer) if markers else frame


def _complete(model, tokenizer, texts: Sequence[str], config: GenerationConfig, markers=None) -> list[str]:
    import torch

    from pluralstats.chat import render  # the chat template the models were trained with

    rendered = [render(tokenizer, t) for t in texts]
    # chat-control and padding tokens are never part of an answer; eos and thinking markers stay allowed
    kept = {m for m in ((markers.open, markers.close) if markers else ()) if m in tokenizer.all_special_tokens}
    kept_ids = {tokenizer.convert_tokens_to_ids(m) for m in kept}
    banned = [i for i in tokenizer.all_special_ids if i != tokenizer.eos_token_id and i not in kept_ids]
    enc = tokenizer(rendered, return_tensors="pt", padding=True, add_special_tokens=False)
    enc.pop("token_type_ids", None)
    with torch.no_grad():
        out = model.generate(
            **enc, max_new_tokens=config.max_new_tokens, min_new_tokens=config.min_new_tokens,
            do_sample=config.do_sample,
            temperature=config.temperature if config.do_sample else None,
            top_p=config.top_p if config.do_sample else None,
            pad_token_id=tokenizer.pad_token_id, suppress_tokens=banned or None,
        )
    new_tokens = out[:, enc["input_ids"].shape[1]:]
    if not kept:
        return [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    # markers that are special tokens must survive decoding; every other special token is dropped
    texts = tokenizer.batch_decode(new_tokens, skip_special_tokens=False)
    for token in set(tokenizer.all_special_tokens) - kept:
        texts = [t.replace(token, "") for t in texts]
    return [t.strip() for t in texts]
