"""Raw exports read through ``[mapping]`` without editing them: recoded values, a second file for the texts or
the raters, wide exports with text labels, blank cells as missing values."""

from __future__ import annotations

from pathlib import Path

import pytest

from pluralstats.errors import ValidationError
from pluralstats.survey import load_survey

# Shaped like public toxicity annotations: binary ratings coded -1/1, the worker's demographics repeated on
# each of their rows, the comment texts in a second file keyed by the comment's id.
ANNOTATIONS = """rev_id,worker_id,toxicity,gender,age_group
101,w1,-1,female,18-30
102,w1,1,female,18-30
103,w1,-1,female,18-30
101,w2,1,male,30-45
102,w2,1,male,
103,w2,-1,male,30-45
101,w3,-1,female,45-60
103,w3,1,,45-60
"""
COMMENTS = """rev_id,comment,year,split
100,An unrated comment.,2015,train
101,Thanks for fixing the article.,2015,train
102,"You are an idiot, stop editing.",2016,dev
103,Please cite a source here.,2016,test
"""
TOXICITY_TOML = """name = "toxicity"
scale_max = 2
min_group_size = 1

[dimensions.toxicity]
polarity = "lower_is_better"
positive_threshold = 2

[attributes]
gender = "female"

[mapping]
source = "annotations.csv"
participant_id = "worker_id"
item_id = "rev_id"
rating = "toxicity"
dimension_value = "toxicity"
participant_columns = { gender = "gender", age_group = "age_group" }
rating_values = { "-1" = 1, "1" = 2 }

[mapping.items_source]
file = "comments.csv"
key = "rev_id"
columns = { response = "comment" }
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write ``files`` (name -> text) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.fixture
def toxicity(tmp_path: Path) -> Path:
    return write(tmp_path / "tox", {"survey.toml": TOXICITY_TOML, "annotations.csv": ANNOTATIONS,
                                    "comments.csv": COMMENTS})


def problems_of(folder: Path) -> list:
    with pytest.raises(ValidationError) as info:
        load_survey(folder)
    return info.value.problems


def test_toxicity_export_recoded_and_joined(toxicity):
    survey = load_survey(toxicity)
    ratings = survey.ratings.set_index(["participant_id", "item_id"]).rating
    assert ratings.to_dict() == {("w1", "101"): 1, ("w1", "102"): 2, ("w1", "103"): 1, ("w2", "101"): 2,
                                 ("w2", "102"): 2, ("w2", "103"): 1, ("w3", "101"): 1, ("w3", "103"): 2}
    assert set(survey.ratings.dimension) == {"toxicity"}
    assert survey.items.set_index("item_id").response.to_dict() == {
        "101": "Thanks for fixing the article.", "102": "You are an idiot, stop editing.",
        "103": "Please cite a source here."}  # the unrated comment 100 is left out
    assert survey.sources == [toxicity / "annotations.csv", toxicity / "comments.csv"]


def test_blank_demographic_cell_is_missing_not_conflicting(toxicity):
    people = load_survey(toxicity).participants.set_index("participant_id")
    # w3's gender is blank on one row and w2's age group on another: the worker's other rows give the value
    assert people.gender.to_dict() == {"w1": "female", "w2": "male", "w3": "female"}
    assert people.age_group.to_dict() == {"w1": "18-30", "w2": "30-45", "w3": "45-60"}


def test_conflict_is_reported_with_column_and_rows_not_the_id(toxicity):
    (toxicity / "annotations.csv").write_text(ANNOTATIONS.replace("103,w1,-1,female", "103,w1,-1,male"))
    [problem] = problems_of(toxicity)
    assert (Path(problem.file).name, problem.column, problem.row, problem.value) == ("annotations.csv", "gender",
                                                                                     3, "male")
    assert "row 1 has 'female'" in problem.message and "w1" not in str(problem)


def test_unmapped_value_names_file_column_row_and_value(toxicity):
    (toxicity / "annotations.csv").write_text(ANNOTATIONS.replace("102,w2,1,", "102,w2,0,"))
    [problem] = problems_of(toxicity)
    assert (Path(problem.file).name, problem.column, problem.row, problem.value) == ("annotations.csv",
                                                                                     "toxicity", 5, "0")
    assert "rating_values" in problem.message


def test_blank_rating_is_a_missing_value(toxicity):
    (toxicity / "annotations.csv").write_text(ANNOTATIONS.replace("102,w2,1,", "102,w2,,"))
    [problem] = problems_of(toxicity)
    assert (problem.column, problem.row, problem.message) == ("toxicity", 5, "missing value")


def test_rating_for_a_comment_missing_from_the_texts(toxicity):
    (toxicity / "comments.csv").write_text(COMMENTS.replace("103,Please", "104,Please"))
    problems = problems_of(toxicity)
    assert {(Path(p.file).name, p.column, p.row) for p in problems} == {
        ("annotations.csv", "rev_id", 3), ("annotations.csv", "rev_id", 6), ("annotations.csv", "rev_id", 8)}
    assert all("comments.csv" in p.message for p in problems)


def test_tab_separated_export(toxicity):
    (toxicity / "annotations.tsv").write_text(ANNOTATIONS.replace(",", "\t"))
    (toxicity / "survey.toml").write_text(TOXICITY_TOML.replace('"annotations.csv"', '"annotations.tsv"'))
    assert len(load_survey(toxicity).ratings) == 8


def test_raters_from_a_second_file(toxicity):
    (toxicity / "annotations.csv").write_text(
        "".join(",".join(line.split(",")[:3]) + "\n" for line in ANNOTATIONS.splitlines()))
    (toxicity / "workers.csv").write_text("worker,sex,age\nw1,female,18-30\nw2,male,30-45\nw3,female,45-60\n"
                                          "w9,male,60+\n")
    (toxicity / "survey.toml").write_text(TOXICITY_TOML.replace(
        'participant_columns = { gender = "gender", age_group = "age_group" }\n',
        'participants_source = { file = "workers.csv", key = "worker", columns = { gender = "sex", '
        'age_group = "age" } }\n'))
    survey = load_survey(toxicity)
    assert survey.participants.set_index("participant_id").gender.to_dict() == {"w1": "female", "w2": "male",
                                                                                 "w3": "female"}
    assert len(survey.ratings) == 8


LIKERT = {"Strongly disagree": 1, "Disagree": 2, "Neutral": 3, "Agree": 4, "Strongly agree": 5}
WIDE_TOML = """scale_max = 5
min_group_size = 1

