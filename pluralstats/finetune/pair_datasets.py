"""Preference pairs: a validated training dataset, render it for a tokenizer, score margins."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

from pluralstats.prefs.dataset import load_preferences

from .tiny import render


def pairs_dataset(data: Any):
    """A ``datasets.Dataset`` of validated pairs from a parquet path, a DataFrame or a Dataset.

    Validation is :func:`pluralstats.prefs.load_preferences` (TRL columns only: a hand-made
    prompt/chosen/rejected file trains too), so training refuses exactly what every other stage does.
    """
    from datasets import Dataset

    return Dataset.from_pandas(load_preferences(data, provenance=False), preserve_index=False)


def trl_row(tokenizer, prompt: str, **completions: str) -> dict[str, Any]:
    """A prompt and its completions in TRL's conversational form (user, then assistant messages) when the
    tokenizer has a chat template, else as plain text (``prompt + "\n"``, the completions as they are)."""
    if getattr(tokenizer, "chat_template", None):
        return {"prompt": [{"role": "user", "content": prompt}],
                **{k: [{"role": "assistant", "content": c}] for k, c in completions.items()}}
    return {"prompt": render(tokenizer, prompt), **completions}


def _prepare(dataset, tokenizer, texts: tuple[str, ...], values: dict[str, Callable], desc: str):
    """Keep prompt, ``texts`` (rendered with :func:`trl_row`) and ``values`` (each cast by its callable)."""
    keep = ["prompt", *texts, *values]

    def convert(row: dict) -> dict:
        return {**trl_row(tokenizer, row["prompt"], **{k: row[k] for k in texts}),
                **{k: cast(row[k]) for k, cast in values.items()}}

    drop = [c for c in dataset.column_names if c not in keep]
    return dataset.remove_columns(drop).map(convert, desc=desc)


def prepare_pairs(dataset, tokenizer):
    """Keep prompt/chosen/rejected/weight; conversational form when the tokenizer has a chat template."""
    return _prepare(dataset, tokenizer, ("chosen", "rejected"), {"weight": float}, "Rendering pairs")


def prepare_completions(dataset, tokenizer, values: dict[str, Callable] | None = None):
    """Keep prompt/completion (and ``values`` columns, e.g. KTO's ``{"label": bool}``), rendered as pairs are."""
    return _prepare(dataset, tokenizer, ("completion",), values or {}, "Rendering completions")


def completion_logps(model, tokenizer, prompts: list[str], completions: list[str],
                     batch_size: int = 16) -> list[float]:
    """Sum of log p(completion | prompt) under ``model``, with the chat rendering used in training."""
    import torch

    scores: list[float] = []
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(prompts), batch_size):
        rows = []
        for p, c in zip(prompts[start:start + batch_size], completions[start:start + batch_size], strict=True):
            prompt_ids = tokenizer(render(tokenizer, p), add_special_tokens=False)["input_ids"]
            full_ids = tokenizer(render(tokenizer, p, c), add_special_tokens=False)["input_ids"]
            rows.append((full_ids, len(prompt_ids)))
        width = max(len(ids) for ids, _ in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        mask = torch.zeros_like(ids)
        target = torch.zeros_like(ids, dtype=torch.bool)
        for i, (full, n_prompt) in enumerate(rows):
            ids[i, :len(full)] = torch.tensor(full)
            mask[i, :len(full)] = 1
            target[i, n_prompt:len(full)] = True
        with torch.no_grad():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:, None].to(device))[..., 0]
        scores += (logp * target[:, 1:].to(device)).sum(1).tolist()
    return scores


def preference_margins(model, tokenizer, pairs: pd.DataFrame, reference=None, beta: float = 0.1) -> pd.DataFrame:
    """Per pair: log-prob margin (chosen - rejected) and, given a reference, DPO's implicit reward margin."""
    prompts, chosen, rejected = list(pairs.prompt), list(pairs.chosen), list(pairs.rejected)
    out = pd.DataFrame({"chosen_logp": completion_logps(model, tokenizer, prompts, chosen),
                        "rejected_logp": completion_logps(model, tokenizer, prompts, rejected)})
    out["logp_margin"] = out.chosen_logp - out.rejected_logp
    if reference is not None:
        ref = preference_margins(reference, tokenizer, pairs)
        out["reward_margin"] = beta * (out.logp_margin - ref.logp_margin)
    return out
