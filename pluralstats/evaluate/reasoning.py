"""Reasoning models: split a completion's thinking segment from its final answer.

Scorers and the GRPO reward see only the answer; the thinking segment's length is recorded per
completion (``thinking_tokens``, ``thinking_closed``) and summarised per model (:func:`reasoning_summary`).

Rules of :func:`split_thinking` (exact), with markers ``open`` / ``close`` (default ``<think>`` / ``</think>``):

* ``open`` occurs before any ``close``: the thinking segment runs from after ``open`` to the first
  ``close`` after it; the answer is the text before ``open`` followed by the text after ``close``.
* ``close`` occurs with no ``open`` before it: the prompt opened the segment (chat templates that end
  the generation prompt with ``<think>``); the thinking segment is the text before ``close``.
* Neither occurs: no thinking segment (the answer is the whole text), unless ``opened`` says the
  prompt opened one, in which case the whole text is an unclosed thinking segment.
* A segment that never closes is **unclosed**: the answer is empty (``closed`` is False), so it is
  scored as an empty answer and counted as unclosed.

Answers and segments are stripped of surrounding whitespace. Only the first segment is split off.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

DEFAULT_OPEN, DEFAULT_CLOSE = "<think>", "</think>"
# marker pairs recognised in a chat template (first match wins)
KNOWN_MARKERS = (("<think>", "</think>"), ("<thinking>", "</thinking>"), ("<reasoning>", "</reasoning>"),
                 ("<|begin_of_thought|>", "<|end_of_thought|>"))


@dataclass(frozen=True)
class ThinkingMarkers:
    """The markers of a thinking segment and whether the generation prompt already opens one."""

    open: str = DEFAULT_OPEN
    close: str = DEFAULT_CLOSE
    opened: bool = False


def split_thinking(text: str, open: str = DEFAULT_OPEN, close: str = DEFAULT_CLOSE,  # noqa: A002
                   *, opened: bool = False) -> tuple[str, str, bool]:
    """``(thinking, answer, closed)`` of one completion; the rules are in the module docstring."""
    start, end = text.find(open), text.find(close)
    if start >= 0 and (end < 0 or start < end):
        end = text.find(close, start + len(open))
        if end < 0:
            return text[start + len(open):].strip(), "", False
        answer = (text[:start] + text[end + len(close):]).strip()
        return text[start + len(open):end].strip(), answer, True
    if end >= 0:
        return text[:end].strip(), text[end + len(close):].strip(), True
    if opened:
        return text.strip(), "", False
    return "", text.strip(), True


def parse_markers(spec: str) -> ThinkingMarkers | None:
    """``"off"`` -> None; ``"OPEN,CLOSE"`` -> those markers (``"auto"`` is resolved by :func:`markers_for`)."""
    from pluralstats.errors import InputError

    if spec == "off":
        return None
    open_, sep, close = spec.partition(",")
    if not sep or not open_.strip() or not close.strip():
        raise InputError(f"Thinking markers '{spec}' must be auto, off or OPEN,CLOSE (e.g. <think>,</think>)")
    return ThinkingMarkers(open_.strip(), close.strip())


def markers_for(tokenizer, spec: str = "auto") -> ThinkingMarkers | None:
    """The markers to split completions with: from the tokenizer's chat template (``"auto"``: a known pair
    that the template contains, else none), ``"off"``, or explicit ``"OPEN,CLOSE"``. ``opened`` is set when
    the rendered generation prompt ends with the open marker."""
    if spec == "auto":
        template = getattr(tokenizer, "chat_template", None) or ""
        found = next(((o, c) for o, c in KNOWN_MARKERS if o in template and c in template), None)
        if found is None:
            return None
        markers = ThinkingMarkers(*found)
    else:
        markers = parse_markers(spec)
        if markers is None:
            return None
    if getattr(tokenizer, "chat_template", None):
        from pluralstats.finetune.tiny import render

        opened = render(tokenizer, "x").rstrip().endswith(markers.open)
        markers = ThinkingMarkers(markers.open, markers.close, opened)
    return markers


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


def write_reasoning_summary(summary: pd.DataFrame, out: str | Path) -> Path:
    """Write the per-model summary next to an evaluation's ``results.parquet`` (``<stem>.reasoning.csv``)."""
    from pluralstats.io import atomic_path

    out = Path(out)
    path = out.with_name(f"{out.name.removesuffix('.parquet')}.reasoning.csv")
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index=False)
    return path