[dimensions]
toxicity = "lower_is_better"
helpfulness = "higher_is_better"

[attributes]
gender = "woman"

[mapping]
source = "qualtrics.csv"
layout = "wide"
participant_id = "ResponseId"
item_id = "item"
rating_columns = { toxicity = "Q1 toxic", helpfulness = "Q2 helpful" }
participant_columns = { gender = "Gender" }
item_columns = { response = "Response text" }
rating_values = { "Strongly disagree" = 1, "Disagree" = 2, "Neutral" = 3, "Agree" = 4, "Strongly agree" = 5 }
"""
WIDE = """ResponseId,item,Response text,Q1 toxic,Q2 helpful,Gender
R_1,a,Hello there.,Strongly disagree,Agree,woman
R_1,b,Go away.,Strongly agree, Strongly disagree,woman
R_2,a,Hello there.,Disagree,Strongly agree,man
R_2,b,Go away.,Neutral,Disagree,
"""


def test_wide_export_with_text_labels(tmp_path):
    folder = write(tmp_path / "wide", {"survey.toml": WIDE_TOML, "qualtrics.csv": WIDE})
    survey = load_survey(folder)
    got = survey.ratings.set_index(["participant_id", "item_id", "dimension"]).rating.to_dict()
    assert got == {("R_1", "a", "toxicity"): 1, ("R_1", "b", "toxicity"): 5, ("R_2", "a", "toxicity"): 2,
                   ("R_2", "b", "toxicity"): 3, ("R_1", "a", "helpfulness"): 4, ("R_1", "b", "helpfulness"): 1,
                   ("R_2", "a", "helpfulness"): 5, ("R_2", "b", "helpfulness"): 2}
    assert survey.participants.set_index("participant_id").gender.to_dict() == {"R_1": "woman", "R_2": "man"}
    assert survey.ratings.rating.dtype == "int64"


def test_wide_export_unmapped_label_names_its_column(tmp_path):
    folder = write(tmp_path / "wide", {"survey.toml": WIDE_TOML,
                                       "qualtrics.csv": WIDE.replace("Neutral,Disagree", "Neutral,Somewhat")})
    [problem] = problems_of(folder)
    assert (problem.column, problem.row, problem.value) == ("Q2 helpful", 4, "Somewhat")


def test_wide_export_bad_rating_names_its_column(tmp_path):
    toml = WIDE_TOML.replace("rating_values", "# rating_values")
    raw = "ResponseId,item,Response text,Q1 toxic,Q2 helpful,Gender\nR_1,a,Hi.,1,4,woman\nR_2,a,Hi.,2,7,man\n"
    folder = write(tmp_path / "wide", {"survey.toml": toml, "qualtrics.csv": raw})
    [problem] = problems_of(folder)
    assert (problem.column, problem.row, str(problem.value)) == ("Q2 helpful", 2, "7")
