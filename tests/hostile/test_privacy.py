"""Privacy of every output: no participant id anywhere, small groups suppressed with their complements.

The survey is the corpus' 60-participant bundle, where ``gender=non_binary`` has 1 rater and
``race_ethnicity`` has two small levels (asian 2, other 4) with k = 5; the posterior is the session's.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pluralstats.privacy import mask_groups, pseudonyms, suppressed_levels

from .conftest import assert_clean, run_cli

K = 5
ESTIMATES = ["mean_a", "mean_b", "diff", "diff_lo", "diff_hi", "rel_pct", "rel_lo", "rel_hi", "p_positive"]


# ---------------------------------------------------------------- the rule, on hand-worked tables

@pytest.mark.parametrize(("sizes", "complementary", "expected"), [
    ({"a": 2, "b": 25, "c": 20, "d": 13}, True, ["a", "d"]),  # one small cell: the next-smallest goes too
    ({"a": 2, "b": 25, "c": 20, "d": 13}, False, ["a"]),  # model estimates: the small cell only
    ({"a": 2, "b": 4, "c": 9}, True, ["a", "b"]),  # two small cells pooling 6 >= k: enough
    ({"a": 1, "b": 2, "c": 30}, True, ["a", "b", "c"]),  # two small cells pooling 3 < k: the third goes too
    ({"a": 3, "b": 30}, True, ["a", "b"]),  # two levels: both
    ({"a": 1, "c": 7, "b": 7}, True, ["a", "b"]),  # ties broken by name
    ({"x": 10, "y": 20}, True, []),  # nothing small, nothing hidden
    ({"all": 3}, True, ["all"]),  # a lone total is hidden only when it is itself small
])
def test_suppressed_levels_hand_worked(sizes, complementary, expected):
    assert suppressed_levels(sizes, K, complementary=complementary) == expected


def test_mask_groups_blanks_estimates_and_counts_of_the_cell_and_its_complement():
    table = pd.DataFrame({
        "attribute": ["all", "g", "g", "g", "h", "h"], "level": ["all", "a", "b", "c", "x", "y"],
        "dimension": "tox", "n_raters": [50, 2, 30, 18, 20, 30], "mean": [2.092, 1.0, 2.1, 2.2, 1.9, 2.1]})
    masked = mask_groups(table, K, ["n_raters", "mean"])
    assert masked.suppressed.tolist() == [False, True, False, True, False, False]
    hidden = masked[masked.suppressed]
    assert hidden.n_raters.isna().all() and hidden["mean"].isna().all()
    shown = masked[~masked.suppressed]
    assert shown.n_raters.tolist() == [50, 30, 20, 30] and shown["mean"].tolist() == [2.092, 2.1, 1.9, 2.1]
    # the subtraction attack recovers only the pool of the two hidden cells (20 raters), not the small one
    pooled = (50 * 2.092 - 30 * 2.1) / (50 - 30)
    assert pooled == pytest.approx((2 * 1.0 + 18 * 2.2) / 20) and pooled != pytest.approx(1.0)
    unmasked = mask_groups(table, K, ["n_raters", "mean"], suppress=False)
    assert not unmasked.suppressed.any() and unmasked.n_raters.tolist() == table.n_raters.tolist()


def test_mask_groups_hides_the_same_levels_in_every_dimension():
    """Per dimension the complement would differ (b in tox, c in help); with rater counts equal across
    dimensions, showing b's count in help would give a's away in tox, so both are hidden in both."""
    table = pd.DataFrame({"attribute": "g", "level": ["a", "b", "c"] * 2, "dimension": ["tox"] * 3 + ["help"] * 3,
                          "n_raters": [2, 10, 11, 2, 12, 11], "mean": [1.0, 2.0, 3.0, 1.5, 2.5, 3.5]})
    masked = mask_groups(table, K, ["n_raters", "mean"])
    assert masked.suppressed.tolist() == [True, True, True, True, True, True]
    per_dimension = mask_groups(table, K, ["n_raters", "mean"], together=("attribute", "dimension"))
    assert per_dimension.suppressed.tolist() == [True, True, False, True, False, True]


def test_pseudonyms_follow_sorted_order():
    assert pseudonyms(["P3", "P1", "P2"]).tolist() == ["r0003", "r0001", "r0002"]
    assert pseudonyms([f"x{i:05d}" for i in range(10_000)])[-1] == "r10000"


# ---------------------------------------------------------------- ids

def _files_text(*roots: Path) -> str:
    """Every file under ``roots`` as text (bytes decoded leniently), names included."""
    parts = []
    for root in roots:
        for p in [root] if root.is_file() else sorted(q for q in root.rglob("*") if q.is_file()):
            parts += [p.name, p.read_bytes().decode("latin-1")]
    return "\n".join(parts)


def test_posterior_holds_no_participant_id(hostile_posterior, participant_ids):
    from pluralstats.models import load_posterior, meta_of
    from pluralstats.models.contrasts import level_sizes

    raw = hostile_posterior.read_bytes()
    assert not [i for i in participant_ids if i.encode() in raw]
    idata = load_posterior(hostile_posterior)
    texts = []
    for group in idata.groups():
        ds = getattr(idata, group)
        texts.append(json.dumps(ds.attrs, default=str))
        for var in [*ds.coords.values(), *ds.data_vars.values()]:
            texts.append(json.dumps(var.attrs, default=str))
            if var.dtype.kind in "OUS":
                texts += [str(v) for v in np.ravel(var.to_numpy())]
    assert_clean("\n".join(texts), participant_ids)
    raters = idata.constant_data["rater"].to_numpy().astype(str)
    assert raters.tolist() == [f"r{i + 1:04d}" for i in range(len(participant_ids))]
    # what suppression downstream needs travels with the draws
    assert meta_of(idata).min_group_size == K
    assert level_sizes(idata)[("gender", "toxicity")]["non_binary"] == 1


# ---------------------------------------------------------------- describe

@pytest.fixture(scope="module")
def described(hostile_survey_dir, tmp_path_factory, participant_ids):
    out = tmp_path_factory.mktemp("describe") / "d"
    result = run_cli(["describe", hostile_survey_dir, "--out", out])
    assert result.exit_code == 0, result.output
    assert_clean(result.output, participant_ids)
    return out


def test_describe_outputs_hold_no_participant_id(described, participant_ids):
    assert_clean(_files_text(described), participant_ids)


@pytest.mark.parametrize(("name", "values"), [("group_means.csv", ["n_raters", "n_ratings", "mean", "sd"]),
                                              ("agreement.csv", ["n_raters", "alpha_ordinal"])])
def test_describe_small_cell_cannot_be_recovered(described, hostile_survey_dir, name, values):
    from pluralstats.survey import load_survey

    survey = load_survey(hostile_survey_dir)
    table = pd.read_csv(described / name)
    total = table[table.attribute == "all"].set_index("dimension")
    small_seen = 0
    for (attribute, dimension), block in table[table.attribute != "all"].groupby(["attribute", "dimension"]):
        sizes = survey.group_sizes(attribute)
        hidden = block[block.suppressed]
        small = set(sizes[sizes < K].index.astype(str))
        assert set(block.level[block.small_cell]) == small
        small_seen += len(small)
        assert len(hidden) != 1, f"{attribute}/{dimension}: a lone suppressed cell is recoverable from the total"
        assert small <= set(hidden.level), f"{attribute}/{dimension}: a small cell is shown"
        assert hidden[values].isna().all().all(), f"{attribute}/{dimension}: a suppressed cell shows numbers"
        if len(hidden) and not np.isnan(total.loc[dimension, "n_raters"]):
            # the published total minus the published cells leaves a pool of at least k raters
            assert total.loc[dimension, "n_raters"] - block.n_raters.sum() >= K
    assert small_seen  # the survey does have small cells (non_binary, asian, other)


def test_describe_subtraction_gives_the_pool_not_the_small_cell(described, hostile_survey_dir):
    """The attack of the review: total minus the published gender cells, weighted by ratings."""
    from pluralstats.survey import load_survey

    survey = load_survey(hostile_survey_dir)
    means = pd.read_csv(described / "group_means.csv")
    tox = means[means.dimension == "toxicity"]
    total = tox[tox.attribute == "all"].iloc[0]
    gender = tox[tox.attribute == "gender"]
    shown = gender[~gender.suppressed]
    left = total.n_ratings - shown.n_ratings.sum()
    recovered = (total.n_ratings * total["mean"] - (shown.n_ratings * shown["mean"]).sum()) / left
    merged = survey.ratings_with_attributes()
    truth = merged[(merged.dimension == "toxicity") & (merged.gender == "non_binary")].rating.mean()
    assert recovered != pytest.approx(truth, abs=1e-6)
    assert "non_binary" in set(gender.level[gender.suppressed]) and gender.suppressed.sum() >= 2


def test_describe_manifest_and_opt_out(described, hostile_survey_dir, tmp_path):
    assert json.loads((described / "manifest.json").read_text())["options"]["suppress_small"] is True
    out = tmp_path / "open"
    result = run_cli(["describe", hostile_survey_dir, "--out", out, "--no-suppress-small"])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "manifest.json").read_text())["options"]["suppress_small"] is False
    means = pd.read_csv(out / "group_means.csv")
    assert not means.suppressed.any() and means["mean"].notna().all()


# ---------------------------------------------------------------- model outputs

def _small_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame.level_a == "non_binary") | frame.level_a.isin(["asian", "other"])]


def test_contrasts_suppress_small_levels(hostile_posterior, tmp_path, participant_ids):
    out = tmp_path / "c.csv"
    result = run_cli(["contrasts", hostile_posterior, "--out", out, "--plot", tmp_path / "forest",
                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert_clean(result.output + _files_text(tmp_path), participant_ids)
    frame = pd.read_csv(out)
    small = _small_rows(frame)
    # the three small levels (non_binary, asian, other), each as a mean and a share>=k contrast
    assert len(small) == 3 * frame.quantity.nunique() and small.suppressed.all()
    assert small[ESTIMATES].isna().all().all()
    large = frame[~frame.index.isin(small.index)]
    assert not large.suppressed.any() and large[ESTIMATES].notna().all().all()
    assert "<5" in result.output and "non_binary" in result.output
    manifest = json.loads(Path(f"{out}.manifest.json").read_text())
    assert manifest["options"]["suppress_small"] is True

    opened = tmp_path / "open.csv"
    result = run_cli(["contrasts", hostile_posterior, "--out", opened, "--no-suppress-small",
                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    shown = _small_rows(pd.read_csv(opened))
    assert not shown.suppressed.any() and shown[ESTIMATES].notna().all().all()
    assert shown.small_cell.all()
    assert json.loads(Path(f"{opened}.manifest.json").read_text())["options"]["suppress_small"] is False


def test_compare_suppresses_a_small_group(hostile_posterior, tmp_path, participant_ids):
    out = tmp_path / "cmp"
    result = run_cli(["compare", hostile_posterior, "--groups", "non_binary", "female", "--out", out,
                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert_clean(result.output + _files_text(out), participant_ids)
    table = pd.read_csv(out / "compare.csv")
    assert table.suppressed.all() and table[ESTIMATES].isna().all().all()
    assert json.loads((out / "manifest.json").read_text())["options"]["suppress_small"] is True

    big = tmp_path / "big"
    result = run_cli(["compare", hostile_posterior, "--groups", "male", "female", "--out", big,
                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    assert not pd.read_csv(big / "compare.csv").suppressed.any()

    opened = tmp_path / "open"
    result = run_cli(["compare", hostile_posterior, "--groups", "non_binary", "female", "--out", opened,
                      "--no-suppress-small", "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(opened / "compare.csv")
    assert not table.suppressed.any() and table[ESTIMATES].notna().all().all()
    assert json.loads((opened / "manifest.json").read_text())["options"]["suppress_small"] is False


def test_plot_posterior_leaves_small_groups_out(hostile_posterior, tmp_path, participant_ids):
    from pluralstats.estimates.ppc import predictive_check, suppress_groups
    from pluralstats.models import load_posterior

    out = tmp_path / "figs"
    result = run_cli(["plot-posterior", hostile_posterior, "--out", out, "--kind", "forest", "--kind", "ppc",
                      "--attribute", "gender"])
    assert result.exit_code == 0, result.output
    assert_clean(result.output + _files_text(out), participant_ids)
    assert (out / "ppc_gender.png").exists() and (out / "contrasts_forest.png").exists()
    assert json.loads((out / "manifest.json").read_text())["options"]["suppress_small"] is True
    idata = load_posterior(hostile_posterior)
    observed, predicted, note = suppress_groups(*predictive_check(idata, "gender", n_draws=20),
                                                idata, "gender")
    # non_binary (1 rater) and its complement (male) are left out of the observed shares
    assert set(observed.group) == set(predicted.group) == {"female"} and "non_binary" in note


def test_report_hides_small_rows_written_without_suppression(hostile_posterior, tmp_path):
    root = tmp_path / "run"
    result = run_cli(["contrasts", hostile_posterior, "--out", root / "contrasts" / "c.csv", "--no-suppress-small",
                      "--allow-bad-diagnostics"])
    assert result.exit_code == 0, result.output
    estimate = _small_rows(pd.read_csv(root / "contrasts" / "c.csv")).iloc[0]
    result = run_cli(["report", root])
    assert result.exit_code == 0, result.output
    text = (root / "report.md").read_text()
    row = next(line for line in text.splitlines() if "non_binary" in line)
    assert "<k" in row and f"{estimate['diff']:.3f}" not in row


def test_prefs_posterior_outputs_hold_no_participant_id(hostile_survey_dir, hostile_posterior, tmp_path,
                                                        participant_ids):
    out = tmp_path / "prefs.parquet"
    result = run_cli(["prefs", hostile_survey_dir, "--out", out, "--strategy", "posterior", "--posterior",
                      hostile_posterior, "--objective", "toxicity", "--max-draws", "50"])
    assert result.exit_code == 0, result.output
    assert_clean(result.output + _files_text(tmp_path), participant_ids)
    frame = pd.read_parquet(out)
    assert_clean("\n".join(frame.astype(str).to_numpy().ravel()), participant_ids)


def test_fit_summary_hides_small_levels(hostile_posterior):
    from rich.console import Console

    from pluralstats.cli.views import parameter_table
    from pluralstats.estimates.fit_summary import parameter_summary
    from pluralstats.models import load_posterior, meta_of

    idata = load_posterior(hostile_posterior)
    console = Console(width=200, record=True, file=io.StringIO(), markup=False)  # as the CLI's consoles
    for suppress in (True, False):
        console.print(parameter_table(parameter_summary(idata, suppress), meta_of(idata).family, 5))
    hidden, shown = console.export_text().split("Posterior summary")[1:]
    nb = next(line for line in hidden.splitlines() if "non_binary" in line)
    assert "<5" in nb and not any(ch.isdigit() for ch in nb.replace("<5", ""))
    assert any(ch.isdigit() for ch in next(line for line in shown.splitlines() if "non_binary" in line))


def test_figure2_leaves_suppressed_pairs_out(tmp_path):
    from pluralstats.plots.figures import figure2

    def table(level_a: str, suppressed: bool) -> pd.DataFrame:
        diff = [np.nan, np.nan] if suppressed else [0.2, -0.1]
        return pd.DataFrame({"dimension": ["toxicity", "helpfulness"], "attribute": "gender", "level_a": level_a,
                             "level_b": "female", "diff": diff, "diff_lo": diff, "diff_hi": diff,
                             "model_diff": [0.1, 0.2], "model_lo": [0.0, 0.1], "model_hi": [0.2, 0.3],
                             "suppressed": suppressed})

    for tables in ([table("non_binary", True)], [table("non_binary", True), table("male", False)]):
        written = figure2(tables, tmp_path / f"f{len(tables)}")
        assert all(p.exists() and p.stat().st_size > 1000 for p in written)


def test_disagreements_refuse_a_small_group(hostile_posterior):
    """Item differences of two groups are estimates of each: with a small group there is nothing to show."""
    from pluralstats.errors import InputError
    from pluralstats.models import load_posterior
    from pluralstats.models.contrasts import refuse_small

    idata = load_posterior(hostile_posterior)
    with pytest.raises(InputError, match="non_binary has fewer than k=5"):
        refuse_small(idata, "gender", ["non_binary", "female"], True)
    refuse_small(idata, "gender", ["non_binary", "female"], False)
    refuse_small(idata, "gender", ["male", "female"], True)


def test_mask_rows_blanks_text_columns_without_casting_them():
    """A report table may carry text beside numbers (e.g. compare's basis): masking blanks it, never casts it."""
    from pluralstats.privacy import mask_rows

    table = pd.DataFrame({"level": ["a", "b"], "n": [3, 40], "mean": [1.5, 2.0],
                          "basis": ["all", "level difference"]})
    out = mask_rows(table, [True, False], ["n", "mean", "basis"])
    assert out.n.isna().tolist() == [True, False] and out.n.iloc[1] == 40
    assert pd.isna(out.basis.iloc[0]) and out.basis.iloc[1] == "level difference"
    assert out.suppressed.tolist() == [True, False]
