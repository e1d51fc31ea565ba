"""Every bad-input case is rejected with its file, column and row named; the CLI exits 2, writes nothing."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import ValidationError
from pluralstats.survey import SmallGroupWarning, load_survey
from tests.conftest import POPQUORN, REPO, TINY_TOML, tiny_ratings_csv, write_bundle


def problems_of(folder: Path) -> list:
    with pytest.raises(ValidationError) as info:
        load_survey(folder)
    return info.value.problems


def test_valid_bundle_loads(tiny_bundle):
    survey = load_survey(tiny_bundle)
    assert len(survey.ratings) == 16
    assert survey.ratings.rating.dtype == "int64"
    assert survey.dimensions == ["toxicity", "helpfulness"]
    assert survey.resolve_level("male") == ("gender", "male")
    assert survey.resolve_level("gender=female") == ("gender", "female")
    assert survey.attributes == ["gender"]  # country is a column but not a declared attribute


def test_missing_file(tmp_path):
    folder = write_bundle(tmp_path / "b")
    (folder / "items.csv").unlink()
    [problem] = problems_of(folder)
    assert problem.file.endswith("items.csv") and "not found" in problem.message


def test_missing_column(tmp_path):
    ratings = tiny_ratings_csv().replace("participant_id,item_id,dimension,rating",
                                         "participant_id,item_id,dimension,score")
    [problem] = problems_of(write_bundle(tmp_path / "b", ratings=ratings))
    assert problem.column == "rating" and "missing" in problem.message and problem.file.endswith("ratings.csv")


@pytest.mark.parametrize("bad", ["7", "0", "2.5", "high"])
def test_rating_out_of_range_or_not_integer(tmp_path, bad):
    lines = tiny_ratings_csv().splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + f",{bad}"  # data row 3
    problems = problems_of(write_bundle(tmp_path / "b", ratings="\n".join(lines) + "\n"))
    assert [(p.column, p.row, str(p.value)) for p in problems] == [("rating", 3, bad)]
    assert "integer in 1..5" in str(problems[0])


def test_unknown_dimension(tmp_path):
    ratings = tiny_ratings_csv() + "p1,b1,sarcasm,3\n"
    [problem] = problems_of(write_bundle(tmp_path / "b", ratings=ratings))
    assert (problem.column, problem.row, problem.value) == ("dimension", 17, "sarcasm")


def test_unknown_participant_and_item(tmp_path):
    ratings = tiny_ratings_csv() + "p9,a1,toxicity,3\np1,zz,toxicity,3\n"
    problems = problems_of(write_bundle(tmp_path / "b", ratings=ratings))
    found = {(p.column, p.row) for p in problems}
    assert found == {("participant_id", 17), ("item_id", 18)}
    assert all("unknown" in p.message for p in problems)
    assert "p9" not in str(ValidationError("x", problems))  # participant ids are never printed


def test_duplicate_rating(tmp_path):
    ratings = tiny_ratings_csv() + "p1,a1,toxicity,2\n"
    problems = problems_of(write_bundle(tmp_path / "b", ratings=ratings))
    assert {p.row for p in problems} == {17}
    assert all("duplicate" in p.message for p in problems)


@pytest.mark.parametrize("text", ["", "participant_id,item_id,dimension,rating\n"])
def test_empty_file(tmp_path, text):
    [problem] = problems_of(write_bundle(tmp_path / "b", ratings=text))
    assert problem.file.endswith("ratings.csv")
    assert "empty" in problem.message or "no rows" in problem.message


def test_participant_without_demographics(tmp_path):
    participants = "participant_id,gender,country\np1,female,us\np2,,us\np3,female,de\np4,male,de\n"
    [problem] = problems_of(write_bundle(tmp_path / "b", participants=participants))
    assert (problem.column, problem.row, problem.message) == ("gender", 2, "missing value")


def test_unknown_reference_level(tmp_path):
    [problem] = problems_of(write_bundle(tmp_path / "b", survey=TINY_TOML.replace('"female"', '"woman"')))
    assert problem.column == "gender" and "reference level 'woman'" in problem.message


def test_all_problems_listed_at_once(tmp_path):
    ratings = tiny_ratings_csv() + "p1,b1,sarcasm,3\np2,b1,toxicity,9\n"
    participants = "participant_id,gender,country\np1,female,us\np2,,us\np3,female,de\np4,male,de\n"
    problems = problems_of(write_bundle(tmp_path / "b", ratings=ratings, participants=participants))
    assert {(Path(p.file).name, p.column) for p in problems} == {
        ("ratings.csv", "dimension"), ("ratings.csv", "rating"), ("participants.csv", "gender")}


def test_cross_table_checks_run_beside_column_checks(tmp_path):
    ratings = tiny_ratings_csv() + "p9,a1,toxicity,3\np1,b1,toxicity,8\n"
    problems = problems_of(write_bundle(tmp_path / "b", ratings=ratings))
    assert {(p.column, p.row) for p in problems} == {("participant_id", 17), ("rating", 18)}


def test_corrupt_parquet(tmp_path):
    folder = write_bundle(tmp_path / "b", survey=TINY_TOML + '\n[files]\nratings = "ratings.parquet"\n')
    (folder / "ratings.parquet").write_bytes(b"PAR1 this is not parquet")
    [problem] = problems_of(folder)
    assert problem.file.endswith("ratings.parquet") and "cannot be read" in problem.message


def test_parquet_bundle_loads(tmp_path, tiny_bundle):
    import pandas as pd

    folder = write_bundle(tmp_path / "b", survey=TINY_TOML + '\n[files]\nratings = "ratings.parquet"\n')
    pd.read_csv(tiny_bundle / "ratings.csv").to_parquet(folder / "ratings.parquet")
    assert len(load_survey(folder).ratings) == 16


def test_small_group_warning_not_error(tmp_path):
    folder = write_bundle(tmp_path / "b", survey=TINY_TOML.replace("min_group_size = 2", "min_group_size = 3"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        survey = load_survey(folder)
    messages = [str(w.message) for w in caught if issubclass(w.category, SmallGroupWarning)]
    assert len(messages) == 2  # gender female and male each have 2 raters < 3
    assert survey.warnings == messages
    with pytest.raises(ValidationError):
        load_survey(folder, strict=True)


def test_wide_layout_mapping(tmp_path):
    raw = "rater,resp,text,tox,help,sex\np1,a1,Hello,1,4,female\np2,a1,Hello,2,5,male\np2,a2,Bad,5,1,male\n"
    (tmp_path / "raw.csv").write_text(raw)
    (tmp_path / "survey.toml").write_text(
        'scale_max = 5\nmin_group_size = 1\n[dimensions]\ntoxicity = "lower_is_better"\n'
        'helpfulness = "higher_is_better"\n[attributes]\ngender = "female"\n'
        '[mapping]\nsource = "raw.csv"\nlayout = "wide"\nparticipant_id = "rater"\nitem_id = "resp"\n'
        'rating_columns = { toxicity = "tox", helpfulness = "help" }\n'
        'participant_columns = { gender = "sex" }\nitem_columns = { response = "text" }\n')
    survey = load_survey(tmp_path)
    assert len(survey.ratings) == 6 and len(survey.participants) == 2 and len(survey.items) == 2
    assert survey.ratings.query("item_id == 'a2' and dimension == 'toxicity'").rating.item() == 5


def test_cli_exit_2_and_nothing_written(tmp_path):
    folder = write_bundle(tmp_path / "b", ratings=tiny_ratings_csv() + "p1,a1,toxicity,3\n")
    out = tmp_path / "described"
    result = CliRunner().invoke(cli, ["describe", str(folder), "--out", str(out)])
    assert result.exit_code == 2
    assert "ratings.csv" in result.output and "row 17" in result.output
    assert not out.exists() and not list(tmp_path.glob(".described*"))


def test_cli_unknown_group_lists_levels(tiny_bundle):
    from pluralstats.errors import InputError

    survey = load_survey(tiny_bundle)
    with pytest.raises(InputError, match="Known levels: gender: female, male"):
        survey.resolve_level("liberal")


@pytest.mark.skipif(not POPQUORN.exists(), reason="the POPQUORN export beside the repository is absent")
def test_popquorn_loads_through_mapping():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        survey = load_survey(REPO / "analyses" / "popquorn" / "survey.toml", allow_outside_paths=True)
    assert survey.dimensions == ["offensiveness"]
    assert len(survey.ratings) == 13036
    assert survey.ratings.participant_id.nunique() == 262
    assert survey.items.item_id.nunique() == 1500
    assert set(survey.ratings.rating.unique()) <= {1, 2, 3, 4, 5}
    assert any("Arab American" in w for w in survey.warnings)
