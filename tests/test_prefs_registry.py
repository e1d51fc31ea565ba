"""The strategy registry: built-ins through entry points, a strategy added by registration alone, and the
names derived from it (schema, CLI, experiment configs)."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.prefs import build_preferences, load_preferences, write_preferences
from pluralstats.prefs.evidence import mean_labels
from pluralstats.prefs.strategy_registry import (
    Strategy,
    available_strategies,
    get_strategy,
    register_strategy,
    unregister_strategy,
)
from pluralstats.survey import load_survey

from .test_prefs_fixture import write_fixture

BUILT_IN = {"majority", "mean", "minority-veto", "posterior", "preserve"}


class WorstRatingFirst(Strategy):
    """A toy rule: prefer the response with the *lower* mean oriented rating (weight 1)."""

    name = "contrarian"
    help = "Chooses the worse response (a test of the registry)."
    unit_weight = True

    def item_scores(self, data, probs: np.ndarray) -> np.ndarray:
        return -mean_labels(probs)


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return load_survey(write_fixture(tmp_path_factory.mktemp("registry") / "bundle"))


@pytest.fixture
def contrarian():
    register_strategy(WorstRatingFirst)
    yield
    unregister_strategy("contrarian")


def test_built_ins_come_from_entry_points():
    assert BUILT_IN <= set(available_strategies())
    assert all(get_strategy(n).name == n and get_strategy(n).help for n in BUILT_IN)
    assert get_strategy("posterior").needs_posterior and get_strategy("posterior").pairings == ("across",)


def test_unknown_strategy_lists_the_installed_ones(survey):
    with pytest.raises(InputError, match="Unknown strategy 'nope'; use one of .*majority.*preserve"):
        build_preferences(survey, strategy="nope", eval_fraction=0.0)


def test_a_registered_strategy_builds_and_writes(survey, contrarian, tmp_path):
    assert "contrarian" in available_strategies()
    df, _ = build_preferences(survey, strategy="contrarian", eval_fraction=0.0)
    # mean oriented toxicity: A 4, B 4, C 3, D 2.5, E 2 -> the lower one is chosen; A ~ B tie
    got = set(zip(df.chosen_item_id, df.rejected_item_id, strict=True))
    assert got == {("C", "A"), ("C", "B"), ("E", "D")} and (df.weight == 1).all()
    out = write_preferences(df, tmp_path / "p.parquet")  # the schema takes the new name
    assert set(load_preferences(out).strategy) == {"contrarian"}


def test_cli_choices_come_from_the_registry():
    result = CliRunner().invoke(cli, ["prefs", "--help"])
    assert result.exit_code == 0
    for name in BUILT_IN:
        assert name in result.output
