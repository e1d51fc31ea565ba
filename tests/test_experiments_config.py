"""Experiment configs expand into the right cells; the shipped configs load; bad configs are rejected."""

from __future__ import annotations

from pathlib import Path

import pytest

from pluralstats.errors import InputError
from pluralstats.experiments.experiment_config import load_experiment

ANALYSES = Path(__file__).resolve().parents[1] / "analyses" / "experiments"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text(text)
    return path


BASE = """
name = "t"
seeds = [0, 1]
[data]
simulate = { participants = 50 }
"""


def test_grid_product_with_seeds_and_controls(tmp_path):
    grid = '[grid]\nmethod = ["dpo", "grpo"]\nobjective = ["toxicity", "multi"]\n'
    cfg = load_experiment(write(tmp_path, BASE + grid))
    cells = cfg.cells()
    assert [c.label for c in cells[:2]] == ["control", "control"]
    tuned = cells[2:]
    assert len(tuned) == 2 * 2 * 2
    assert {c.label for c in tuned} == {"dpo/toxicity", "dpo/multi", "grpo/toxicity", "grpo/multi"}
    cell = next(c for c in tuned if c.label == "grpo/multi" and c.seed == 1)
    assert cell.params["method"] == "grpo" and cell.params["objective"] == "multi"
    assert cell.params["strategy"] == "majority"  # default of an unset cell key
    assert cell.key == "grpo_multi/seed-1"


def test_group_labels_use_level_names(tmp_path):
    cfg = load_experiment(write(tmp_path, BASE + '[grid]\ngroups = [["political=liberal"], ["gender=male"]]\n'))
    assert [label for label, _ in cfg.conditions()] == ["liberal", "male"]


@pytest.mark.parametrize("extra, message", [
    ('[grid]\nflavour = ["a"]\n', "unknown cell setting"),
    ('[grid]\nscale = []\n', "non-empty list"),
])
def test_bad_configs_rejected(tmp_path, extra, message):
    with pytest.raises(InputError, match=message):
        load_experiment(write(tmp_path, BASE + extra))


def test_unknown_top_level_key_rejected(tmp_path):
    with pytest.raises(InputError, match="unknown key"):
        load_experiment(write(tmp_path, "bogus = 1\n" + BASE))


def test_data_needs_exactly_one_source(tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        load_experiment(write(tmp_path, 'name = "t"\n[data]\n'))


def test_shipped_configs_are_the_four_experiments():
    configs = {p.stem: load_experiment(p) for p in ANALYSES.glob("*.toml")}
    assert {"demographic", "scale", "disagreement", "optimizer"} <= set(configs)
    assert [c.figure for c in (configs[n] for n in ("demographic", "scale", "disagreement", "optimizer"))] \
        == [2, 3, 4, 5]
    assert [label for label, _ in configs["scale"].conditions()] == ["5", "3", "2"]
    assert {label for label, _ in configs["disagreement"].conditions()} == {
        "majority", "preserve", "mean", "minority-veto", "posterior"}
    assert len(configs["optimizer"].conditions()) == 9  # dpo, grpo, kto x two single objectives and multi
    assert all(len(c.seeds) >= 2 for c in configs.values())


def test_simulated_disagreement_names_simulated_attributes_and_is_planted(tmp_path):
    import json

    from pluralstats.experiments.shared import simulate_bundle

    bad = BASE.replace("participants = 50", 'participants = 50, disagreement = 0.5, '
                       'disagreement_attributes = ["politics"]')
    with pytest.raises(InputError, match="unknown politics; valid: .*political"):
        load_experiment(write(tmp_path, bad))
    cfg = load_experiment(write(tmp_path, BASE.replace(
        "participants = 50", 'participants = 40, prompts_per_language = 5, disagreement = 0.7, '
        'disagreement_attributes = ["political"]')))
    out = simulate_bundle(tmp_path / "survey", cfg.data["simulate"])
    truth = json.loads((out / "truth.json").read_text())
    assert set(truth["tau"]) == {"political"} and truth["tau"]["political"]["toxicity"] == 0.7
