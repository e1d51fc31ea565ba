"""Hand-worked answers for every strategy and scale on a five-response, four-rater fixture.

Prompt P1 has responses A, B, C; prompt P2 has D, E. Raters p1, p2 are liberal, p3, p4
conservative; p1, p3 female, p2, p4 male; p5 (non_binary) rated nothing. Toxicity ratings by
p1..p4 (lower is better) and their oriented values o = 6 - x:

    A 1 1 1 5  o 5 5 5 1     B 2 2 2 2  o 4 4 4 4     C 1 1 5 5  o 5 5 1 1   (split vote)
    D 3 3 4 4  o 3 3 2 2     E 4 4 4 4  o 2 2 2 2

Helpfulness (higher is better): A 5, B 1, C 3, D 2, E 4 from every rater.
Each expected answer below is worked out in the comment beside it (docs/preferences.md rules).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pluralstats.errors import InputError
from pluralstats.prefs import build_preferences
from pluralstats.survey import load_survey

TOML = """name = "prefs-fixture"
scale_max = 5
min_group_size = 2

[dimensions.toxicity]
polarity = "lower_is_better"
positive_threshold = 4

[dimensions.helpfulness]
polarity = "higher_is_better"

[attributes]
political = "liberal"
gender = "female"
"""
PARTICIPANTS = {"p1": ("liberal", "female"), "p2": ("liberal", "male"), "p3": ("conservative", "female"),
                "p4": ("conservative", "male"), "p5": ("conservative", "non_binary")}
TOXICITY = {"A": (1, 1, 1, 5), "B": (2, 2, 2, 2), "C": (1, 1, 5, 5), "D": (3, 3, 4, 4), "E": (4, 4, 4, 4)}
HELPFULNESS = {"A": 5, "B": 1, "C": 3, "D": 2, "E": 4}
PROMPT = {"A": "P1", "B": "P1", "C": "P1", "D": "P2", "E": "P2"}


def write_fixture(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "survey.toml").write_text(TOML)
    (folder / "participants.csv").write_text(
        "participant_id,political,gender\n" + "".join(f"{p},{a},{b}\n" for p, (a, b) in PARTICIPANTS.items()))
    (folder / "items.csv").write_text("item_id,prompt_id,prompt,response,language,source_model\n" + "".join(
        f"{i},{PROMPT[i]},Question {PROMPT[i]}?,Answer {i}.,en,m\n" for i in PROMPT))
    rows = ["participant_id,item_id,dimension,rating"]
    for item, ratings in TOXICITY.items():
        for k, rating in enumerate(ratings):
            rows += [f"p{k + 1},{item},toxicity,{rating}", f"p{k + 1},{item},helpfulness,{HELPFULNESS[item]}"]
    (folder / "ratings.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    return load_survey(write_fixture(tmp_path_factory.mktemp("fixture") / "bundle"))


def pairs(survey, **options) -> tuple[dict[tuple[str, str], float], dict]:
    df, summary = build_preferences(survey, eval_fraction=0.0, **options)
    got = {(c, r): round(w, 6) for c, r, w in zip(df.chosen_item_id, df.rejected_item_id, df.weight, strict=True)}
    return got, summary.by_dimension.iloc[-1].to_dict()


# (strategy, scale) -> expected {(chosen, rejected): weight}, ties, conflicting item pairs
EXPECTED = {
    # majority labels (oriented) A5 B4 C: 5/1 tie -> worst 1, D: 3/2 tie -> 2, E2; D~E tie
    ("majority", 5): ({("A", "B"): 1, ("A", "C"): 1, ("B", "C"): 1}, 1, 3),
    # 3-point (1-2,3,4-5): o A 3331 B 3333 C 3311 D 2211 E 1111 -> labels A3 B3 C1 D1 E1
    ("majority", 3): ({("A", "C"): 1, ("B", "C"): 1}, 2, 1),
    # binary (1-3,4-5): o A 2221 B 2222 C 2211 D 2211 E 1111 -> labels A2 B2 C1 D1 E1
    ("majority", 2): ({("A", "C"): 1, ("B", "C"): 1}, 2, 1),
    # E(A>B)=3/4, E(B>A)=1/4; E(A>C)=6/16, E(C>A)=2/16; E(B>C)=E(C>B)=1/2; E(D>E)=1/2, E(E>D)=0
    ("preserve", 5): ({("A", "B"): .75, ("B", "A"): .25, ("A", "C"): .375, ("C", "A"): .125,
                       ("B", "C"): .5, ("C", "B"): .5, ("D", "E"): .5}, 0, 3),
    ("preserve", 3): ({("B", "A"): .25, ("A", "C"): .375, ("C", "A"): .125, ("B", "C"): .5, ("D", "E"): .5}, 0, 1),
    ("preserve", 2): ({("B", "A"): .25, ("A", "C"): .375, ("C", "A"): .125, ("B", "C"): .5, ("D", "E"): .5}, 0, 1),
    # means A4 B4 C3 D2.5 E2: A~B tie; A>C weight .375/.5; B>C .5/1; D>E .5/.5
    ("mean", 5): ({("A", "C"): .75, ("B", "C"): .5, ("D", "E"): 1.0}, 1, 3),
    # means A2.5 B3 C2 D1.5 E1
    ("mean", 3): ({("B", "A"): 1.0, ("A", "C"): .75, ("B", "C"): 1.0, ("D", "E"): 1.0}, 0, 1),
    # means (share high-is-good) A1.75 B2 C1.5 D1.5 E1
    ("mean", 2): ({("B", "A"): 1.0, ("A", "C"): .75, ("B", "C"): 1.0, ("D", "E"): 1.0}, 0, 1),
    # any rater flags (raw >= 4): A, C, D, E harmful -> label 1; B keeps 4
    ("minority-veto", 5): ({("B", "A"): 1, ("B", "C"): 1}, 2, 3),
    ("minority-veto", 3): ({("B", "A"): 1, ("B", "C"): 1}, 2, 1),
    ("minority-veto", 2): ({("B", "A"): 1, ("B", "C"): 1}, 2, 1),
}


@pytest.mark.parametrize(("strategy", "scale"), list(EXPECTED))
def test_every_strategy_and_scale_by_hand(survey, strategy, scale):
    expected, ties, conflicting = EXPECTED[(strategy, scale)]
    got, stats = pairs(survey, strategy=strategy, scale=scale)
    assert got == {k: pytest.approx(v) for k, v in expected.items()}
    assert (stats["ties"], stats["conflicting"], stats["candidate_pairs"]) == (ties, conflicting, 4)
    assert stats["pairs"] == len(expected)


def test_split_vote_majority_and_preserve_differ(survey):
    majority, _ = pairs(survey, strategy="majority")
    preserve, _ = pairs(survey, strategy="preserve")
    assert ("C", "B") not in majority and preserve[("C", "B")] == 0.5  # the split item C keeps its votes
    assert ("D", "E") not in majority and preserve[("D", "E")] == 0.5  # majority tie, preserve decides


def test_veto_share_counts_any_groups_share(survey):
    # veto share 0.75: A is flagged by 1/4 overall, 1/2 of conservatives, 1/2 of men -> not harmful;
    # C, D, E are flagged by 2/2 conservatives -> harmful. Labels A5 B4 C1 D1 E1.
    got, stats = pairs(survey, strategy="minority-veto", veto_share=0.75)
    assert got == {("A", "B"): 1, ("A", "C"): 1, ("B", "C"): 1} and stats["ties"] == 1
    # veto share 0.5: A harmful through the conservatives' (and the men's) share alone
    got, _ = pairs(survey, strategy="minority-veto", veto_share=0.5)
    assert got == {("B", "A"): 1, ("B", "C"): 1}


def test_groups_filter_raters(survey):
    # conservatives p3, p4: A 1,5 -> tie -> 5 (o1); B o4; C o1; D, E o2 -> B>A, B>C
    assert pairs(survey, strategy="majority", groups=["conservative"])[0] == {("B", "A"): 1, ("B", "C"): 1}
    # liberals p1, p2: A o5, B o4, C o5, D o3, E o2
    assert pairs(survey, strategy="majority", groups=["political=liberal"])[0] == {
        ("A", "B"): 1, ("C", "B"): 1, ("D", "E"): 1}


def test_jury_reweights_to_the_stated_composition(survey):
    # liberal ratings weigh .75/2, conservative .25/2: pi_A(o5)=.875, pi_C(o5)=.75, pi_D(o3)=.75
    jury = "political=liberal:3,political=conservative:1"  # shares rescaled to .75/.25
    got, stats = pairs(survey, strategy="mean", jury=jury)
    # means A4.5 B4 C4 D2.75 E2; E(A>C)=.875*.25, E(C>A)=.75*.125 -> .21875/.3125 = .7
    assert got == {("A", "B"): .875, ("A", "C"): pytest.approx(.7), ("D", "E"): 1.0}
    assert stats["ties"] == 1 and stats["group"].startswith("jury(political=liberal:0.75")
    got, _ = pairs(survey, strategy="majority", jury=jury)
    assert got == {("A", "B"): 1, ("C", "B"): 1, ("D", "E"): 1}  # C's split vote goes the liberals' way


def test_multi_objective_weighted_scores(survey):
    # majority labels: toxicity A5 B4 C1 D2 E2, helpfulness A5 B1 C3 D2 E4 -> sums A10 B5 C4 D4 E6
    got, stats = pairs(survey, strategy="majority", objective="multi", weights="toxicity=1,helpfulness=1")
    assert got == {("A", "B"): 1, ("A", "C"): 1, ("B", "C"): 1, ("E", "D"): 1}
    assert stats["dimension"] == "multi"
    got, _ = pairs(survey, strategy="majority", objective="helpfulness")
    assert got == {("A", "B"): 1, ("A", "C"): 1, ("C", "B"): 1, ("E", "D"): 1}
    # toxicity weight 1, helpfulness 3: A 20, B 7, C 10, D 8, E 14 -> now C beats B
    got, _ = pairs(survey, strategy="majority", objective="multi", weights={"toxicity": 1, "helpfulness": 3})
    assert got == {("A", "B"): 1, ("A", "C"): 1, ("C", "B"): 1, ("E", "D"): 1}


def test_output_columns_and_text(survey):
    df, _ = build_preferences(survey, strategy="preserve", eval_fraction=0.0)
    assert list(df.columns) == ["prompt", "chosen", "rejected", "weight", "dimension", "group", "strategy",
                                "scale", "language", "prompt_id", "chosen_item_id", "rejected_item_id"]
    row = df[(df.chosen_item_id == "A") & (df.rejected_item_id == "B")].iloc[0]
    assert (row.prompt, row.chosen, row.rejected, row.group, row.dimension, row.scale) == (
        "Question P1?", "Answer A.", "Answer B.", "all", "toxicity", 5)


@pytest.mark.parametrize(("options", "message"), [
    ({"groups": ["political=liberal", "gender=female"]}, "fewer than k=2"),
    ({"groups": ["non_binary"]}, "no rater"),
    ({"groups": ["martian"]}, "Known levels"),
    ({"objective": "kindness"}, "Unknown objective"),
    ({"objective": "multi", "weights": "kindness=1"}, "Unknown dimension"),
    ({"scale": 4}, "--scale 4"),
    ({"scale": 3, "cuts": [3, 2]}, "strictly increasing"),
    ({"strategy": "posterior"}, "needs a fitted posterior"),
    ({"jury": "liberal"}, "group:share"),
    ({"strategy": "minority-veto", "veto_dimensions": ["helpfulness"]}, "lower-is-better"),
])
def test_bad_options_are_input_errors(survey, options, message):
    with pytest.raises(InputError, match=message):
        build_preferences(survey, eval_fraction=0.0, **options)


def test_small_group_allowed_on_request(survey):
    got, stats = pairs(survey, groups=["political=liberal", "gender=female"], allow_small_groups=True)
    # the one rater's group is built, but its size is withheld (a small cell)
    assert stats["raters"] is None and stats["suppressed"] and got == {("A", "B"): 1, ("C", "B"): 1, ("D", "E"): 1}


def test_user_cuts(survey):
    # cuts (1, 4): 1 -> 1, 2-4 -> 2, 5 -> 3; oriented: A 3331, B 2222, C 3311, D 2222, E 2222
    got, _ = pairs(survey, strategy="majority", scale=3, cuts=[1, 4])
    assert got == {("A", "B"): 1, ("A", "C"): 1, ("B", "C"): 1}


# Predictive toxicity distributions for the posterior strategy, two posterior draws (raw categories):
# A: 1 | 1 or 5 (1/2 each)   B: 2 | 2   C: 5 | 1   D: 3 or 4 | 3 or 4   E: 4 | 4
POSTERIOR = {"A": ({1: 1}, {1: .5, 5: .5}), "B": ({2: 1}, {2: 1}), "C": ({5: 1}, {1: 1}),
             "D": ({3: .5, 4: .5}, {3: .5, 4: .5}), "E": ({4: 1}, {4: 1})}


def hand_posterior(idata, dimension, group, item_ids):
    out = [[[POSTERIOR[i][t].get(k, 0.0) for k in range(1, 6)] for i in item_ids] for t in range(2)]
    return out


@pytest.mark.parametrize(("scale", "expected", "ties"), [
    # E(A>B) = (1 + 1/2)/2, E(B>A) = (0 + 1/2)/2 -> A, .75; E(A>C) = 1/2, E(C>A) = 1/4 -> A, 2/3;
    # B vs C: 1/2 each way -> tie; E(D>E) = 1/2, E(E>D) = 0 -> D, 1
    (5, {("A", "B"): .75, ("A", "C"): 2 / 3, ("D", "E"): 1.0}, 1),
    # 3-point: A 1 | 1 or 3; B 1; C 3 | 1; D 2 or 3; E 3 -> E(B>A) = 1/4 only; B vs C: 1/2 vs 0
    (3, {("B", "A"): 1.0, ("A", "C"): 2 / 3, ("B", "C"): 1.0, ("D", "E"): 1.0}, 0),
    (2, {("B", "A"): 1.0, ("A", "C"): 2 / 3, ("B", "C"): 1.0, ("D", "E"): 1.0}, 0),
])
def test_posterior_strategy_by_hand(survey, scale, expected, ties):
    got, stats = pairs(survey, strategy="posterior", posterior=object(), probability_fn=hand_posterior,
                       scale=scale, groups=["liberal"])
    assert got == {k: pytest.approx(v, abs=1e-6) for k, v in expected.items()} and stats["ties"] == ties


def test_within_rater_pairing(survey):
    # each rater's own oriented toxicity: p1, p2: A5 B4 C5 D3 E2; p3: A5 B4 C1 D2 E2; p4: A1 B4 C1 D2 E2
    # A-B: 3 raters prefer A, 1 B; A-C: only p3 (A); B-C: p1, p2 prefer C, p3, p4 B; D-E: p1, p2 prefer D
    got, stats = pairs(survey, strategy="preserve", pairing="within")
    assert got == {("A", "B"): .75, ("B", "A"): .25, ("A", "C"): .25, ("B", "C"): .5, ("C", "B"): .5,
                   ("D", "E"): .5}
    assert (stats["ties"], stats["conflicting"]) == (0, 2)
    # mean own differences: A-B (1 + 1 + 1 - 3)/4 = 0 -> tie; A-C +1; B-C (-1 - 1 + 3 + 3)/4 = +1; D-E +.5
    got, stats = pairs(survey, strategy="mean", pairing="within")
    assert got == {("A", "C"): 1.0, ("B", "C"): .5, ("D", "E"): 1.0} and stats["ties"] == 1
    # a jury reweights raters within each pair: liberals (p1, p2) .75 -> B-C: C .75, B .25
    got, _ = pairs(survey, strategy="preserve", pairing="within", jury="liberal:0.75,conservative:0.25")
    assert got[("C", "B")] == .75 and got[("B", "C")] == .25
