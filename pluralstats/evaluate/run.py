"""One evaluation, start to end: the function the ``evaluate`` command, the demo, the experiment cells and
notebooks call.

``evaluate_models(survey, {"control": dir, "liberal": dir}, ...)`` checks every model folder, picks the
held-out prompts, fits the rater-model scorer on the train prompts unless a scorer is given, generates and
scores completions of every model on the same prompts with the same seed, and fits the shift model. With
``control=None`` it stops after scoring (no shift model): an experiment cell scores its one model that way,
and the experiment runner fits one shift model over every cell's scores (:func:`shift_results`). It writes
nothing and prints nothing: :func:`pluralstats.evaluate.evaluation.write_results` writes the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pluralstats.errors import InputError
from pluralstats.evaluate.calibration import scorer_calibration
from pluralstats.evaluate.evaluation import EvalResult, ShiftSettings, score_models, shift_results
from pluralstats.evaluate.generate import GenerationConfig, eval_prompts
from pluralstats.evaluate.reasoning import parse_markers, reasoning_summary
from pluralstats.evaluate.scorers import RaterScorer, Scorer
from pluralstats.readers import check_model_source
from pluralstats.survey.split import prompt_split


@dataclass
class Evaluation:
    """What :func:`evaluate_models` produced: the shift result (None without a control), its prompts, the scores
    and the thinking-segment summary."""

    result: EvalResult | None
    prompts: pd.DataFrame  # prompt_id, prompt: the held-out prompts every model answered
    reasoning: pd.DataFrame  # per model: thinking segments (empty when no model emits them)
    scorer: Scorer
    scores: pd.DataFrame  # long table: model, run, prompt and completion keys, dimension, score


def check_models(models: Mapping[str, str | Path], control: str) -> None:
    """Refuse a missing control, a lone model, or a model folder that cannot be loaded (before any work)."""
    if control not in models:
        raise InputError(f"No model named '{control}' (the control); got {', '.join(models)}")
    if len(models) < 2:
        raise InputError("Give the control and at least one tuned model")
    for name, path in models.items():
        check_model_source(path, f"--model {name}", local=True)


def evaluate_models(survey, models: Mapping[str, str | Path], *, control: str | None = "control",
                    split: pd.Series | str | Path | None = None, eval_fraction: float = 0.2,
                    max_prompts: int | None = None,
                    scorer: Scorer | None = None, generation: GenerationConfig | None = None,
                    settings: ShiftSettings | None = None, seed: int = 0, progress=None) -> Evaluation:
    """Generate on held-out prompts, score every dimension, estimate shifts vs ``control``.

    ``split``: the recorded train/eval split of the prompts (from the preference data; a Series or its file);
    without it one is
    drawn with ``eval_fraction`` and ``seed``. ``scorer``: default a rater model fitted on the train prompts.
    ``control=None``: score the models only (any number, folders or hub ids) and fit no shift model
    (``evaluation.result`` is None). ``progress``: an optional ``rich.progress.Progress`` for generation and
    scoring. Failed shift-model diagnostics do not raise: ``evaluation.result.diagnostics.ok`` says whether the
    shifts can be reported.
    """
    generation = generation or GenerationConfig()
    settings = settings or ShiftSettings()
    if generation.thinking not in ("auto", "off"):
        parse_markers(generation.thinking)  # a malformed spec fails before anything runs
    if control is not None:
        check_models(models, control)
    else:
        for name, path in models.items():
            check_model_source(path, f"model {name}")
    if isinstance(split, (str, Path)):  # a recorded split file (a *.split.csv, or a preference parquet beside one)
        from pluralstats.prefs import load_split

        split = load_split(split)
    split = split if split is not None else prompt_split(survey.items, eval_fraction, seed)
    prompts = eval_prompts(survey.items, split, max_prompts)
    scorer = scorer or RaterScorer.fit(survey, split=split, seed=seed)
    scores = score_models(models, prompts, scorer, generation, seed=seed, progress=progress)
    result = None
    if control is not None:
        signs = {d: v.sign for d, v in survey.config.dimensions.items()}
        result = shift_results(scores, control=control, scale_max=scorer.scale_max, settings=settings,
                               signs=signs, seed=seed, calibration=scorer_calibration(scorer, survey, split))
    return Evaluation(result, prompts, reasoning_summary(scores), scorer, scores)


def write_evaluation(evaluation: Evaluation, out: str | Path, *, inputs: list, seed: int,
                     options: Mapping) -> dict[str, Path]:
    """``evaluate``'s outputs into the folder ``out``: the results and shift table
    (:func:`~pluralstats.evaluate.evaluation.write_results`), the thinking-segment summary when any model
    thought, and the manifest with the shift model's diagnostics; returns the files by kind."""
    from pluralstats.evaluate.evaluation import write_results
    from pluralstats.evaluate.reasoning import write_reasoning_summary
    from pluralstats.io import write_manifest

    paths = write_results(evaluation.result, out)
    if len(evaluation.reasoning):
        paths["reasoning"] = write_reasoning_summary(evaluation.reasoning, out)
    diag = evaluation.result.diagnostics
    write_manifest(out, "evaluate", inputs=inputs, seed=seed, options={**options, "prompts": len(evaluation.prompts)},
                   extra={"diagnostics": diag.summary(), "diagnostics_problems": diag.problems,
                          "reasoning": evaluation.reasoning.to_dict(orient="records")})
    return paths
