"""Recovering a suppressed group, round two: through --weights (margins that are all the small group), through
the rater counts prefs prints per group (the whole survey minus the published groups), and through a group too
small to evaluate. The survey is the corpus' 60-participant bundle (gender=non_binary has 1 rater, k = 5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pluralstats.errors import InputError

from .conftest import assert_clean, run_cli

pytestmark = pytest.mark.filterwarnings("ignore::pluralstats.survey.SmallGroupWarning")

K = 5
OTHERS = {"race_ethnicity": "white", "age_group": "30-44", "education": "bachelor"}


def margins(path: Path, gender_shares: dict[str, float]) -> Path:
    """Population cells: both political levels, halves, for each gender level at its share; the rest fixed."""
    rows = [{**OTHERS, "gender": g, "political": p, "share": share / 2}
            for g, share in gender_shares.items() for p in ("liberal", "conservative")]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("command", [
    ["contrasts", "{post}", "--attributes", "political", "--dimensions", "toxicity", "--out", "{out}.csv"],
    ["compare", "{post}", "--groups", "liberal", "conservative", "--out", "{out}"],
    ["plot-posterior", "{post}", "--kind", "means", "--out", "{out}"],
])
def test_margins_on_a_small_group_are_refused(run_bad, posterior_copy, tmp_path, command):
    """The review's attack: every cell gender=non_binary makes each political level's estimate non_binary's."""
    weights = margins(tmp_path / "W.csv", {"non_binary": 1.0})
    out = tmp_path / "o"
    args = [a.format(post=posterior_copy, out=out) for a in command] + ["--weights", weights]
    result = run_bad(args, names=["W.csv", "100%", "gender", "non_binary", "fewer than k=5", "--no-suppress-small"],
                     watch=[weights, posterior_copy], absent=[out, Path(f"{out}.csv")])
    assert "1.8" not in result.output  # no estimate at all was printed


def test_margins_at_the_bound_are_used_and_the_opt_out_shows_the_small_group(posterior_copy, tmp_path,
                                                                             participant_ids):
    """Half the weight on the small level is allowed (it weighs no more than the rest); beyond, only with
    --no-suppress-small, where the mean of the political levels is then non_binary's expectation."""
    half = margins(tmp_path / "half.csv", {"non_binary": 0.5, "female": 0.5})
    out = tmp_path / "half-out.csv"
    result = run_cli(["contrasts", posterior_copy, "--attributes", "political", "--dimensions", "toxicity",
                      "--weights", half, "--out", out])
    assert result.exit_code == 0, result.output
    assert_clean(result.output, participant_ids)
    assert pd.read_csv(out)["mean_a"].notna().all()

    from pluralstats.models import load_posterior
    from pluralstats.models.groups import composition, group_draws

    idata = load_posterior(posterior_copy)
    allnb = margins(tmp_path / "nb.csv", {"non_binary": 1.0})
    comp = composition(idata, allnb, suppress_small=False)
    levels = [{"political": "liberal"}, {"political": "conservative"}]
    political = group_draws(idata, "toxicity", levels, comp)
    nb = group_draws(idata, "toxicity", [{**g, "gender": "non_binary"} for g in levels], comp)
    female = group_draws(idata, "toxicity", levels, margins(tmp_path / "f.csv", {"female": 1.0}))
    # what the rule prevents: the weighted political estimates are the non_binary cells' own, not female's
    assert np.allclose(political, nb) and not np.allclose(political.mean(axis=0), female.mean(axis=0), atol=0.01)
    with pytest.raises(InputError, match="non_binary"):
        composition(idata, allnb)


def test_equal_weights_pass_on_this_survey(posterior_copy, tmp_path):
    """Equal cells give gender=non_binary a third and race asian+other two fifths: under one half."""
    out = tmp_path / "eq.csv"
    result = run_cli(["contrasts", posterior_copy, "--attributes", "political", "--dimensions", "toxicity",
                      "--weights", "equal", "--out", out])
    assert result.exit_code == 0, result.output


