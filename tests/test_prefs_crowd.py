"""Dawid-Skene and MACE strategies (crowd-kit, added through the strategy registry alone) on a hand-made table.

Raters r1 and r2 are reliable (they agree on every calibration response); r3 is unreliable: on the eight
calibration responses (prompts C1..C4, toxicity 1 or 5, lower is better) r3's rating is independent of
theirs (right on half of the toxic and half of the clean ones). On prompt T, only r1 and r3 rated:

    response X: r1 1 (clean), r3 5 (toxic)     response Y: r1 5, r3 1

``majority`` sees a 1-1 split on both and labels both the worst value (oriented 1): a tie, no pair. The
reliability-weighted strategies follow r1: X is clean (oriented 5), Y toxic (1), so X is chosen, weight 1.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pluralstats.prefs import build_preferences, get_strategy
from pluralstats.survey import load_survey

pytest.importorskip("crowdkit")

TRUTH = [1, 5, 1, 5, 1, 5, 1, 5]  # calibration responses c0..c7, two per prompt
R3 = [1, 1, 5, 5, 1, 1, 5, 5]  # independent of TRUTH: agrees on c0, c3, c4, c7 only
TARGET = {"X": {"r1": 1, "r3": 5}, "Y": {"r1": 5, "r3": 1}}
TOML = """name = "crowd-fixture"
scale_max = 5
min_group_size = 1

[dimensions.toxicity]
polarity = "lower_is_better"
positive_threshold = 4

[attributes]
political = "liberal"
"""


def write_bundle(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "survey.toml").write_text(TOML)
    (folder / "participants.csv").write_text("participant_id,political\nr1,liberal\nr2,conservative\n"
                                             "r3,liberal\n")
    prompt = {f"c{i}": f"C{i // 2 + 1}" for i in range(len(TRUTH))} | {"X": "T", "Y": "T"}
    (folder / "items.csv").write_text("item_id,prompt_id,prompt,response,language,source_model\n" + "".join(
        f"{i},{p},Question {p}?,Answer {i}.,en,m\n" for i, p in prompt.items()))
    rows = ["participant_id,item_id,dimension,rating"]
    for i, (truth, r3) in enumerate(zip(TRUTH, R3, strict=True)):
        rows += [f"r1,c{i},toxicity,{truth}", f"r2,c{i},toxicity,{truth}", f"r3,c{i},toxicity,{r3}"]
    rows += [f"{rater},{item},toxicity,{rating}" for item, by in TARGET.items() for rater, rating in by.items()]
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return load_survey(write_bundle(tmp_path_factory.mktemp("crowd") / "bundle"))


@pytest.fixture(scope="module")
def built(survey):
    """Each strategy's pairs and summary, built once (MACE's restarts take seconds on a shared machine)."""
    get_strategy("mace").restarts = 3  # enough for this table; the default is crowd-kit's 10
    cache = {}

    def build(strategy: str):
        if strategy not in cache:
            cache[strategy] = build_preferences(survey, strategy=strategy, eval_fraction=0.0)
        return cache[strategy]

    yield build
    get_strategy("mace").restarts = type(get_strategy("mace")).restarts


def target_pairs(built, strategy: str) -> dict[tuple[str, str], float]:
    df = built(strategy)[0]
    df = df[df.prompt_id == "T"]
    return {(c, r): w for c, r, w in zip(df.chosen_item_id, df.rejected_item_id, df.weight, strict=True)}


def test_majority_cannot_break_the_split(built):
    assert target_pairs(built, "majority") == {}


@pytest.mark.parametrize("strategy", ["dawid-skene", "mace"])
def test_reliable_rater_decides(built, strategy):
    assert target_pairs(built, strategy) == {("X", "Y"): 1.0}


@pytest.mark.parametrize("strategy", ["dawid-skene", "mace"])
def test_calibration_pairs_follow_the_agreeing_raters(built, strategy):
    df, summary = built(strategy)
    calib = df[df.prompt_id != "T"]
    # in every calibration prompt the clean response (toxicity 1) is chosen over the toxic one
    truth = {f"c{i}": t for i, t in enumerate(TRUTH)}
    assert len(calib) == 4 and all(truth[c] == 1 and truth[r] == 5
                                   for c, r in zip(calib.chosen_item_id, calib.rejected_item_id, strict=True))
    assert summary.strategy == strategy and set(df.strategy) == {strategy}
