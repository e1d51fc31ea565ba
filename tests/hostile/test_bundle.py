"""Hostile survey bundles: every bad input exits 2 naming its file (column, row, key), never with a traceback,
a participant id, a megabyte of echoed value or a foreign file's contents."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from pluralstats.errors import InputError, Problem, ValidationError
from pluralstats.survey import load_survey

from .conftest import run_cli

SECRET = "root:x:0:0:secret-line:/root:/bin/bash"  # stands for a foreign file's first line

MAPPED_TOML = """name = "raw"
scale_max = 5
min_group_size = 1

[dimensions]
toxicity = "lower_is_better"
helpfulness = "higher_is_better"

[attributes]
gender = "female"

[mapping]
source = "raw.csv"
participant_id = "worker"
item_id = "item"
rating = "score"
dimension = "quality"
participant_columns = { gender = "sex" }
item_columns = { response = "text" }
"""


def set_toml(folder: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must occur) by ``new`` in the bundle's survey.toml."""
    path = folder / "survey.toml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def add_top_level(folder: Path, line: str) -> None:
    """Put ``line`` among survey.toml's top-level keys (before the first table)."""
    set_toml(folder, "[files]", f"{line}\n\n[files]")


def raw_export(folder: Path) -> pd.DataFrame:
    """Turn the bundle in ``folder`` into a raw long export (raw.csv, demographics and texts repeated on each
    row) read through ``MAPPED_TOML``; return the export."""
    ratings = pd.read_csv(folder / "ratings.csv", dtype=str)
    ratings = ratings[ratings.dimension.isin(["toxicity", "helpfulness"])]
    people = pd.read_csv(folder / "participants.csv", dtype=str)[["participant_id", "gender"]]
    items = pd.read_csv(folder / "items.csv", dtype=str)[["item_id", "response"]]
    raw = ratings.merge(people, on="participant_id").merge(items, on="item_id")
    raw = raw.rename(columns={"participant_id": "worker", "item_id": "item", "rating": "score",
                              "dimension": "quality", "gender": "sex", "response": "text"}).reset_index(drop=True)
    raw.to_csv(folder / "raw.csv", index=False)
    (folder / "survey.toml").write_text(MAPPED_TOML)
    return raw


def validate(run_bad, folder: Path, *names: str, extra: tuple[str, ...] = (), absent_text: tuple[str, ...] = ()):
    """``pluralstats validate FOLDER`` must exit 2 naming ``names`` and leave the bundle as it was."""
    result = run_bad(["validate", folder, *extra], names=names, watch=[folder])
    for text in absent_text:
        assert text not in result.output, result.output
    return result


def edit_line(path: Path, number: int, change) -> None:
    """Apply ``change`` to line ``number`` (0 = the header) of a text file."""
    lines = path.read_text().splitlines()
    lines[number] = change(lines[number])
    path.write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- malformed CSV


@pytest.mark.parametrize("table", ["participants", "items", "ratings"])
def test_extra_field_in_first_row(run_bad, survey_copy, table):
    # pandas would take the first column (the participant ids) as the index
    edit_line(survey_copy / f"{table}.csv", 1, lambda line: line + ",")
    validate(run_bad, survey_copy, f"{table}.csv", "row 1", "fields")


def test_missing_field_in_a_later_row(run_bad, survey_copy):
    edit_line(survey_copy / "ratings.csv", 7, lambda line: line.rsplit(",", 1)[0])
    validate(run_bad, survey_copy, "ratings.csv", "row 7", "3 fields")


@pytest.mark.parametrize(("table", "column"), [("ratings", "rating"), ("participants", "gender"),
                                               ("items", "response")])
def test_duplicate_column_name(run_bad, survey_copy, table, column):
    # pandas would silently rename the second one to rating.1
    edit_line(survey_copy / f"{table}.csv", 0, lambda line: line.replace(column, f"{column},{column}", 1))
    validate(run_bad, survey_copy, f"{table}.csv", f"column '{column}'", "occurs 2 times")


def test_not_utf8(run_bad, survey_copy):
    path = survey_copy / "items.csv"
    path.write_bytes(path.read_bytes().replace(b"coworker", b"co\xffworker", 1))
    validate(run_bad, survey_copy, "items.csv", "cannot be read")


