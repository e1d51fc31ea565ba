"""Hostile input, round two: values that mean something else than they say (padded levels, "NA" and "None",
brackets read as markup, reserved names, a byte order mark, semicolons), ids through a second raters file, and
names that would inject links into report.md. Each case exits as it should, names the culprit, prints no
traceback and no participant id, and leaves the inputs as they were."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pluralstats.survey import load_survey

from .conftest import run_cli
from .test_bundle import raw_export, set_toml

pytestmark = pytest.mark.filterwarnings("ignore::pluralstats.survey.SmallGroupWarning")

# ---------------------------------------------------------------- ids through a second raters file


def _raters_file(folder: Path, columns: str) -> None:
    """The raw export with the raters' demographics moved to workers.csv (worker, sex, code = a copy of the id)."""
    raw = raw_export(folder)
    people = raw[["worker", "sex"]].drop_duplicates("worker").assign(code=lambda f: f.worker)
    people.to_csv(folder / "workers.csv", index=False)
    raw.drop(columns="sex").to_csv(folder / "raw.csv", index=False)
    set_toml(folder, 'participant_columns = { gender = "sex" }\n', "")
    (folder / "survey.toml").write_text((folder / "survey.toml").read_text() + (
        f'\n[mapping.participants_source]\nfile = "workers.csv"\nkey = "worker"\ncolumns = {{ {columns} }}\n'))


def test_raters_file_key_as_an_attribute_is_refused(run_bad, survey_copy):
    _raters_file(survey_copy, 'gender = "worker"')
    run_bad(["validate", survey_copy], names=["survey.toml", "participants_source.columns.gender", "key column"],
            watch=[survey_copy])


def test_raters_file_id_copy_as_an_attribute_is_refused(run_bad, survey_copy):
    """A column that is the ids under another name: refused by its values, and the reference level that does not
    occur lists no level (every level is an id)."""
    _raters_file(survey_copy, 'gender = "code"')
    result = run_bad(["validate", survey_copy], names=["workers.csv", "'code'", "looks like an id"],
                     watch=[survey_copy])
    assert "does not occur" not in result.output


def test_raters_file_with_a_real_attribute_loads(survey_copy):
    _raters_file(survey_copy, 'gender = "sex"')
    survey = load_survey(survey_copy)
    assert survey.levels("gender") == ["female", "male", "non_binary"]


def test_attribute_unique_per_rater_is_refused(run_bad, survey_copy):
    """Every rater a level of their own (k = 5): an identifier, whatever its values look like."""
    people = pd.read_csv(survey_copy / "participants.csv", dtype=str)
    people["gender"] = [f"g{i:03d}" for i in range(len(people))]
    people.to_csv(survey_copy / "participants.csv", index=False)
    result = run_bad(["validate", survey_copy], names=["participants.csv", "'gender'", "looks like an id"],
                     watch=[survey_copy])
    assert "g000" not in result.output and "g017" not in result.output


def test_reference_level_listing_leaves_ids_out(run_bad, survey_copy, participant_ids):
    """A level that is some rater's id (a hostile or careless export) is not listed with the others."""
    people = pd.read_csv(survey_copy / "participants.csv", dtype=str)
    people.loc[0, "political"] = participant_ids[5]
    people.to_csv(survey_copy / "participants.csv", index=False)
    set_toml(survey_copy, 'political = "liberal"', 'political = "centrist"')
    result = run_bad(["validate", survey_copy], names=["'centrist'", "does not occur", "'liberal'", "'conservative'"],
                     watch=[survey_copy])
    assert "political" in result.output


# ---------------------------------------------------------------- values as written


def test_padded_levels_are_one_group(survey_copy, hostile_survey_dir):
    """``liberal ,`` (unquoted, the padding inside the field) and ``" liberal"`` are the level liberal, the
    reference level included, as a padded header is its column."""
    path = survey_copy / "participants.csv"
    lines = path.read_text().splitlines()
    padded = [line.replace(",liberal,", ",liberal ,", 1) if i % 2 else line.replace(",liberal,", ',"  liberal",', 1)
              for i, line in enumerate(lines)]
    assert padded != lines
    path.write_text("\n".join(padded) + "\n")
    result = run_cli(["validate", survey_copy])
    assert result.exit_code == 0, result.output
    survey, truth = load_survey(survey_copy), load_survey(hostile_survey_dir)
    assert survey.levels("political") == ["conservative", "liberal"]
    assert survey.group_sizes("political").to_dict() == truth.group_sizes("political").to_dict()


