"""Figures 2-5 and the report are drawn from result tables: files exist in both formats, values land."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pluralstats.plots.figures as figures_module
from pluralstats.errors import InputError
from pluralstats.evaluate.shift import comparisons
from pluralstats.plots.figures import experiment_figure, figure2, single_vs_multi_pairs
from pluralstats.report import build_report, markdown_table


def results_table(models: list[str], dims=("toxicity", "emotional_awareness"), seed: int = 0) -> pd.DataFrame:
    """A results table made by the same code path as the shift model's, from known draws."""
    rng = np.random.default_rng(seed)
    shifts = np.concatenate([np.zeros((1000, 1, len(dims))),
                             rng.normal(-0.2, 0.05, (1000, len(models) - 1, len(dims)))], axis=1)
    means = 2.5 + shifts
    return comparisons(shifts, means, models, list(dims), "control", "bayes")


@pytest.fixture
def drawn(monkeypatch) -> list:
    """The matplotlib figures the figure functions save, kept for inspection."""
    figs = []
    save = figures_module.save_figure

    def keep(fig, path):
        figs.append(fig)
        return save(fig, path)

    monkeypatch.setattr(figures_module, "save_figure", keep)
    return figs


def titles(fig) -> list[str]:
    shown = [fig.get_suptitle(), *(ax.get_title(loc=loc) for ax in fig.axes for loc in ("left", "center"))]
    return [t for t in shown if t]


def test_experiment_figures_written_png_and_pdf(tmp_path, drawn):
    table = results_table(["control", "5", "3", "2"])
    written = experiment_figure(table, tmp_path / "figure3", figure=3, order=["5", "3", "2"])
    assert sorted(p.suffix for p in written) == [".pdf", ".png"]
    assert all(p.stat().st_size > 1000 for p in written)
    optimizer = ["dpo/toxicity", "dpo/multi", "grpo/toxicity", "grpo/multi"]
    pairs = single_vs_multi_pairs(optimizer)
    assert pairs == [("dpo/toxicity", "dpo/multi"), ("grpo/toxicity", "grpo/multi")]
    written = experiment_figure(results_table(["control", *optimizer]), tmp_path / "figure5", figure=5,
                                order=optimizer, dimensions=["toxicity", "emotional_awareness"], pairs=pairs)
    assert {p.name for p in written} == {"figure5.png", "figure5.pdf"}
    for fig in drawn:  # titles say what is shown, not a paper's figure number
        assert titles(fig) and not any("Figure" in t for t in titles(fig))
        assert_text_inside(fig)
    assert "Rating scale" in drawn[0].get_suptitle()


@pytest.mark.parametrize("figure, models, missing", [
    (3, ["control", "5", "3"], ["'2'"]),
    (4, ["control", "5", "3", "2"], ["'majority'", "'posterior'"]),
    (5, ["control", "dpo/toxicity", "dpo/multi"], ["'grpo/multi'"]),
])
def test_experiment_figure_refuses_a_table_without_its_conditions(tmp_path, figure, models, missing):
    with pytest.raises(InputError) as refused:
        experiment_figure(results_table(models), tmp_path / f"figure{figure}", figure=figure)
    assert all(name in str(refused.value) for name in missing)
    assert not list(tmp_path.iterdir())


def test_plot_cli_refuses_missing_conditions_with_exit_2(tmp_path):
    from click.testing import CliRunner

    from pluralstats.cli import cli

    path = tmp_path / "results.parquet"
    results_table(["control", "5", "3"]).to_parquet(path)
    result = CliRunner().invoke(cli, ["plot", str(path), "--figure", "3"])
    assert result.exit_code == 2 and "'2'" in result.output and not (tmp_path / "figure3.png").exists()


def test_figure2_and_report(tmp_path, drawn):
    table = pd.DataFrame({
        "dimension": ["toxicity", "emotional_awareness"], "attribute": "political", "level_a": "liberal",
        "level_b": "conservative", "diff": [0.1, -0.3], "diff_lo": [0.0, -0.4], "diff_hi": [0.2, -0.2],
        "model_diff": [0.05, -0.1], "model_lo": [-0.05, -0.2], "model_hi": [0.15, 0.0],
        "p_same_sign": [0.7, 0.9], "ratio": [0.5, 0.3], "ratio_lo": [-0.5, 0.0], "ratio_hi": [2.0, 0.7]})
    folder = tmp_path / "compare-models"
    folder.mkdir()
    table.to_csv(folder / "compare.csv", index=False)
    assert len(figure2([table.assign(implied=np.nan, implied_lo=np.nan, implied_hi=np.nan)],
                       folder / "figure2")) == 2
    fig = drawn[0]
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    # each drawn series once (the survey one is part filled, part hollow), the all-NaN implied shift not at all
    assert labels == ["survey: level difference (A - B)", "tuned models (A - B)"]
    ax_box = fig.axes[0].get_window_extent()
    assert all(legend.get_window_extent().y1 < ax_box.y0 for legend in fig.legends)  # below the data, covering none
    assert not any("Figure" in t for t in titles(fig))
    assert_text_inside(fig)
    evaluation = tmp_path / "tuned"
    evaluation.mkdir()
    results_table(["control", "liberal"]).assign(p_better=0.9).to_parquet(evaluation / "results.parquet")
    report = build_report(tmp_path, title="t").read_text()
    assert "](compare-models/figure2.png)" in report and "compare-models/figure2.pdf" in report
    assert "Tuned models vs survey" in report and "Shifts vs control" in report
    assert "| liberal | toxicity |" in report.replace("| | ", "| ")  # the shift row is in the table