def test_nul_byte(run_bad, survey_copy):
    path = survey_copy / "participants.csv"
    path.write_bytes(path.read_bytes().replace(b"graduate", b"grad\x00uate", 1))
    validate(run_bad, survey_copy, "participants.csv", "row ", "NUL byte")


def test_zero_byte_csv(run_bad, survey_copy):
    (survey_copy / "items.csv").write_text("")
    validate(run_bad, survey_copy, "items.csv", "empty")


def test_folder_in_place_of_a_file(run_bad, survey_copy):
    (survey_copy / "items.csv").unlink()
    (survey_copy / "items.csv").mkdir()
    validate(run_bad, survey_copy, "items.csv", "not a file")


# ---------------------------------------------------------------- parquet


def test_zero_row_parquet(run_bad, survey_copy):
    pd.read_csv(survey_copy / "ratings.csv", dtype=str).head(0).to_parquet(survey_copy / "ratings.parquet")
    set_toml(survey_copy, 'ratings = "ratings.csv"', 'ratings = "ratings.parquet"')
    result = validate(run_bad, survey_copy, "ratings.parquet", "no rows")
    assert "not a parquet" not in result.output.lower()


def test_zero_byte_parquet(run_bad, survey_copy):
    (survey_copy / "ratings.parquet").write_bytes(b"")
    set_toml(survey_copy, 'ratings = "ratings.csv"', 'ratings = "ratings.parquet"')
    validate(run_bad, survey_copy, "ratings.parquet", "empty")


# ---------------------------------------------------------------- survey.toml values and keys


@pytest.mark.parametrize("line", ["x = " + "[" * 100_000 + "]" * 100_000, "name = 'unterminated", "= 1"])
def test_survey_toml_not_valid(run_bad, survey_copy, line):
    add_top_level(survey_copy, line)
    validate(run_bad, survey_copy, "survey.toml", "not valid TOML")


def test_survey_toml_not_utf8(run_bad, survey_copy):
    path = survey_copy / "survey.toml"
    path.write_bytes(path.read_bytes().replace(b"simulated", b"simul\xffated"))
    validate(run_bad, survey_copy, "survey.toml", "cannot be read")


@pytest.mark.parametrize("value", ["0", "-3", "2.5", '"five"', "true"])
def test_min_group_size_must_be_a_positive_integer(run_bad, survey_copy, value):
    set_toml(survey_copy, "min_group_size = 5", f"min_group_size = {value}")
    validate(run_bad, survey_copy, "survey.toml", "min_group_size", "integer >= 1")


@pytest.mark.parametrize("value", ["1", "4.5", '"5"', "1_000_000_000_000"])
def test_scale_max_must_be_an_integer_in_range(run_bad, survey_copy, value):
    set_toml(survey_copy, "scale_max = 5", f"scale_max = {value}")
    validate(run_bad, survey_copy, "survey.toml", "scale_max", "in 2..101")


def test_scale_max_missing(run_bad, survey_copy):
    set_toml(survey_copy, "scale_max = 5", "")
    validate(run_bad, survey_copy, "survey.toml", "scale_max is missing")


@pytest.mark.parametrize(("old", "new", "suggested"), [
    ("min_group_size = 5", "min_grup_size = 5", "min_group_size"),
    ('ratings = "ratings.csv"', 'ratngs = "ratings.csv"', "ratings"),
    ('polarity = "lower_is_better"', 'polarty = "lower_is_better"', "polarity"),
    ("[attributes]", "[atributes]", "attributes"),
])
def test_unknown_key_suggests_the_nearest(run_bad, survey_copy, old, new, suggested):
    set_toml(survey_copy, old, new)
    validate(run_bad, survey_copy, "survey.toml", new.split(" ")[0].strip("[]"), f"did you mean '{suggested}'?")