def test_na_and_none_are_levels_unless_listed(run_bad, survey_copy):
    """Namibia's code NA and a level None are values; only survey.toml's missing_values are missing."""
    people = pd.read_csv(survey_copy / "participants.csv", dtype=str, keep_default_na=False)
    people.loc[people.country == "de", "country"] = "NA"
    people.loc[people.gender == "male", "gender"] = "None"
    people.to_csv(survey_copy / "participants.csv", index=False)
    items = pd.read_csv(survey_copy / "items.csv", dtype=str, keep_default_na=False)
    items.loc[0, "response"] = "NA"  # a response text, never a missing-value marker
    items.to_csv(survey_copy / "items.csv", index=False)
    survey = load_survey(survey_copy)
    assert survey.levels("country") == ["NA", "us"] and "None" in survey.levels("gender")
    assert survey.items.response.iloc[0] == "NA"

    set_toml(survey_copy, "[files]", 'missing_values = ["NA"]\n\n[files]')
    result = run_bad(["validate", survey_copy], names=["participants.csv", "'country'", "missing value"],
                     watch=[survey_copy])
    assert "items.csv" not in result.output  # the text "NA" is still a response


@pytest.mark.parametrize("value", ["5", '["NA", 3]'])
def test_missing_values_must_be_strings(run_bad, survey_copy, value):
    set_toml(survey_copy, "[files]", f"missing_values = {value}\n\n[files]")
    run_bad(["validate", survey_copy], names=["survey.toml", "missing_values must be a list of strings"],
            watch=[survey_copy])


def test_missing_values_round_trip_through_save(survey_copy, tmp_path):
    from pluralstats.survey import save_survey

    set_toml(survey_copy, "[files]", 'missing_values = ["-99", "n/a"]\n\n[files]')
    saved = save_survey(load_survey(survey_copy), tmp_path / "again")
    assert load_survey(saved).config.missing_values == ("-99", "n/a")


# ---------------------------------------------------------------- brackets are text, not markup


def _bracketed(folder: Path) -> None:
    people = pd.read_csv(folder / "participants.csv", dtype=str)
    people["gender"] = people.gender.map({"female": "[/]", "male": "[prefer not to say]", "non_binary": "[/b]nb"})
    people.to_csv(folder / "participants.csv", index=False)
    ratings = pd.read_csv(folder / "ratings.csv", dtype=str)
    ratings["dimension"] = ratings.dimension.replace("helpfulness", "[/b]help")
    ratings.to_csv(folder / "ratings.csv", index=False)
    set_toml(folder, 'gender = "female"', 'gender = "[/]"')
    set_toml(folder, "[dimensions.helpfulness]", '[dimensions."[/b]help"]')
    set_toml(folder, 'name = "simulated"', 'name = "[bold]survey[/]"')


def test_brackets_in_levels_dimensions_and_names_print_as_written(survey_copy, tmp_path, participant_ids):
    from .conftest import assert_clean

    _bracketed(survey_copy)
    result = run_cli(["validate", survey_copy])
    assert result.exit_code == 0, result.output
    assert_clean(result.output, participant_ids)
    assert "[prefer not to say]" in result.output and "[/]" in result.output and "[/b]help" in result.output
    assert "[bold]survey[/]" in result.output
    out = tmp_path / "d"
    result = run_cli(["describe", survey_copy, "--out", out])
    assert result.exit_code == 0, result.output
    assert "[/b]help" in result.output and (out / "group_means.csv").exists()
    assert "[/]" in set(pd.read_csv(out / "group_means.csv").level.astype(str))


