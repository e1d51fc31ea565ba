"""Chat rendering and thinking segments: what training, generation and rewards must agree on.

Fine-tuning renders (prompt, response) pairs with :func:`render`, generation renders prompts the same way,
and both the GRPO reward and the scorers see only a completion's final answer (:func:`split_thinking`).
This module sits below :mod:`pluralstats.finetune` and :mod:`pluralstats.evaluate` so that neither
imports the other for it.

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

from pluralstats.errors import InputError

DEFAULT_OPEN, DEFAULT_CLOSE = "<think>", "</think>"
# marker pairs recognised in a chat template (first match wins)
KNOWN_MARKERS = (("<think>", "</think>"), ("<thinking>", "</thinking>"), ("<reasoning>", "</reasoning>"),
                 ("<|begin_of_thought|>", "<|end_of_thought|>"))


def render(tokenizer, prompt: str, response: str | None = None) -> str:
    """Render a prompt (and response) with the tokenizer's chat template, or plainly if it has none."""
    messages = [{"role": "user", "content": prompt}]
    if response is not None:
        messages.append({"role": "assistant", "content": response})
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=response is None)
    return prompt + "\n" + (response + (tokenizer.eos_token or "") if response is not None else "")


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
        opened = render(tokenizer, "x").rstrip().endswith(markers.open)
        markers = ThinkingMarkers(markers.open, markers.close, opened)
    return markers