def test_markdown_table_formats_numbers():
    text = markdown_table(pd.DataFrame({"a": ["x|y"], "b": [0.12345]}), digits=2)
    assert text.splitlines() == ["| a | b |", "| --- | --- |", "| x\\|y | 0.12 |"]  # a pipe escaped, not a cell


@pytest.fixture
def drawn_posterior(monkeypatch) -> list:
    """The matplotlib figures the posterior plots save, kept for inspection."""
    import pluralstats.plots.posterior_plots as posterior_module

    figs = []
    save = posterior_module.save_figure

    def keep(fig, path):
        figs.append(fig)
        return save(fig, path)

    monkeypatch.setattr(posterior_module, "save_figure", keep)
    return figs


def assert_text_inside(fig) -> None:
    """Every text lies within the figure's width and below its top: past them it is cut off when saved."""
    from matplotlib.text import Text

    renderer = fig.canvas.get_renderer()
    # tick labels are left out: matplotlib keeps labels of ticks outside the view, which are never drawn
    ticks = {id(t) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis) for t in axis.get_ticklabels(which="both")}
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip() and id(text) not in ticks:
            box = text.get_window_extent(renderer)
            assert fig.bbox.x0 - 1 <= box.x0 and box.x1 <= fig.bbox.x1 + 1 and box.y1 <= fig.bbox.y1 + 1, text


def five_dimension_idata():
    import arviz as az

    rng = np.random.default_rng(0)
    dims = ["toxicity", "emotional_awareness", "helpfulness", "factuality", "bias"]
    draws = {v: np.abs(rng.normal(1.0, 0.1, (4, 100, len(dims)))) for v in ("sigma_rater", "sigma_item")}
    return az.from_dict(posterior=draws, coords={"dimension": dims},
                        dims={"sigma_rater": ["dimension"], "sigma_item": ["dimension"]}), dims


def test_rank_plot_is_a_readable_size(tmp_path):
    from PIL import Image

    from pluralstats.plots.posterior_plots import plot_rank

    idata, _ = five_dimension_idata()
    png = next(p for p in plot_rank(idata, tmp_path / "rank") if p.suffix == ".png")
    width, height = Image.open(png).size
    assert width <= 2000 and height <= 2000  # arviz's own grid made ten panels about 4,400 px wide


def test_trace_plot_names_every_dimension_in_a_legend(tmp_path, drawn_posterior):
    from pluralstats.plots.posterior_plots import plot_trace

    idata, dims = five_dimension_idata()
    plot_trace(idata, tmp_path / "trace")
    labels = [t.get_text() for legend in drawn_posterior[0].legends for t in legend.get_texts()]
    assert [d.replace("_", " ") for d in dims] == labels[:len(dims)]
    assert labels[len(dims):] == ["chain 0", "chain 1", "chain 2", "chain 3"]


def test_compare_and_forest_labels_are_readable(tmp_path, drawn_posterior):
    from pluralstats.plots.posterior_plots import plot_compare, plot_forest

    table = pd.DataFrame({
        "dimension": ["toxicity", "emotional_awareness"], "attribute": "political_view", "level_a": "very_liberal",
        "level_b": "conservative", "diff": [0.1, -0.3], "diff_lo": [0.0, -0.4], "diff_hi": [0.2, -0.2],
        "quantity": "mean", "standardisation": "adjusted (standardised to the sample's composition of age, gender)",
        "model_diff": [0.05, -0.1], "model_lo": [-0.05, -0.2], "model_hi": [0.15, 0.0],
        "rel_pct": [5.0, -3.0], "rel_lo": [1.0, -6.0], "rel_hi": [9.0, 1.0]})
    plot_compare(table, tmp_path / "compare")
    fig = drawn_posterior[0]
    labels = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert labels == ["survey estimate", "tuned models"]  # the all-hollow model series was listed twice
    assert_text_inside(fig)  # the x label's "(95% ..." was cut off
    renderer = fig.canvas.get_renderer()
    assert all(legend.get_window_extent(renderer).y1 < fig.axes[0].get_window_extent(renderer).y0
               for legend in fig.legends)
    plot_forest(table, tmp_path / "forest")
    ticks = [t.get_text() for t in drawn_posterior[1].axes[0].get_yticklabels()]
    assert ticks == ["political view: very liberal vs conservative"]


def test_heatmap_labels_are_readable(tmp_path, monkeypatch):
    import pluralstats.plots.group_plots as contrasts_module

    figs = []
    save = contrasts_module.save_figure
    monkeypatch.setattr(contrasts_module, "save_figure", lambda fig, path: figs.append(fig) or save(fig, path))
    table = pd.DataFrame({"dimension": ["toxicity", "emotional_awareness"], "attribute": "political_view",
                          "level_a": "very_liberal", "level_b": "conservative", "diff": [0.1, -0.3],
                          "diff_lo": [0.0, -0.4], "diff_hi": [0.2, -0.2], "quantity": "mean",
                          "standardisation": "adjusted (standardised to the sample's composition of age, gender)"})
    contrasts_module.plot_heatmap(table, tmp_path / "heatmap", k=5)
    ax = figs[0].axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["political view: very liberal vs conservative"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["toxicity", "emotional awareness"]
    assert_text_inside(figs[0])


def test_report_takes_no_seed(tmp_path):
    """A report draws nothing at random: --seed was accepted and ignored, now it is refused."""
    from click.testing import CliRunner

    from pluralstats.cli import cli

    result = CliRunner().invoke(cli, ["report", str(tmp_path), "--seed", "3"])
    assert result.exit_code == 2 and "--seed" in result.output
    assert CliRunner().invoke(cli, ["report", str(tmp_path)]).exit_code == 0