@pytest.mark.parametrize(("old", "new", "suggested"), [
    ('participant_id = "worker"', 'particpant_id = "worker"', "participant_id"),
    ('item_columns = {', 'item_colums = {', "item_columns"),
])
def test_unknown_mapping_key_suggests_the_nearest(run_bad, survey_copy, old, new, suggested):
    raw_export(survey_copy)
    set_toml(survey_copy, old, new)
    validate(run_bad, survey_copy, "survey.toml", "[mapping]", f"did you mean '{suggested}'?")


def test_unknown_side_table_key(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, "item_columns = { response = \"text\" }",
             '[mapping.items_source]\nfile = "raw.csv"\nkee = "item"\ncolumns = { response = "text" }')
    validate(run_bad, survey_copy, "[mapping.items_source]", "did you mean 'key'?")


def test_mapping_value_of_the_wrong_type(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'participant_id = "worker"', "participant_id = 3")
    validate(run_bad, survey_copy, "survey.toml", "participant_id must be a string")


def test_value_in_place_of_a_table(run_bad, survey_copy):
    add_top_level(survey_copy, "mapping = 3")
    validate(run_bad, survey_copy, "survey.toml", "mapping must be a table")


def test_rating_values_outside_the_scale(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'rating = "score"', 'rating = "score"\nrating_values = { "1" = 1, "2" = 9 }')
    validate(run_bad, survey_copy, "rating_values", "'2'", "1..5")


def test_both_item_columns_and_items_source(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'rating = "score"',
             'rating = "score"\nitems_source = { file = "raw.csv", key = "item", columns = { response = "text" } }')
    validate(run_bad, survey_copy, "item_columns", "items_source", "not both")


def test_files_and_mapping_together(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, "[mapping]", '[files]\nratings = "ratings.csv"\n\n[mapping]')
    validate(run_bad, survey_copy, "survey.toml", "[files]", "[mapping]", "not both")


def test_mapping_without_a_source(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'source = "raw.csv"\n', "")
    validate(run_bad, survey_copy, "survey.toml", "mapping.source", "--source")


@pytest.mark.parametrize(("old", "new", "named"), [
    ('participant_columns = { gender = "sex" }', 'participant_columns = { gender = "worker" }',
     "mapping.participant_columns.gender"),
    ('item_columns = { response = "text" }', 'item_columns = { response = "worker" }', "mapping.item_columns.response"),
    ('item_id = "item"', 'item_id = "worker"', "mapping.item_id"),
])
def test_rater_id_column_read_as_something_else(run_bad, survey_copy, old, new, named):
    raw_export(survey_copy)
    set_toml(survey_copy, old, new)
    validate(run_bad, survey_copy, "survey.toml", named, "rater id column")


def test_participant_id_as_an_attribute(run_bad, survey_copy):
    set_toml(survey_copy, "[attributes]  # attribute = reference level", '[attributes]\nparticipant_id = "x"')
    validate(run_bad, survey_copy, "survey.toml", "attributes.participant_id")


def test_dimension_column_and_value_together(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'dimension = "quality"', 'dimension = "quality"\ndimension_value = "toxicity"')
    validate(run_bad, survey_copy, "mapping.dimension", "mapping.dimension_value", "not both")


def test_mapping_names_an_undeclared_dimension(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'dimension = "quality"', 'dimension_value = "sarcasm"')
    validate(run_bad, survey_copy, "survey.toml", "sarcasm")


# ---------------------------------------------------------------- raw exports through [mapping]


