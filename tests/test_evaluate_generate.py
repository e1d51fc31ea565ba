"""Generation is seeded and left padding is right; scoring gives the survey's scale, one row per dimension."""

from __future__ import annotations

import pytest

from pluralstats.evaluate.generate import GenerationConfig, eval_prompts, generate_completions
from pluralstats.evaluate.scorers import RaterScorer, Scorer, score_completions
from pluralstats.survey.simulate import SimulationConfig, simulate_survey
from pluralstats.survey.split import prompt_split


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model

    survey = simulate_survey(SimulationConfig(n_participants=60, prompts_per_language=5, responses_per_prompt=3),
                             seed=0).survey
    split = prompt_split(survey.items, 0.4, seed=0)
    model = tmp_path_factory.mktemp("tiny") / "model"
    build_tiny_model(survey, model, TinyModelConfig(steps=40, eval_fraction=0.4), progress=False)
    return survey, split, model


def test_eval_prompts_are_the_held_out_ones(setup):
    survey, split, _ = setup
    prompts = eval_prompts(survey.items, split)
    assert set(prompts.prompt_id) == set(split[split == "eval"].index)
    assert list(prompts.prompt_id) == sorted(prompts.prompt_id)
    assert len(eval_prompts(survey.items, split, max_prompts=1)) == 1


def test_seeded_and_left_padded(setup):
    survey, split, model = setup
    prompts = eval_prompts(survey.items, split)
    sample = GenerationConfig(completions=2, max_new_tokens=10, batch_size=4)
    a = generate_completions(model, prompts, sample, seed=3)
    b = generate_completions(model, prompts, sample, seed=3)
    c = generate_completions(model, prompts, sample, seed=4)
    assert len(a) == 2 * len(prompts) and a.equals(b)
    assert not a.completion.equals(c.completion)
    # greedy decoding must not depend on batching: wrong (right) padding would change short prompts
    greedy = {"completions": 1, "max_new_tokens": 10, "min_new_tokens": 10, "do_sample": False}
    one = generate_completions(model, prompts, GenerationConfig(batch_size=1, **greedy))
    many = generate_completions(model, prompts, GenerationConfig(batch_size=8, **greedy))
    assert one.completion.tolist() == many.completion.tolist()
    assert one.completion.str.len().gt(0).all()


def test_rater_scores_on_survey_scale(setup):
    survey, split, model = setup
    scorer = RaterScorer.fit(survey, split=split, seed=0)
    assert isinstance(scorer, Scorer)
    completions = generate_completions(model, eval_prompts(survey.items, split),
                                       GenerationConfig(completions=2, max_new_tokens=8), seed=0)
    scores = score_completions(scorer, completions, batch_size=3)
    assert len(scores) == len(completions) * len(survey.dimensions)
    assert set(scores.dimension) == set(survey.dimensions)
    assert scores.score.between(1, survey.config.scale_max).all()
    assert {"prompt_id", "completion_id", "completion", "dimension", "score"} <= set(scores.columns)


def test_evaluate_command_null_shift(setup, tmp_path):
    """Two copies of one model: the CLI writes every artifact, and the shift interval covers 0."""
    import pandas as pd
    from click.testing import CliRunner

    from pluralstats.cli import cli
    from pluralstats.survey import save_survey

    survey, split, model = setup
    bundle = save_survey(survey, tmp_path / "bundle")
    out = tmp_path / "eval" / "results.parquet"
    args = ["evaluate", str(bundle), "--model", f"control={model}", "--model", f"copy={model}", "--out", str(out),
            "--eval-fraction", "0.4", "--completions", "2", "--max-new-tokens", "8", "--draws", "200",
            "--tune", "200", "--bootstrap", "200", "--allow-bad-diagnostics", "--seed", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    for suffix in ("results.parquet", "results.scores.parquet", "results.posterior.nc",
                   "results.parquet.manifest.json"):
        assert (out.parent / suffix).exists()
    table = pd.read_parquet(out)
    shifts = table[(table.comparison == "shift") & (table.method == "bayes")]
    assert len(shifts) == len(survey.dimensions)
    assert ((shifts.lo < 0) & (shifts.hi > 0)).all()  # same weights, same seed: no shift
    bad = CliRunner().invoke(cli, ["evaluate", str(bundle), "--model", f"tuned={model}", "--out", str(out)])
    assert bad.exit_code == 2 and "control" in bad.output


def test_an_experiment_cell_scores_with_the_evaluate_function(setup, tmp_path):
    """A control cell's scores are those of ``evaluate_models`` (without a control, so no shift model) for the same
    model, split, scorer, generation options and seed: the cell and the evaluate command share one path."""
    import pandas as pd

    from pluralstats.evaluate.rater import RaterModel
    from pluralstats.evaluate.run import evaluate_models
    from pluralstats.experiments.cell import run_cell
    from pluralstats.experiments.experiment_config import Cell
    from pluralstats.experiments.shared import Shared
    from pluralstats.survey import save_survey

    survey, split, model = setup
    bundle = save_survey(survey, tmp_path / "bundle")
    split_csv = tmp_path / "split.csv"
    pd.DataFrame({"prompt_id": split.index, "split": split.values}).to_csv(split_csv, index=False)
    rater = RaterModel.fit(survey, split=split, seed=0).save(tmp_path / "rater")
    shared = Shared(bundle=str(bundle), split=str(split_csv), base_model=str(model), rater=str(rater),
                    posterior=None, scale_max=survey.config.scale_max, signs={})
    options = {"completions": 2, "max_new_tokens": 6}
    info = run_cell(Cell("control", {}, 0), shared, tmp_path / "cell", {}, options)
    assert info["status"] == "done", info.get("error")
    cell_scores = pd.read_parquet(tmp_path / "cell" / "scores.parquet")
    direct = evaluate_models(survey, {"control": model}, control=None, split=shared.load_split(),
                             scorer=RaterScorer.load(rater), generation=GenerationConfig(**options), seed=0)
    assert direct.result is None
    pd.testing.assert_frame_equal(cell_scores, direct.scores.drop(columns=["model", "run"]))