def test_weights_rule_hand_worked():
    from pluralstats.models.composition import Composition, refuse_small_weight
    from pluralstats.models.data import ModelMeta

    meta = ModelMeta(dimensions=["tox", "help"], scale_max=5, polarity={}, min_group_size=K,
                     attributes={"g": ["a", "b", "c"], "h": ["x", "y"]})
    # level a is small only among the raters of "help": small in some dimension counts
    sizes = {("g", "tox"): {"a": 6, "b": 20, "c": 30}, ("g", "help"): {"a": 4, "b": 20, "c": 30},
             ("h", "tox"): {"x": 30, "y": 26}, ("h", "help"): {"x": 30, "y": 24}}
    sample = np.array([[1, 0]] * 5 + [[1, 1]] * 4 + [[0, 1]])  # a tenth of the raters on level a, a fifth of y

    def comp(weight_a: float) -> Composition:
        return Composition(np.array([[0, 0], [1, 1]]), np.array([weight_a, 1 - weight_a]), "t")

    refuse_small_weight(comp(0.5), meta, sizes, sample, "W")
    with pytest.raises(InputError, match=r"W puts 51% of its weight on g levels with fewer than k=5 raters \(a\)"):
        refuse_small_weight(comp(0.51), meta, sizes, sample, "W")
    # a sample mostly of small levels may always be weighted as it is
    refuse_small_weight(comp(0.8), meta, sizes, np.array([[0, 0]] * 8 + [[1, 1]] * 2), "W")
    with pytest.raises(InputError):
        refuse_small_weight(comp(0.81), meta, sizes, np.array([[0, 0]] * 8 + [[1, 1]] * 2), "W")
    # poststratified: a level's number weights its own cells only, so the rule holds within each large level;
    # 10% overall on a, but all of h=y's weight
    post = Composition(np.array([[0, 1], [1, 0]]), np.array([0.1, 0.9]), "t", estimand="poststratified")
    with pytest.raises(InputError, match=r"W puts 100% of its weight within h=y on g levels"):
        refuse_small_weight(post, meta, sizes, sample, "W")
    refuse_small_weight(Composition(post.levels, post.weights, "t"), meta, sizes, sample, "W")  # standardised


def test_compare_from_a_bundle_refuses_the_weights_before_fitting(run_bad, survey_copy, tmp_path):
    people = pd.read_csv(survey_copy / "participants.csv", dtype=str)
    rows = [{"country": "us", "gender": "non_binary", "race_ethnicity": "white", "political": p,
             "age_group": "30-44", "education": "bachelor", "share": 0.5} for p in ("liberal", "conservative")]
    weights = tmp_path / "W.csv"
    pd.DataFrame(rows)[[c for c in people.columns if c in rows[0]] + ["share"]].to_csv(weights, index=False)
    out = tmp_path / "cmp"
    result = run_bad(["compare", survey_copy, "--groups", "liberal", "conservative", "--weights", weights,
                      "--out", out], names=["W.csv", "gender", "non_binary"], watch=[survey_copy, weights],
                     absent=[out])
    assert "Fitting" not in result.output


# ---------------------------------------------------------------- counts per group (prefs)


def _manifest_summary(out: Path) -> dict:
    from pluralstats.manifest import manifest_path_for

    return json.loads(manifest_path_for(out).read_text())["summary"]