def test_conflicting_demographics_name_file_column_and_rows(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    worker = raw.worker.iloc[0]
    rows = list(raw.index[raw.worker == worker] + 1)
    raw.loc[rows[-1] - 1, "sex"] = "other" if raw.sex.iloc[0] != "other" else "male"
    raw.to_csv(survey_copy / "raw.csv", index=False)
    validate(run_bad, survey_copy, "raw.csv", "column 'sex'", f"row {rows[-1]}", f"row {rows[0]} has", "conflicting")


def test_many_conflicts_are_counted_not_listed(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    last = ~raw.worker.duplicated(keep="last")
    raw.loc[last, "sex"] = raw.loc[last, "sex"] + "-changed"
    raw.to_csv(survey_copy / "raw.csv", index=False)
    result = validate(run_bad, survey_copy, "raw.csv", "column 'sex'", "more participants with conflicting values")
    assert result.output.count("conflicting values for one participant") == 5


def test_conflicting_item_text(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    item = raw["item"].iloc[0]
    rows = list(raw.index[raw["item"] == item] + 1)
    raw.loc[rows[-1] - 1, "text"] = "a different text"
    raw.to_csv(survey_copy / "raw.csv", index=False)
    validate(run_bad, survey_copy, "raw.csv", "column 'text'", f"row {rows[-1]}", "conflicting values for one item")


def test_demographic_blank_on_every_row_is_missing_not_conflicting(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    worker = raw.worker.iloc[0]
    raw.loc[raw.worker == worker, "sex"] = None
    raw.to_csv(survey_copy / "raw.csv", index=False)
    result = validate(run_bad, survey_copy, "raw.csv", "column 'sex'", "row 1", "missing value")
    assert "conflicting" not in result.output


def test_unmapped_rating_value(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    set_toml(survey_copy, 'rating = "score"',
             'rating = "score"\nrating_values = { "1" = 1, "2" = 2, "3" = 3, "4" = 4, "5" = 5 }')
    raw.loc[4, "score"] = "very bad"
    raw.to_csv(survey_copy / "raw.csv", index=False)
    result = validate(run_bad, survey_copy, "raw.csv", "column 'score'", "row 5", "'very bad'", "rating_values")
    assert result.output.count("row 5") == 1  # not reported again as a rating out of range


def test_mapping_column_missing_suggests_the_nearest(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'rating = "score"', 'rating = "scor"')
    validate(run_bad, survey_copy, "raw.csv", "column 'scor'", "did you mean 'score'?")


def test_bad_rating_names_the_raw_column(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    raw.loc[2, "score"] = "9"
    raw.to_csv(survey_copy / "raw.csv", index=False)
    validate(run_bad, survey_copy, "raw.csv", "column 'score'", "row 3", "integer in 1..5")


def test_missing_worker_id(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    raw.loc[3, "worker"] = None
    raw.to_csv(survey_copy / "raw.csv", index=False)
    validate(run_bad, survey_copy, "raw.csv", "column 'worker'", "row 4", "missing value")


def test_side_file_without_its_key_column(run_bad, survey_copy):
    raw = raw_export(survey_copy)
    raw[["item", "text"]].rename(columns={"item": "id"}).to_csv(survey_copy / "texts.csv", index=False)
    set_toml(survey_copy, 'item_columns = { response = "text" }',
             'items_source = { file = "texts.csv", key = "comment_id", columns = { response = "text" } }')
    validate(run_bad, survey_copy, "texts.csv", "column 'comment_id'", "missing")


# ---------------------------------------------------------------- huge values


def test_huge_value_is_shortened(run_bad, survey_copy):
    edit_line(survey_copy / "ratings.csv", 3, lambda line: line.rsplit(",", 1)[0] + "," + "7" * 100_000)
    result = validate(run_bad, survey_copy, "ratings.csv", "column 'rating'", "row 3", "more characters")
    assert len(result.output) < 3_000


def test_huge_unknown_key_is_shortened(run_bad, survey_copy):
    add_top_level(survey_copy, "k" * 100_000 + " = 1")
    result = validate(run_bad, survey_copy, "survey.toml", "unknown key")
    assert len(result.output) < 3_000


def test_control_characters_are_escaped():
    problem = Problem("f\x1b[2J.csv", "bad\rvalue", column="col\x00", row=1, value="v\x1b")
    assert str(problem) == "f\\x1b[2J.csv, column 'col\\x00', row 1: bad\\rvalue (value: 'v\\x1b')"


def test_problem_text_is_shortened_everywhere():
    long = "x" * 100_000
    problem = Problem("f.csv" + long, f"cannot be read: ValueError: {long}", column=long, row=1, value=long)
    error = ValidationError("Invalid survey bundle", [problem] * 8)
    assert len(str(problem)) < 1_500 and len(str(error)) < 10_000
    assert len(str(InputError(long))) < 2_500


# ---------------------------------------------------------------- paths outside the bundle


@pytest.mark.parametrize("value", ["/etc/passwd", "../outside.csv"])
def test_file_outside_the_bundle_is_refused(run_bad, survey_copy, value):
    (survey_copy.parent / "outside.csv").write_text(SECRET + "\n" + SECRET + "\n")
    set_toml(survey_copy, 'ratings = "ratings.csv"', f'ratings = "{value}"')
    validate(run_bad, survey_copy, "survey.toml", "files.ratings", "outside the bundle", "--allow-outside-paths",
             absent_text=(SECRET, "root:"))


@pytest.mark.parametrize(("command", "out"), [("describe", "described"), ("prefs", "prefs.parquet")])
def test_commands_reading_a_bundle_refuse_outside_paths(run_bad, survey_copy, tmp_path, command, out):
    set_toml(survey_copy, 'items = "items.csv"', 'items = "../items.csv"')
    (survey_copy.parent / "items.csv").write_text((survey_copy / "items.csv").read_text())
    run_bad([command, survey_copy, "--out", tmp_path / out], names=["files.items", "--allow-outside-paths"],
            watch=[survey_copy], absent=[tmp_path / out])


@pytest.mark.parametrize(("value", "named"), [("ratings.csv\\u0000", "ratings.csv\\x00"),
                                              ("a" * 5000, "name too long")])
@pytest.mark.parametrize("extra", [(), ("--allow-outside-paths",)])
def test_unusable_path(run_bad, survey_copy, value, named, extra):
    set_toml(survey_copy, 'ratings = "ratings.csv"', f'ratings = "{value}"')
    result = validate(run_bad, survey_copy, named, extra=extra)
    assert len(result.output) < 3_000


def test_mapping_source_outside_the_bundle_is_refused(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'source = "raw.csv"', 'source = "../../.."')
    validate(run_bad, survey_copy, "mapping.source", "outside the bundle")


def test_side_file_outside_the_bundle_is_refused(run_bad, survey_copy):
    raw_export(survey_copy)
    set_toml(survey_copy, 'item_columns = { response = "text" }',
             'items_source = { file = "/etc/passwd", key = "item", columns = { response = "text" } }')
    validate(run_bad, survey_copy, "mapping.items_source.file", "outside the bundle")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_link_leading_outside_the_bundle_is_refused(run_bad, survey_copy):
    (survey_copy.parent / "outside.csv").write_text(SECRET + "\n")
    (survey_copy / "items.csv").unlink()
    (survey_copy / "items.csv").symlink_to(survey_copy.parent / "outside.csv")
    validate(run_bad, survey_copy, "files.items", "outside the bundle", absent_text=(SECRET,))


def test_allowed_outside_file_is_not_echoed(run_bad, survey_copy):
    outside = survey_copy.parent / "outside.csv"
    outside.write_text(SECRET + "\n" + SECRET + "\n")
    set_toml(survey_copy, 'ratings = "ratings.csv"', f'ratings = "{outside}"')
    validate(run_bad, survey_copy, "outside.csv", "required column is missing", extra=("--allow-outside-paths",),
             absent_text=(SECRET, "secret-line"))


def test_allowed_outside_file_is_read(survey_copy, tmp_path):
    outside = tmp_path / "elsewhere" / "ratings.csv"
    outside.parent.mkdir()
    (survey_copy / "ratings.csv").rename(outside)
    set_toml(survey_copy, 'ratings = "ratings.csv"', f'ratings = "{outside}"')
    with pytest.raises(ValidationError, match="outside the bundle"):
        load_survey(survey_copy)
    with pytest.warns(UserWarning):
        survey = load_survey(survey_copy, allow_outside_paths=True)
    assert len(survey.ratings) == len(outside.read_text().splitlines()) - 1
    assert run_cli(["validate", survey_copy, "--allow-outside-paths"]).exit_code == 0


def test_long_foreign_header_is_not_echoed(run_bad, survey_copy):
    path = survey_copy / "ratings.csv"
    path.write_text("participant_id,item_id,dimension," + "secret words " * 20 + "\nP1,i,toxicity,1\n")
    validate(run_bad, survey_copy, "ratings.csv", "column 'rating'", "required column is missing",
             absent_text=("secret words",))
