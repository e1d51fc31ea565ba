"""What every cell of an experiment shares, built once in the experiment folder and reused on rerun.

``survey/`` (simulated, or the given bundle), ``split.csv`` (the held-out prompts: the base model,
the rater and every preference set use the same split), ``base-model/`` (the control), ``rater/``
(the scorer, fitted on train prompts only) and, when a cell or a comparison needs it,
``survey-posterior.nc`` (the rating model). Each is skipped when already there (resumable).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pluralstats.io import write_manifest


@dataclass(frozen=True)
class Shared:
    """Paths (as strings, so a Ray worker can receive them) of the shared artifacts."""

    bundle: str
    split: str
    base_model: str
    rater: str
    posterior: str | None
    scale_max: int
    signs: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The shared inputs as a plain dict (for the cell tasks and manifests)."""
        return asdict(self)

    def load_split(self) -> pd.Series:
        """The prompt split (prompt_id -> train or eval) written for the experiment."""
        from pluralstats.survey.split import read_split_csv

        return read_split_csv(self.split)


def simulate_bundle(out: Path, options: dict[str, Any], thresholds: dict[str, int] | None = None) -> Path:
    """Simulate a study-shaped survey (with its truth.json) into ``out`` unless it is there; ``thresholds``
    (``[data] thresholds``) become its dimensions' ``positive_threshold`` in ``survey.toml``."""
    import dataclasses

    from pluralstats.errors import InputError
    from pluralstats.survey import save_survey
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey
    from pluralstats.survey.simulation_config import PAPER_EFFECTS, with_interactions

    thresholds = thresholds or {}
    if (out / "survey.toml").exists():
        from pluralstats.survey.survey_config import load_config

        found = {d: v.positive_threshold for d, v in load_config(out).dimensions.items()
                 if v.positive_threshold is not None}
        if found != thresholds:  # the cells would label responses by thresholds the config no longer says
            raise InputError(f"{out} was simulated with positive thresholds {found or 'none'}, the config says "
                             f"{thresholds or 'none'}; use another experiment folder")
        return out
    opts = dict(options)
    seed = int(opts.pop("seed", 0))
    if "participants" in opts:
        opts["n_participants"] = opts.pop("participants")
    if "disagreement" in opts:
        opts["disagreement_sd"] = float(opts.pop("disagreement"))
    if opts.get("disagreement_attributes") is not None:
        opts["disagreement_attributes"] = tuple(opts["disagreement_attributes"])
    if "interactions" in opts:  # groups also differ in how they rank responses (see pluralstats.survey.simulate)
        opts["effects"] = with_interactions(PAPER_EFFECTS, float(opts.pop("interactions")))
    sim = simulate_survey(SimulationConfig(**opts), seed=seed)
    if thresholds:
        dims = {d: dataclasses.replace(v, positive_threshold=thresholds.get(d, v.positive_threshold))
                for d, v in sim.survey.config.dimensions.items()}
        sim = dataclasses.replace(sim, survey=dataclasses.replace(
            sim.survey, config=dataclasses.replace(sim.survey.config, dimensions=dims)))
    save_survey(sim.survey, out, extra_files={"truth.json": json.dumps(sim.truth, indent=1) + "\n"})
    write_manifest(out, "simulate", options=opts, seed=seed)
    return out


def write_split(survey, path: Path, eval_fraction: float, seed: int) -> pd.Series:
    """The prompt split at ``path``: read if it exists (so every cell and rerun shares it), else drawn and written."""
    from pluralstats.survey.split import prompt_split, read_split_csv, write_split_csv

    if path.exists():
        return read_split_csv(path)
    split = prompt_split(survey.items, eval_fraction=eval_fraction, seed=seed)
    write_split_csv(split, path)
    return split


