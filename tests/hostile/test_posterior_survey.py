"""A posterior is used only with the survey it was fitted to: the fingerprint recorded at fit time.

``prefs --strategy posterior`` reads item judgements from a posterior and pairs them with a survey's items and
raters; a posterior of another survey (or of other ratings of this one) would give preferences that belong to
neither, silently, whenever the item ids overlap. The fingerprint (:func:`pluralstats.models.data.survey_digest`)
is a sha256 of the sorted rater pseudonym, item, dimension, rating and attribute-level rows the model saw.
"""

from __future__ import annotations

import json

import arviz as az
import numpy as np
import pandas as pd
import pytest

from pluralstats.errors import InputError
from pluralstats.models.data import META_KEY, build_model_data, check_same_survey, survey_digest
from pluralstats.survey import load_survey
from pluralstats.survey.simulate import simulate_survey

from .conftest import SMALL


def _edit_csv(path, row: int, column: str, value) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[row, column] = str(value)
    frame.to_csv(path, index=False)


def test_fingerprint_is_of_the_data_the_model_saw(hostile_survey_dir):
    survey = load_survey(hostile_survey_dir)
    data = build_model_data(survey, ["toxicity"])
    assert data.meta.survey_digest == survey_digest(data) and data.meta.survey_digest.startswith("sha256:")
    shuffled = survey.ratings.sample(frac=1.0, random_state=0).reset_index(drop=True)
    same = build_model_data(type(survey)(survey.config, shuffled, survey.participants, survey.items), ["toxicity"])
    assert same.meta.survey_digest == data.meta.survey_digest  # row order is not data
    changed = survey.ratings.copy()
    row = changed.index[changed.dimension == "toxicity"][0]
    changed.loc[row, "rating"] = 1 + changed.loc[row, "rating"] % survey.config.scale_max
    other = build_model_data(type(survey)(survey.config, changed, survey.participants, survey.items), ["toxicity"])
    assert other.meta.survey_digest != data.meta.survey_digest
    off_model = survey.ratings.copy()
    row = off_model.index[off_model.dimension != "toxicity"][0]
    off_model.loc[row, "rating"] = 1 + off_model.loc[row, "rating"] % survey.config.scale_max
    unseen = build_model_data(type(survey)(survey.config, off_model, survey.participants, survey.items),
                              ["toxicity"])
    assert unseen.meta.survey_digest == data.meta.survey_digest  # a dimension the model did not see
    people = survey.participants.copy()
    attr = next(a for a in data.meta.attributes if people[a].nunique() > 1)
    first = people[attr].iloc[0]
    people.loc[0, attr] = next(v for v in people[attr].unique() if v != first)
    moved = build_model_data(type(survey)(survey.config, survey.ratings, people, survey.items), ["toxicity"])
    assert moved.meta.survey_digest != data.meta.survey_digest  # a rater's group changed
    idata = az.InferenceData(constant_data=data.constant_data())
    check_same_survey(idata, survey)
    with pytest.raises(InputError, match="other ratings"):
        check_same_survey(idata, type(survey)(survey.config, changed, survey.participants, survey.items))
    another = simulate_survey(SMALL, seed=2).survey
    with pytest.raises(InputError, match="fit-survey"):
        check_same_survey(idata, another)


def test_prefs_refuses_a_posterior_of_other_ratings(hostile_posterior, survey_copy, tmp_path, run_bad):
    _edit_csv(survey_copy / "ratings.csv", 0, "rating", 5)
    ratings = pd.read_csv(survey_copy / "ratings.csv")
    assert ratings.dimension.iloc[0] == "toxicity"
    out = tmp_path / "prefs.parquet"
    run_bad(["prefs", survey_copy, "--out", out, "--strategy", "posterior", "--posterior", hostile_posterior,
             "--objective", "toxicity", "--max-draws", "20"],
            names=["fitted to other ratings", "fit-survey"], watch=[survey_copy, hostile_posterior], absent=[out])


def test_prefs_refuses_a_posterior_without_a_fingerprint(hostile_posterior, hostile_survey_dir, tmp_path, run_bad):
    idata = az.from_netcdf(hostile_posterior)
    meta = json.loads(idata.constant_data.attrs[META_KEY])
    del meta["survey_digest"]  # as written before fingerprints were stored
    idata.constant_data.attrs[META_KEY] = json.dumps(meta)
    old = idata.to_netcdf(str(tmp_path / "old.nc"))
    out = tmp_path / "prefs.parquet"
    run_bad(["prefs", hostile_survey_dir, "--out", out, "--strategy", "posterior", "--posterior", old,
             "--objective", "toxicity", "--max-draws", "20"],
            names=["no fingerprint", "refit"], watch=[hostile_survey_dir], absent=[out])


def test_prefs_accepts_the_posterior_of_its_survey(hostile_posterior, hostile_survey_dir, tmp_path):
    from .conftest import run_cli

    out = tmp_path / "prefs.parquet"
    result = run_cli(["prefs", hostile_survey_dir, "--out", out, "--strategy", "posterior", "--posterior",
                      hostile_posterior, "--objective", "toxicity", "--max-draws", "20"])
    assert result.exit_code == 0, result.output
    assert np.isfinite(pd.read_parquet(out).weight).all()
