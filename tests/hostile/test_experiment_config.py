"""Hostile experiment configs: every section refuses unknown keys (suggesting the nearest valid one) and
wrong types, and the whole config is checked before anything is built or run."""

from __future__ import annotations

from pathlib import Path

import pytest

BASE = 'name = "t"\nseeds = [0, 1]\n[data]\nsimulate = { participants = 50 }\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("section, names", [
    ("[train]\nmax_stpes = 2\n", ["[train]", "max_stpes", "did you mean 'max_steps'"]),
    ("[evaluate]\ncompletion = 1\n", ["[evaluate]", "completion", "did you mean 'completions'"]),
    ("[base_model]\nstep = 3\n", ["[base_model]", "'step'", "did you mean 'steps'"]),
    ("[survey_model]\ndraw = 10\n", ["[survey_model]", "'draw'", "did you mean 'draws'"]),
    ("[cell]\nstrateg = 'mean'\n", ["[cell]", "strateg", "did you mean 'strategy'"]),
    ("[grid]\nscales = [5, 3]\n", ["[grid]", "scales", "did you mean 'scale'"]),
    ("[data]\neval_frac = 0.3\n".replace("[data]\n", ""), ["unknown key", "eval_frac"]),
])
def test_unknown_key_in_every_section_suggests_the_nearest(tmp_path, run_bad, section, names):
    text = BASE + section if not section.startswith("eval_frac") else BASE.replace(
        "[data]\n", "[data]\neval_frac = 0.3\n")
    out = tmp_path / "run"
    run_bad(["experiment", "run", write(tmp_path, text), "--out", out], names=["exp.toml", *names], absent=[out])


def test_unknown_key_in_simulate_settings(tmp_path, run_bad):
    text = BASE.replace("participants = 50", "participants = 50, prompt_per_language = 4")
    run_bad(["experiment", "run", write(tmp_path, text), "--out", tmp_path / "run"],
            names=["data.simulate", "prompt_per_language", "did you mean 'prompts_per_language'"],
            absent=[tmp_path / "run"])


@pytest.mark.parametrize("text, names", [
    (BASE.replace("seeds = [0, 1]", 'seeds = "zero"'), ["seeds", "'zero'"]),
    (BASE.replace("seeds = [0, 1]", "seeds = [0, 1.5]"), ["seeds", "1.5"]),
    (BASE + "[train]\nmax_steps = \"2\"\n", ["[train]", "max_steps", "'2'"]),
    (BASE + "[train]\nlearning_rate = true\n", ["[train]", "learning_rate"]),
    (BASE + "[evaluate]\ncompletions = 1.5\n", ["[evaluate]", "completions", "1.5"]),
    (BASE + "[cell]\ngroups = \"political=liberal\"\n", ["[cell]", "groups"]),
    (BASE + "compare = [[\"liberal\"]]\n".replace("compare", "figure = 2\ncompare"), ["compare"]),
    (BASE.replace("[data]", "figure = \"two\"\n[data]"), ["figure", "'two'"]),
])
def test_wrong_types_are_refused(tmp_path, run_bad, text, names):
    run_bad(["experiment", "run", write(tmp_path, text), "--out", tmp_path / "run"], names=["exp.toml", *names],
            absent=[tmp_path / "run"])


@pytest.mark.parametrize("extra, names", [
    ('[cell]\nmethod = "ppo"\n', ["[cell]", "method", "'ppo'", "dpo"]),
    ('[grid]\nstrategy = ["majority", "presrve"]\n', ["grid.strategy[1]", "'presrve'", "preserve"]),
    ('[grid]\nmethod = ["dpo", "ppo"]\n', ["grid.method[1]", "'ppo'"]),
    ('[cell]\nscale = 4\n', ["[cell]", "scale", "4"]),
    ('[cell]\nobjective = "toxicty"\n', ["toxicty", "did you mean 'toxicity'"]),
    ('[cell]\nobjective = "multi"\nweights = { toxicity = 1, empathy = 1 }\n', ["empathy"]),
])
def test_bad_cell_settings_refused_before_anything_is_built(tmp_path, run_bad, extra, names):
    out = tmp_path / "run"
    run_bad(["experiment", "run", write(tmp_path, BASE + extra), "--out", out], names=names, absent=[out])


@pytest.mark.parametrize("simulate, names", [
    ("participants = 1", ["data.simulate", "participants", "1"]),
    ("participants = 50, prompts_per_participant = 9, prompts_per_language = 3",
     ["data.simulate", "prompts_per_participant cannot exceed prompts_per_language"]),
    ("participants = 50, responses_per_prompt = 1", ["data.simulate", "responses_per_prompt"]),
    ("participants = 50, interactions = 5.0", ["data.simulate", "interactions"]),
])
def test_simulate_settings_the_simulate_command_refuses(tmp_path, run_bad, simulate, names):
    text = BASE.replace("participants = 50", simulate)
    out = tmp_path / "run"
    run_bad(["experiment", "run", write(tmp_path, text), "--out", out], names=names, absent=[out])


def test_all_problems_reported_at_once(tmp_path, run_bad):
    text = BASE.replace("seeds = [0, 1]", 'seeds = "zero"') + "[train]\nmax_stpes = 2\n[cell]\nmethod = \"ppo\"\n"
    result = run_bad(["experiment", "run", write(tmp_path, text), "--out", tmp_path / "run"],
                     names=["seeds", "max_stpes", "ppo"])
    assert "3 problems" in result.output


def test_shipped_configs_pass_the_checks():
    from pluralstats.experiments.experiment_config import load_experiment

    for path in (Path(__file__).resolve().parents[2] / "analyses" / "experiments").glob("*.toml"):
        assert load_experiment(path).cells()


def test_impossible_simulated_design_is_refused_before_any_artifact(tmp_path, run_bad):
    # the simulation is the first shared step: its refusal comes before a base model, rater or cell is built
    text = BASE.replace("participants = 50", "participants = 20, prompts_per_language = 5")
    out = tmp_path / "run"
    run_bad(["experiment", "run", write(tmp_path, text), "--out", out], names=["impossible design"],
            absent=[out / "survey" / "survey.toml", out / "base-model", out / "cells"])


@pytest.mark.parametrize("section, key", [
    ("[evaluate]\nscorer = 'judge'\n", "scorer"),
    ("[cell]\nmethod = 'grpo'\n[train]\nreward_scorer = 'judge'\n", "reward_scorer"),
])
def test_unknown_scorer_names_the_installed_ones(tmp_path, run_bad, section, key):
    out = tmp_path / "run"
    run_bad(["experiment", "run", write(tmp_path, BASE + section), "--out", out],
            names=["exp.toml", key, "'judge'", "installed scorers", "rater"], absent=[out])
