"""Reasoning models: the thinking segment of each completion, recorded and summarised per model.

Scorers and the GRPO reward see only the answer; the thinking segment's length is recorded per
completion (``thinking_tokens``, ``thinking_closed``) and summarised per model (:func:`reasoning_summary`).
How a segment is split off (:func:`split_thinking`, :func:`markers_for`) is defined in :mod:`pluralstats.chat`,
shared with fine-tuning; those names are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pluralstats.chat import (  # noqa: F401 - re-exported: the evaluation's view of them
    DEFAULT_CLOSE,
    DEFAULT_OPEN,
    KNOWN_MARKERS,
    ThinkingMarkers,
    markers_for,
    parse_markers,
    split_thinking,
)


def split_completions(completions: pd.DataFrame, markers: ThinkingMarkers, tokenizer=None) -> pd.DataFrame:
    """Replace ``completion`` by its answer and add ``thinking_tokens`` (tokens of the segment with
    ``tokenizer``, else characters) and ``thinking_closed``."""
    parts = [split_thinking(t, markers.open, markers.close, opened=markers.opened) for t in completions.completion]
    thinking = [p[0] for p in parts]
    if tokenizer is not None:
        lengths = [len(ids) for ids in tokenizer(thinking, add_special_tokens=False)["input_ids"]] if thinking else []
    else:
        lengths = [len(t) for t in thinking]
    return completions.assign(completion=[p[1] for p in parts], thinking_tokens=lengths,
                              thinking_closed=[p[2] for p in parts])


def reasoning_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model: completions, share with a non-empty thinking segment, unclosed count and share, mean and median
    ``thinking_tokens``. Accepts completions or the long scores table (one row per completion counted);
    models generated without thinking markers are left out."""
    if "thinking_tokens" not in scores.columns:
        return pd.DataFrame(columns=["model", "completions", "with_thinking", "unclosed", "unclosed_share",
                                     "mean_thinking_tokens", "median_thinking_tokens"])
    keys = [k for k in ("model", "run", "prompt_id", "completion_id") if k in scores.columns]
    one = scores.drop_duplicates(keys) if keys else scores
    one = one[one.thinking_tokens.notna()]  # models without thinking markers have no trace to summarise
    if "model" not in one.columns:
        one = one.assign(model="model")
    grouped = one.groupby("model", sort=False)
    out = pd.DataFrame({
        "completions": grouped.size(),
        "with_thinking": grouped.thinking_tokens.apply(lambda s: float((s > 0).mean())),
        "unclosed": grouped.thinking_closed.apply(lambda s: int((~s.astype(bool)).sum())),
        "mean_thinking_tokens": grouped.thinking_tokens.mean(),
        "median_thinking_tokens": grouped.thinking_tokens.median(),
    })
    out.insert(3, "unclosed_share", out.unclosed / out.completions)
    return out.reset_index()


def reasoning_path(out: str | Path) -> Path:
    """Where the per-model thinking summary of an evaluation at ``out`` goes: ``<stem>.reasoning.csv``."""
    out = Path(out)
    return out.with_name(f"{out.name.removesuffix('.parquet')}.reasoning.csv")


def write_reasoning_summary(summary: pd.DataFrame, out: str | Path) -> Path:
    """Write the per-model summary next to an evaluation's ``results.parquet`` (``<stem>.reasoning.csv``)."""
    from pluralstats.io import atomic_path

    path = reasoning_path(out)
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index=False)
    return path