def test_prefs_counts_cannot_be_subtracted_to_a_small_group(hostile_survey_dir, tmp_path, participant_ids):
    """All raters minus female minus male gave non_binary's 1 rater: male (the next-smallest level) is withheld,
    so the subtraction gives the pool male + non_binary, never the small group."""
    from pluralstats.survey import load_survey

    shown: dict[str, object] = {}
    for group in ("all", "female", "male"):
        out = tmp_path / f"{group}.parquet"
        result = run_cli(["prefs", hostile_survey_dir, "--out", out, *(["--group", group] if group != "all" else [])])
        assert result.exit_code == 0, result.output
        assert_clean(result.output, participant_ids)
        summary = _manifest_summary(out)
        shown[group] = summary["by_dimension"][0]["raters"]
        assert {g["raters"] for g in summary["groups"]} == {shown[group]}
        if group == "male":
            assert "withheld" in result.output and summary["groups"][0]["suppressed"]
    survey = load_survey(hostile_survey_dir)
    assert shown["male"] is None and isinstance(shown["female"], int) and isinstance(shown["all"], int)
    assert shown["all"] - shown["female"] >= K  # the pool of the hidden levels, not non_binary's 1
    males = int((survey.participants.gender == "male").sum())
    assert f" {males} " not in run_cli(["prefs", hostile_survey_dir, "--out", tmp_path / "m2.parquet",
                                        "--group", "male"]).output


def test_prefs_small_group_never_says_its_size(run_bad, hostile_survey_dir, tmp_path):
    out = tmp_path / "nb.parquet"
    result = run_bad(["prefs", hostile_survey_dir, "--out", out, "--group", "gender=non_binary"],
                     names=["gender=non_binary", "fewer than k=5 raters", "--allow-small-groups"],
                     watch=[hostile_survey_dir], absent=[out])
    assert "1 rater" not in result.output and "(1" not in result.output


def test_prefs_jury_across_attributes_withholds_the_pool(hostile_survey_dir, tmp_path):
    """|female or liberal| beside |female| and |liberal| would give |female and liberal|."""
    out = tmp_path / "jury.parquet"
    result = run_cli(["prefs", hostile_survey_dir, "--out", out, "--jury", "gender=female:0.5,political=liberal:0.5"])
    assert result.exit_code == 0, result.output
    summary = _manifest_summary(out)
    assert all(row["raters"] is None for row in summary["by_dimension"])
    assert all(isinstance(g["raters"], int) for g in summary["groups"])  # each member alone is large


def test_hidden_members_hand_worked():
    from pluralstats.prefs.pools import Member, Pool, hidden_members

    # gender a 2, b 10, c 11, d 20; political p: a 2, b 9, c 6, d 10 and q: b 1, c 5, d 10
    people = ([("a", "p")] * 2 + [("b", "p")] * 9 + [("b", "q")] + [("c", "p")] * 6 + [("c", "q")] * 5
              + [("d", "p")] * 10 + [("d", "q")] * 10)
    ratings = pd.DataFrame({"participant_id": [f"r{i}" for i in range(len(people))],
                            "g": [g for g, _ in people], "pol": [p for _, p in people]})

    def pool(*conditions):
        return Pool("x", tuple(Member("m", c) for c in conditions))

    # b is the complement of the small a (the next-smallest level); c and d are shown
    assert hidden_members(ratings, pool((("g", "b"),), (("g", "c"),), (("g", "d"),)), K) == [True, False, False]
    # among the p raters a is small and c its complement; among the b raters q is small and p its complement
    assert hidden_members(ratings, pool((("g", "c"), ("pol", "p")), (("g", "b"), ("pol", "p")),
                                        (("g", "d"), ("pol", "p"))), K) == [True, True, False]
    assert hidden_members(ratings, Pool("all", (Member("all", ()),)), K) == [False]


# ---------------------------------------------------------------- fit-rater


def test_fit_rater_refuses_a_group_too_small_to_evaluate(run_bad, hostile_survey_dir, tmp_path):
    out = tmp_path / "rater"
    run_bad(["fit-rater", hostile_survey_dir, "--out", out, "--encoder", "hashing", "--group", "gender=non_binary"],
            names=["--group gender=non_binary", "fewer than k=5", "training prompts"], watch=[hostile_survey_dir],
            absent=[out])
