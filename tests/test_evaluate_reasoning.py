"""Reasoning models: the thinking segment is split from the answer; scorers and the GRPO reward see the answer
only; trace lengths per completion and per model; unclosed segments are empty answers, counted."""

from __future__ import annotations

import pandas as pd
import pytest

from pluralstats.errors import InputError
from pluralstats.evaluate.reasoning import (
    ThinkingMarkers,
    markers_for,
    parse_markers,
    reasoning_summary,
    split_completions,
    split_thinking,
)


@pytest.mark.parametrize("text, expected", [
    ("<think>weigh it</think> Be kind.", ("weigh it", "Be kind.", True)),
    ("plain answer", ("", "plain answer", True)),
    ("<think>never ends", ("never ends", "", False)),
    ("opened by the prompt</think>Answer", ("opened by the prompt", "Answer", True)),
    ("Sure. <think>a</think> Yes <think>b</think>", ("a", "Sure.  Yes <think>b</think>", True)),
    ("<think></think>Only answer", ("", "Only answer", True)),
])
def test_split_thinking_hand_written(text, expected):
    assert split_thinking(text) == expected


def test_split_thinking_other_markers_and_prompt_opened():
    assert split_thinking("[[x]] y", "[[", "]]") == ("x", "y", True)
    assert split_thinking("still thinking", opened=True) == ("still thinking", "", False)
    assert split_thinking("no markers", opened=False) == ("", "no markers", True)
    assert parse_markers("<r>,</r>") == ThinkingMarkers("<r>", "</r>") and parse_markers("off") is None
    with pytest.raises(InputError, match="OPEN,CLOSE"):
        parse_markers("<r>")


def test_trace_lengths_and_summary_per_model():
    frame = pd.DataFrame({"model": ["a", "a", "a", "b"], "prompt_id": ["p1", "p1", "p2", "p1"],
                          "completion_id": [0, 1, 0, 0],
                          "completion": ["<think>abcd</think>ok", "<think>ab", "fine", "<think>xy</think>z"]})
    out = split_completions(frame, ThinkingMarkers())
    assert list(out.completion) == ["ok", "", "fine", "z"]
    assert list(out.thinking_tokens) == [4, 2, 0, 2] and list(out.thinking_closed) == [True, False, True, True]
    summary = reasoning_summary(out).set_index("model")
    assert summary.loc["a", "completions"] == 3 and summary.loc["a", "unclosed"] == 1
    assert summary.loc["a", "with_thinking"] == pytest.approx(2 / 3)
    assert summary.loc["a", "mean_thinking_tokens"] == pytest.approx(2.0)
    assert summary.loc["b", "unclosed"] == 0 and summary.loc["b", "median_thinking_tokens"] == 2


THINK_TEMPLATE = (
    "{% for m in messages %}"
    "{% if m['role'] == 'user' %}<|user|>{{ m['content'] }}"
    "{% elif m['role'] == 'assistant' %}<|assistant|><think></think>{{ m['content'] }}<|eos|>{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|><think>{% endif %}"
)


@pytest.fixture
def thinking_model(tiny_dir, tmp_path):
    """The tiny model with a chat template that opens a thinking segment in the generation prompt."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base_path, _ = tiny_dir
    tok = AutoTokenizer.from_pretrained(base_path)
    tok.chat_template = THINK_TEMPLATE
    AutoModelForCausalLM.from_pretrained(base_path).save_pretrained(tmp_path / "thinker")
    tok.save_pretrained(tmp_path / "thinker")
    return tmp_path / "thinker", tok


def test_markers_taken_from_the_chat_template(thinking_model, tiny_dir):
    from transformers import AutoTokenizer

    _, tok = thinking_model
    assert markers_for(tok) == ThinkingMarkers("<think>", "</think>", opened=True)
    assert markers_for(tok, "off") is None
    assert markers_for(AutoTokenizer.from_pretrained(tiny_dir[0])) is None  # the plain tiny template has none


def test_generation_with_a_thinking_template_scores_answers_only(thinking_model, ft_survey):
    from pluralstats.evaluate.generate import GenerationConfig, generate_completions
    from pluralstats.evaluate.scorers import score_completions

    path, _ = thinking_model
    prompts = ft_survey.items[["prompt_id", "prompt"]].drop_duplicates("prompt_id").head(3)
    gen = GenerationConfig(completions=2, max_new_tokens=12, batch_size=6)
    out = generate_completions(path, prompts, gen, seed=0)
    # the tiny model never writes </think>: every segment the template opened stays unclosed
    assert not out.thinking_closed.any() and (out.completion == "").all()
    assert (out.thinking_tokens > 0).all()

    class Recording:
        dimensions, scale_max, seen = ["toxicity"], 5, []

        def score(self, prompts, completions):
            Recording.seen += list(completions)
            return pd.DataFrame({"toxicity": [1.0] * len(completions)})

    scored = score_completions(Recording(), out)
    assert Recording.seen == [""] * 6 and "thinking_tokens" in scored.columns
    summary = reasoning_summary(scored.assign(model="thinker"))
    assert summary.loc[0, "unclosed"] == 6 and summary.loc[0, "unclosed_share"] == 1.0
    plain = generate_completions(path, prompts, GenerationConfig(completions=1, max_new_tokens=8, thinking="off"))
    assert "thinking_tokens" not in plain.columns and (plain.completion != "").any()


def test_grpo_reward_sees_the_answer_only():
    from pluralstats.finetune.grpo import reward_functions

    class LengthRater:  # utility = answer length, so the test can tell what the rater saw
        dimensions = ["toxicity"]

        def predict(self, prompts, completions, group=None):
            return pd.DataFrame({"toxicity": [float(len(c)) for c in completions]})

        def utility_from(self, pred, dim):
            return pred[dim]

    texts = ["<think>long reasoning here</think>ok", "<think>never closed", "plain"]
    (reward,), _ = reward_functions(LengthRater(), "toxicity", None, None, ThinkingMarkers())
    assert reward(["p"] * 3, texts) == [2.0, 0.0, 5.0]
    (raw,), _ = reward_functions(LengthRater(), "toxicity", None, None)
    assert raw(["p"] * 3, texts) == [float(len(t)) for t in texts]


@pytest.mark.slow  # about 2 min on 2 shared cores: rater fit and a short shift-model fit
def test_evaluate_command_summarises_thinking_per_model(thinking_model, tiny_dir, ft_survey, tmp_path):
    import json

    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.survey import save_survey

    path, _ = thinking_model
    bundle = save_survey(ft_survey, tmp_path / "bundle")
    out = tmp_path / "eval" / "results.parquet"
    args = ["evaluate", str(bundle), "--model", f"control={tiny_dir[0]}", "--model", f"thinker={path}",
            "--out", str(out), "--completions", "1", "--max-prompts", "4", "--max-new-tokens", "6",
            "--draws", "100", "--tune", "100", "--chains", "1", "--bootstrap", "0", "--allow-bad-diagnostics"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out.parent / "results.reasoning.csv")
    assert list(summary.model) == ["thinker"] and summary.unclosed[0] == 4  # the control has no markers
    scores = pd.read_parquet(out.parent / "results.scores.parquet")
    assert (scores[scores.model == "thinker"].completion == "").all()
    manifest = json.loads((out.parent / "results.parquet.manifest.json").read_text())
    assert manifest["reasoning"][0]["unclosed"] == 4
    bad = CliRunner().invoke(cli, [*args[:-1], "--thinking", "<think>"])
    assert bad.exit_code == 2 and "OPEN,CLOSE" in bad.output
