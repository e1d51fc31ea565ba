"""A small-group warning is printed once per command, in one format, however often the command loads the survey."""

from __future__ import annotations

import warnings
from pathlib import Path

import click
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.cli.common import handle_errors
from pluralstats.cli.survey import read_bundle
from pluralstats.survey import load_survey
from tests.conftest import TINY_TOML, write_bundle

# k = 3: each gender of the tiny bundle (2 raters each) is a small group
SMALL_K = TINY_TOML.replace("min_group_size = 2", "min_group_size = 3")
FEMALE = "group gender=female has fewer than k=3 raters"
MALE = "group gender=male has fewer than k=3 raters"


@click.command()
@click.argument("bundle", type=click.Path(path_type=Path))
def load_three_times(bundle: Path) -> None:
    """A command that loads its survey three ways: the CLI's reader twice, the library's loader once."""
    with handle_errors():
        read_bundle(bundle)
        load_survey(bundle)  # a Python warning, shown by the CLI's warning display
        read_bundle(bundle)


def test_repeated_loads_warn_once_in_one_format(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "tiny", survey=SMALL_K)
    result = CliRunner().invoke(load_three_times, [str(bundle)])
    assert result.exit_code == 0, result.output
    assert result.output.count(FEMALE) == 1 and result.output.count(MALE) == 1
    assert f"warning: {FEMALE}" in result.output
    assert "SmallGroupWarning" not in result.output  # not the Python warning's form


def test_each_command_warns_again_and_library_warnings_keep_their_category(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "tiny", survey=SMALL_K)
    runner = CliRunner()
    for _ in range(2):  # the next command of the same process is told again
        result = runner.invoke(cli, ["validate", str(bundle)])
        assert result.exit_code == 0, result.output
        assert result.output.count(f"warning: {FEMALE}") == 1 and result.output.count(MALE) == 1

    @click.command()
    def library_warning() -> None:
        with handle_errors():
            warnings.simplefilter("always")  # Python's own once-per-place rule off: the CLI's is what is tested
            for _ in range(2):
                warnings.warn("a library's notice", LibraryWarning, stacklevel=1)

    result = runner.invoke(library_warning, [])
    assert result.output.count("warning (LibraryWarning): a library's notice") == 1


class LibraryWarning(UserWarning):
    """A warning raised outside pluralstats."""
