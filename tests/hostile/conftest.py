"""The hostile-input corpus: shared fixtures and the one assertion every case makes.

Every case runs a ``pluralstats`` command in-process on a bad input and checks, through :func:`run_bad`,
that it exits with the expected code, names the culprit, prints no traceback and no participant id,
and leaves every watched file exactly as it was. Surveys are tiny (60 simulated participants, where
``gender=non_binary`` has 2 raters) and the posterior is fitted once per session.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.survey import save_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey

SMALL = SimulationConfig(n_participants=60, prompts_per_language=6, responses_per_prompt=3,
                         prompts_per_participant=3)


@dataclass
class Result:
    exit_code: int
    output: str  # stdout and stderr together


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots`` (recursively) -> sha256 of its bytes; missing roots give nothing."""
    files: dict[str, str] = {}
    for root in roots:
        root = Path(root)
        paths = [root] if root.is_file() else (sorted(p for p in root.rglob("*") if p.is_file())
                                               if root.exists() else [])
        for p in paths:
            files[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


def run_cli(args: list[str], cwd: Path | None = None) -> Result:
    """Run ``pluralstats ARGS`` in-process (as the console script would) and capture everything it prints."""
    runner = CliRunner()
    if cwd is None:
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=True)
    else:
        with runner.isolated_filesystem(temp_dir=cwd):
            result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=True)
    output = result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        output += "\nTraceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception))
    return Result(result.exit_code, output)


@pytest.fixture(scope="session")
def participant_ids(hostile_survey_dir: Path) -> list[str]:
    text = (hostile_survey_dir / "participants.csv").read_text().splitlines()[1:]
    return [line.split(",")[0] for line in text]


def assert_clean(output: str, ids: list[str]) -> None:
    """No traceback and no participant id anywhere in what a command printed."""
    assert "Traceback" not in output, output
    found = [i for i in ids if re.search(rf"(?<![A-Za-z0-9]){re.escape(i)}(?![A-Za-z0-9])", output)]
    assert not found, f"participant ids printed: {found[:3]}\n{output}"


@pytest.fixture
def run_bad(participant_ids):
    """``run_bad(args, expect=2, names=[...], watch=[...])``: the whole contract of a hostile case.

    ``names``: substrings the message must contain (the culprit: file, column, option, value).
    ``watch``: files or folders that must be byte-identical afterwards (nothing destroyed or changed);
    ``absent``: paths that must not exist afterwards (nothing written).
    """

    def run(args, *, expect: int = 2, names=(), watch=(), absent=()) -> Result:
        before = snapshot(*watch)
        result = run_cli(list(args))
        assert result.exit_code == expect, f"exit {result.exit_code}, expected {expect}:\n{result.output}"
        assert_clean(result.output, participant_ids)
        for name in names:
            assert name.lower() in result.output.lower(), f"message does not name {name!r}:\n{result.output}"
        assert snapshot(*watch) == before, "a watched file was changed or removed"
        for path in absent:
            assert not Path(path).exists(), f"{path} was written"
        for root in watch:
            parent = Path(root).parent
            leftovers = [p.name for p in parent.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
            assert not leftovers, f"temporary files left behind: {leftovers}"
        return result

    return run


@pytest.fixture(scope="session")
def hostile_survey_dir(tmp_path_factory) -> Path:
    """A valid 60-participant simulated bundle (seed 1), written once; copy it before changing it."""
    folder = tmp_path_factory.mktemp("hostile") / "survey"
    save_survey(simulate_survey(SMALL, seed=1).survey, folder)
    return folder


@pytest.fixture
def survey_copy(hostile_survey_dir, tmp_path) -> Path:
    """A private copy of the valid bundle that a case may edit."""
    dest = tmp_path / "s"
    shutil.copytree(hostile_survey_dir, dest)
    return dest


@pytest.fixture(scope="session")
def hostile_posterior(hostile_survey_dir, tmp_path_factory) -> Path:
    """A small posterior of the bundle (toxicity only) that passes its diagnostics, fitted once per session."""
    from pluralstats.models import fit_survey, save_posterior
    from pluralstats.survey import load_survey

    survey = load_survey(hostile_survey_dir)
    idata = fit_survey(survey, dimensions=["toxicity"], draws=1000, tune=1000, seed=1, progress=False)
    return save_posterior(idata, tmp_path_factory.mktemp("hostile-post") / "post.nc")


@pytest.fixture
def posterior_copy(hostile_posterior, tmp_path) -> Path:
    dest = tmp_path / "post.nc"
    shutil.copy(hostile_posterior, dest)
    return dest