def ensure_base_model(survey, out: Path, options: dict[str, Any], eval_fraction: float, seed: int) -> Path:
    """The tiny control model, trained on the train prompts of the same split."""
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model

    if (out / "config.json").exists():
        return out
    cfg = TinyModelConfig(**{**options, "eval_fraction": eval_fraction, "seed": seed})
    summary = build_tiny_model(survey, out, cfg, progress=True)
    write_manifest(out, "tiny-model", options=asdict(cfg), seed=seed,
                   extra={"summary": {k: v for k, v in summary.items() if k != "config"}})
    return out


def ensure_rater(survey, out: Path, split: pd.Series, seed: int) -> Path:
    """The rater model folder ``out``, fitted on the train prompts and saved unless already there."""
    from pluralstats.evaluate.rater import RaterModel

    if (out / "rater.json").exists():
        return out
    RaterModel.fit(survey, split=split, seed=seed).save(out)
    return out


def survey_gate(*, allow_bad_diagnostics: bool = False) -> None:
    """``[survey_model] allow_bad_diagnostics``: run the grid on a survey posterior that failed its convergence
    checks (or is unchecked). Off by default: the posterior strategy's pairs and Figure 2's survey side would
    rest on draws that did not converge. Checked once, before any cell runs (:func:`prepare_shared`)."""


def ensure_posterior(survey, path: Path, options: dict[str, Any], seed: int) -> Path:
    """The survey posterior at ``path``, fitted with ``options`` and saved unless already there."""
    from pluralstats.models import fit_survey, save_posterior

    if path.exists():
        return path
    from pluralstats.models.fit import MAX_CHAINS

    # more chains where the first ones fall short of the gate, as fit-survey; not for a posterior allowed to fail
    top_up = None if options.get("allow_bad_diagnostics") else MAX_CHAINS
    options = {"max_chains": top_up, **{k: v for k, v in options.items() if k != "allow_bad_diagnostics"}}
    idata = fit_survey(survey, seed=seed, **options)
    save_posterior(idata, path)
    write_manifest(path, "fit-survey", options=options, seed=seed)
    return path


def prepare_shared(config, out: Path, *, need_posterior: bool, console=None) -> Shared:
    """Build (or find) the shared artifacts of an experiment in ``out``."""
    from pluralstats.survey import load_survey

    say = console.print if console is not None else (lambda *a, **k: None)
    data = config.data
    seed = int(data.get("seed", 0))
    eval_fraction = float(data.get("eval_fraction", 0.2))
    bundle = config.resolve(data.get("bundle")) or simulate_bundle(out / "survey", data["simulate"],
                                                                   data.get("thresholds"))
    survey = load_survey(bundle)
    split = write_split(survey, out / "split.csv", eval_fraction, seed)
    say(f"survey {bundle}: {len(survey.participants)} participants, "
        f"{int((split == 'eval').sum())} held-out prompts")
    base = config.resolve(config.base_model.get("path"))
    if base is None:
        say("base model: building the tiny model (skipped when already built)")
        base = ensure_base_model(survey, out / "base-model", {k: v for k, v in config.base_model.items()
                                                             if k != "path"}, eval_fraction, seed)
    rater = ensure_rater(survey, out / "rater", split, seed)
    posterior = config.resolve(config.survey_model.get("path"))  # a posterior fitted elsewhere
    if need_posterior and posterior is None:
        say("survey model: fitting the rating model (skipped when already fitted)")
        options = {k: v for k, v in config.survey_model.items() if k != "path"}
        posterior = ensure_posterior(survey, out / "survey-posterior.nc", options, seed)
    if need_posterior and posterior is not None:
        from pluralstats.models import load_posterior
        from pluralstats.models.diagnostics import require_diagnostics

        note = require_diagnostics(load_posterior(posterior),
                                   allow_bad=bool(config.survey_model.get("allow_bad_diagnostics", False)))
        if note:
            say(f"warning: {note}")
    signs = {d: v.sign for d, v in survey.config.dimensions.items()}
    return Shared(str(bundle), str(out / "split.csv"), str(base), str(rater),
                  str(posterior) if posterior else None, survey.config.scale_max, signs)
