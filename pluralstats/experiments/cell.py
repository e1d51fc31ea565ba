"""One cell of an experiment: preferences -> fine-tune -> generate and score on the held-out prompts.

A cell writes into its own folder (``prefs.parquet``, or ``unpaired.parquet`` for a ratings-based method
such as KTO; ``model/``, ``scores.parquet``) and finishes by
writing ``manifest.json`` with ``status = "done"``; a folder with that manifest is skipped on rerun.
A failure writes ``status = "failed"`` with the error and traceback, so it is reported, not lost.
The function takes and returns plain data so that it can run in a Ray worker unchanged.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd

from pluralstats.experiments.experiment_config import Cell
from pluralstats.experiments.shared import Shared
from pluralstats.finetune.trl_helpers import quiet_libraries
from pluralstats.io import atomic_path, write_manifest
from pluralstats.readers import read_json_object

GEN_KEYS = ("completions", "max_new_tokens", "min_new_tokens", "batch_size", "temperature", "top_p", "do_sample")


def cell_status(cell_dir: Path) -> str | None:
    """``"done"``, ``"failed"`` or None (never run / interrupted)."""
    manifest = cell_dir / "manifest.json"
    if not manifest.exists():
        return None
    status = read_json_object(manifest).get("status")
    return status if status != "done" or (cell_dir / "scores.parquet").exists() else None


def _group_dict(groups: list[str]) -> dict[str, str] | None:
    pairs = [g.split("=", 1) for g in groups if "=" in g]
    return {a: b for a, b in pairs} or None


def worker_info() -> dict[str, Any]:
    """Where a cell ran: host, process id and, inside a Ray worker, the Ray node id (recorded in its manifest)."""
    info: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")  # only a Ray worker has it imported; never import it here
    if ray is not None and ray.is_initialized():
        info["ray_node"] = ray.get_runtime_context().get_node_id()
    return info


def _train_unpaired(cell: Cell, plugin_cls, shared: Shared, survey, split: pd.Series, cell_dir: Path,
                    train: dict) -> tuple[Path, dict]:
    """A ratings-based (KTO) cell: responses labelled desirable / undesirable for the cell's raters on its
    objective's dimensions (the survey's positive thresholds, the experiment's prompt split), then trained on."""
    from pluralstats.experiments.experiment_config import judged_dimensions
    from pluralstats.prefs.unpaired import build_unpaired

    p = cell.params
    dims = judged_dimensions(p, list(survey.dimensions))
    frame = build_unpaired(survey, dimensions=dims, groups=tuple(p["groups"]), jury=p.get("jury"), split=split,
                           seed=cell.seed)
    with atomic_path(cell_dir / "unpaired.parquet") as tmp:
        frame.to_parquet(tmp, index=False)
    options = {**train, "seed": cell.seed, "objective": ",".join(dims), "group": "&".join(p["groups"]) or None}
    config = plugin_cls.config_class.from_options(**options)
    model_dir = plugin_cls().train(frame, shared.base_model, config, cell_dir / "model")
    return Path(model_dir), {"responses": len(frame), "desirable": int(frame.label.sum()), "judged_on": dims,
                             "train": config.to_dict()}


def train_cell(cell: Cell, shared: Shared, survey, split: pd.Series, cell_dir: Path, train: dict) -> tuple[Path, dict]:
    """Build the cell's training data (preference pairs; for a ratings-based method such as KTO, unpaired
    labelled responses) and fine-tune the base model on it; returns (model dir, info)."""
    from pluralstats.finetune.plugin_registry import get_plugin
    from pluralstats.prefs import build_preferences, get_strategy, write_preferences

    p = cell.params
    plugin_cls = get_plugin(p["method"])
    if plugin_cls.requires == "ratings":
        return _train_unpaired(cell, plugin_cls, shared, survey, split, cell_dir, train)
    # allow_bad_diagnostics: the runner gated the survey posterior once, before any cell (prepare_shared)
    prefs, summary = build_preferences(
        survey, scale=p["scale"], strategy=p["strategy"], groups=tuple(p["groups"]), jury=p.get("jury"),
        objective=p["objective"], weights=p.get("weights"), seed=cell.seed, split=split,
        posterior=shared.posterior if get_strategy(p["strategy"]).needs_posterior else None,
        allow_bad_diagnostics=True, **p.get("prefs", {}))
    write_preferences(prefs, cell_dir / "prefs.parquet", split=split, summary=summary,
                      options={k: v for k, v in p.items() if v is not None}, seed=cell.seed)
    options = {**train, "seed": cell.seed, "rater": shared.rater, "objective": p["objective"],
               "group": _group_dict(p["groups"])}
    if isinstance(p.get("weights"), dict):
        options["weights"] = p["weights"]
    config = plugin_cls.config_class.from_options(**options)
    model_dir = plugin_cls().train(prefs, shared.base_model, config, cell_dir / "model")
    return Path(model_dir), {"pairs": len(prefs), "train": config.to_dict()}


def run_cell(cell: Cell, shared: Shared, cell_dir: str | Path, train: dict[str, Any],
             evaluate: dict[str, Any], progress=None) -> dict[str, Any]:
    """Run one cell to its scores; never raises (a failure is recorded and returned)."""
    from pluralstats.evaluate.generate import GenerationConfig
    from pluralstats.evaluate.run import evaluate_models
    from pluralstats.scoring import scorer_by_name
    from pluralstats.survey import load_survey

    quiet_libraries()
    cell_dir = Path(cell_dir)
    cell_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    info: dict[str, Any] = {"label": cell.label, "seed": cell.seed, "params": cell.params, "worker": worker_info()}
    try:
        survey = load_survey(shared.bundle)
        split = shared.load_split()
        if cell.is_control:
            model_dir = Path(shared.base_model)
        else:
            model_dir, trained = train_cell(cell, shared, survey, split, cell_dir, train)
            info.update(trained)
        gen = GenerationConfig(**{k: evaluate[k] for k in GEN_KEYS if k in evaluate})
        scorer = scorer_by_name(evaluate.get("scorer") or "rater", rater=shared.rater)  # checked with the config
        # the evaluate command's own function, without the shift model: the runner fits one over every cell
        evaluation = evaluate_models(survey, {cell.label: model_dir}, control=None, split=split,
                                     max_prompts=evaluate.get("max_prompts"), scorer=scorer, generation=gen,
                                     seed=cell.seed, progress=progress)
        scores = evaluation.scores.drop(columns=["model", "run"])  # the runner labels them by condition and seed
        with atomic_path(cell_dir / "scores.parquet") as tmp:
            scores.to_parquet(tmp, index=False)
        info.update(status="done", model=str(model_dir), prompts=len(evaluation.prompts), generation=gen.to_dict())
    except Exception as exc:  # recorded and reported by the runner, never hidden
        info.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        (cell_dir / "error.txt").write_text(traceback.format_exc())
    info["seconds"] = round(time.perf_counter() - start, 1)
    write_manifest(cell_dir, "experiment cell", inputs=[shared.bundle, shared.split], seed=cell.seed,
                   options={"label": cell.label, **cell.params}, extra=info)
    return info
