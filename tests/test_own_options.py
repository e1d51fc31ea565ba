"""A strategy and a trainer that declare their own options, added from this module with no edit of the package:
the option reaches them through the API, the CLI (``prefs --set``; a generated ``finetune --KEY`` flag with its
help and default) and an experiment config (``[prefs]``, ``[train.<method>]``), down to one cell's run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.experiments.experiment_config import load_experiment
from pluralstats.experiments.shared import Shared
from pluralstats.finetune import TrainConfig
from pluralstats.finetune.plugin_registry import register_plugin, unregister_plugin
from pluralstats.options import option
from pluralstats.prefs import build_preferences
from pluralstats.prefs.evidence import mean_labels
from pluralstats.prefs.strategy_registry import Strategy, register_strategy, unregister_strategy
from pluralstats.survey import load_survey

from .test_prefs_fixture import write_fixture


@dataclass(frozen=True)
class MarginOptions:
    margin: float = option(0.0, "Smallest mean-rating difference that makes a pair.")


class MarginMean(Strategy):
    """The better mean rating, but only where the two means differ by more than ``margin``."""

    name = "margin-mean"
    help = "Mean ratings, pairs only beyond a margin (a test strategy)."
    unit_weight = True
    Options = MarginOptions

    def pair_scores(self, data, probs, a, b, mean_diff):
        score = mean_labels(probs)
        s_a, s_b = score[a], score[b]
        near = np.abs(s_a - s_b) <= data.options.margin  # a tie: no pair
        return np.where(near, 0.0, s_a), np.where(near, 0.0, s_b)

    def check_options(self, options, survey):
        if options.margin < 0:
            raise InputError(f"margin must be >= 0, got {options.margin}")


@dataclass
class ShoutConfig(TrainConfig):
    shout: int = option(3, "How loudly the test trainer records its run.")


class ShoutPlugin:
    """A trainer whose config has a field of its own; it records the config it was given."""

    name: ClassVar[str] = "shout-test"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[TrainConfig]] = ShoutConfig
    seen: ClassVar[list] = []

    def train(self, data, base_model, config, out_dir) -> Path:
        ShoutPlugin.seen.append(config)
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        pd.read_parquet(data) if isinstance(data, (str, Path)) else data  # the pairs it trains on are readable
        return Path(out_dir)


@pytest.fixture
def added():
    register_strategy(MarginMean)
    register_plugin(ShoutPlugin)
    yield
    unregister_strategy(MarginMean.name)
    unregister_plugin(ShoutPlugin.name)
    ShoutPlugin.seen.clear()


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return write_fixture(tmp_path_factory.mktemp("own") / "bundle")


def pairs(bundle: Path, **options) -> set[tuple[str, str]]:
    df, summary = build_preferences(load_survey(bundle), strategy="margin-mean", eval_fraction=0.0, **options)
    assert summary.options == {"margin": options.get("margin", 0.0)}
    return set(zip(df.chosen_item_id, df.rejected_item_id, strict=True))


def test_strategy_option_reaches_the_strategy_through_the_api(added, bundle):
    # mean oriented toxicity A 4, B 4, C 3, D 2.5, E 2: differences AC 1, BC 1, DE 0.5, AB 0
    assert pairs(bundle) == {("A", "C"), ("B", "C"), ("D", "E")}
    assert pairs(bundle, margin=0.75) == {("A", "C"), ("B", "C")}
    with pytest.raises(InputError, match="Strategy 'margin-mean' has no option 'veto_share'; its options: margin"):
        pairs(bundle, veto_share=0.5)
    with pytest.raises(InputError, match="margin must be >= 0"):
        pairs(bundle, margin=-1.0)


def test_strategy_option_through_prefs_set(added, bundle, tmp_path):
    out = tmp_path / "p.parquet"
    base = ["prefs", str(bundle), "--strategy", "margin-mean", "--eval-fraction", "0", "--out", str(out)]
    result = CliRunner().invoke(cli, [*base, "--set", "margin=0.75"])
    assert result.exit_code == 0, result.output
    assert len(pd.read_parquet(out)) == 2
    manifest = json.loads(out.with_name(out.name + ".manifest.json").read_text())
    assert manifest["options"]["margin"] == 0.75
    bad = CliRunner().invoke(cli, [*base, "--set", "margn=1"])
    assert bad.exit_code == 2 and "unknown key 'margn' for strategy margin-mean; valid keys: margin" in bad.output
    listed = CliRunner().invoke(cli, ["plugins", "--options", "margin-mean"])
    assert "Smallest mean-rating difference" in listed.output


def test_trainer_config_generates_finetune_options(added, ft_prefs_path, tmp_path):
    shown = CliRunner().invoke(cli, ["finetune", "--method", "shout-test", "--help"])
    assert shown.exit_code == 0
    assert "--shout INTEGER" in shown.output and "How loudly the test trainer records its run. [default: 3]" \
        in shown.output
    assert "--shout" not in CliRunner().invoke(cli, ["finetune", "--method", "dpo", "--help"]).output
    base = ["finetune", "--method", "shout-test", "--prefs", str(ft_prefs_path), "--model", "some/model"]
    result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "a"), "--shout", "5", "--lr", "0.01"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "b"), "--shout", "5", "--set", "shout=7"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert [(c.shout, c.learning_rate) for c in ShoutPlugin.seen] == [(5, 0.01), (7, 5e-5), (3, 5e-5)]
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["options"]["shout"] == 5


def test_both_through_an_experiment_config(added, bundle, tmp_path):
    from pluralstats.experiments.cell import train_cell

    text = f"""
name = "own"
seeds = [0]
[data]
bundle = "{bundle}"
[cell]
strategy = "margin-mean"
method = "shout-test"
[prefs]
margin = 0.75
[train.shout-test]
shout = 9
"""
    path = tmp_path / "exp.toml"
    path.write_text(text)
    config = load_experiment(path)
    cell = config.cells()[1]
    assert cell.params["prefs"] == {"margin": 0.75}
    assert config.train_options("shout-test") == {"shout": 9}
    survey = load_survey(bundle)
    split = pd.Series("train", index=pd.Index(sorted(survey.items.prompt_id.unique()), name="prompt_id"))
    shared = Shared(bundle=str(bundle), split="", base_model="some/model", rater="", posterior=None, scale_max=5,
                    signs={})
    _, info = train_cell(cell, shared, survey, split, tmp_path / "cell", config.train_options("shout-test"))
    assert info["pairs"] == 2 and ShoutPlugin.seen[-1].shout == 9
    for bad, message in (("[prefs]\nmargn = 1.0\n", "[prefs] unknown key 'margn' (did you mean 'margin'?)"),
                         ("[train.shout-test]\nshot = 1\n", "[train.shout-test] unknown key 'shot'")):
        path.write_text(text.replace("[prefs]\nmargin = 0.75\n", "").replace("[train.shout-test]\nshout = 9\n", "")
                        + bad)
        with pytest.raises(InputError) as err:
            load_experiment(path)
        assert any(message in str(p) for p in err.value.problems), err.value.problems
