"""Shared fixtures: a tiny valid survey bundle written to disk, the paper-scale simulation (cached)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

try:  # the fine-tuning fixtures need the [finetune] extra
    import torch  # noqa: F401
    import trl  # noqa: F401
except ImportError:  # pragma: no cover - the core install without the extra
    pytest_plugins: list[str] = []
else:
    pytest_plugins = ["tests.finetune_fixtures"]

REPO = Path(__file__).resolve().parents[1]
POPQUORN = REPO.parent / "shared" / "data" / "real" / "popquorn_offensiveness.csv"

TINY_TOML = """name = "tiny"
scale_max = 5
min_group_size = 2

[dimensions.toxicity]
polarity = "lower_is_better"
positive_threshold = 4

[dimensions.helpfulness]
polarity = "higher_is_better"
positive_threshold = 4

[attributes]
gender = "female"
"""

TINY_PARTICIPANTS = "participant_id,gender,country\np1,female,us\np2,male,us\np3,female,de\np4,male,de\n"
TINY_ITEMS = (
    "item_id,prompt_id,prompt,response,language,source_model\n"
    "a1,a,Hi?,Hello there.,en,m\n"
    "a2,a,Hi?,Go away idiot.,en,m\n"
    "b1,b,Help?,Try this first.,en,m\n"
    "b2,b,Help?,No idea.,en,m\n"
)
# (participant, item): (toxicity, helpfulness)
TINY_JUDGEMENTS = {
    ("p1", "a1"): (1, 4), ("p1", "a2"): (5, 2), ("p2", "a1"): (2, 5), ("p2", "a2"): (4, 4),
    ("p3", "b1"): (1, 5), ("p3", "b2"): (3, 1), ("p4", "b1"): (4, 4), ("p4", "b2"): (2, 2),
}


def tiny_ratings_csv() -> str:
    rows = ["participant_id,item_id,dimension,rating"]
    for (p, i), (tox, helpful) in TINY_JUDGEMENTS.items():
        rows += [f"{p},{i},toxicity,{tox}", f"{p},{i},helpfulness,{helpful}"]
    return "\n".join(rows) + "\n"


def write_bundle(folder: Path, **overrides: str) -> Path:
    """Write the tiny bundle; ``overrides`` replace a file's text (``ratings="..."``)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {"survey.toml": TINY_TOML, "participants.csv": TINY_PARTICIPANTS, "items.csv": TINY_ITEMS,
             "ratings.csv": tiny_ratings_csv()}
    for key, text in overrides.items():
        files[f"{key}.csv" if key != "survey" else "survey.toml"] = text
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "tiny")


@pytest.fixture(scope="session")
def paper_survey():
    """The paper-scale simulated survey (1,095 participants), built once per test session."""
    from pluralstats.survey.simulate import simulate_survey

    return simulate_survey(seed=0)