def test_brackets_in_a_group_print_as_written(survey_copy, tmp_path):
    _bracketed(survey_copy)
    out = tmp_path / "p.parquet"
    result = run_cli(["prefs", survey_copy, "--out", out, "--group", "gender=[/]"])
    assert result.exit_code == 0, result.output
    assert "gender=[/]" in result.output


def test_internal_error_does_not_claim_nothing_was_written():
    """Outputs finished before an unexpected error stay: the message must not say otherwise."""
    import click

    from pluralstats.cli.common import handle_errors

    @click.command()
    def boom() -> None:
        with handle_errors():
            raise RuntimeError("[/] in a message")

    result = click.testing.CliRunner().invoke(boom, [])
    assert result.exit_code == 1
    assert "nothing was written" not in result.output and "outputs finished before the error stay" in result.output


# ---------------------------------------------------------------- reserved names


@pytest.mark.parametrize("name", ["language", "rating", "dimension", "item_id", "prompt_id", "response", "all"])
def test_reserved_attribute_names_are_refused(run_bad, survey_copy, tmp_path, name):
    people = pd.read_csv(survey_copy / "participants.csv", dtype=str)
    people[name] = people["political"]
    people.to_csv(survey_copy / "participants.csv", index=False)
    set_toml(survey_copy, 'political = "liberal"', f'political = "liberal"\n{name} = "liberal"')
    for command in (["validate", survey_copy], ["describe", survey_copy, "--out", tmp_path / "d"]):
        run_bad(command, names=["survey.toml", f"attributes.{name}", "reserved"], watch=[survey_copy],
                absent=[tmp_path / "d"])


# ---------------------------------------------------------------- smaller cases


def test_bom_in_survey_toml_is_read(survey_copy):
    path = survey_copy / "survey.toml"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    result = run_cli(["validate", survey_copy])
    assert result.exit_code == 0, result.output


def test_semicolon_delimited_file_is_named_as_such(run_bad, survey_copy):
    path = survey_copy / "ratings.csv"
    path.write_text(path.read_text().replace(",", ";"))
    result = run_bad(["validate", survey_copy], names=["ratings.csv", "semicolons", "not comma-separated"],
                     watch=[survey_copy])
    assert "columns:  and" not in result.output


def test_header_with_no_plain_name_says_so(run_bad, survey_copy):
    path = survey_copy / "ratings.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(["p:id,i/id,d:im,r:at", *lines[1:]]) + "\n")
    result = run_bad(["validate", survey_copy], names=["ratings.csv", "none with a short plain name"],
                     watch=[survey_copy])
    assert "columns:  and" not in result.output


def test_experiment_config_never_lists_an_empty_set_of_keys(tmp_path, run_bad):
    path = tmp_path / "exp.toml"
    path.write_text('name = "t"\nseeds = [0]\n[data]\nsimulate = { participants = 50 }\n[cell]\nmethod = "nosuch"\n'
                    "[train]\nmax_steps = 2\n")
    result = run_bad(["experiment", "run", path, "--out", tmp_path / "run"],
                     names=["exp.toml", "[cell] method", "max_steps", "errors above"], absent=[tmp_path / "run"])
    assert "(valid: )" not in result.output


def test_file_names_cannot_inject_links_into_the_report(tmp_path):
    """A folder and files named with ``](...)`` stay text; the links point at the files, percent-encoded."""
    root = tmp_path / "run"
    folder = root / "x](https:evil.example)"
    folder.mkdir(parents=True)
    pd.DataFrame({"dimension": ["toxicity"], "level_a": ["[a](https:evil.example)"], "level_b": ["b"],
                  "diff": [0.1], "diff_lo": [0.0], "diff_hi": [0.2], "rel_pct": [1.0],
                  "p_positive": [0.9]}).to_csv(folder / "c](https:evil.example).csv", index=False)
    result = run_cli(["report", root])
    assert result.exit_code == 0, result.output
    text = (root / "report.md").read_text()
    assert "](https:evil.example)" not in text.replace("\\](https:evil.example)", "")
    assert "(x%5D%28https%3Aevil.example%29/c%5D%28https%3Aevil.example%29.csv)" in text
    assert "\\[a\\](https:evil.example)" in text
