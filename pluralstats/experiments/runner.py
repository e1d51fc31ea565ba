"""``pluralstats experiment run CONFIG``: run every cell (skipping finished ones), then one results table.

Cells run locally in sequence, or as Ray tasks (``backend="ray"``: a local instance, or a cluster
given by ``address``), so a grid can outgrow one machine without changing its config. Cells only
share files (the experiment folder must be on storage every worker sees). When every cell has its
scores, one shift model over all of them (conditions as models, seeds as training runs) gives
each condition's shift against the control and every pairwise difference, as ``evaluate`` does.

Outputs in the experiment folder: ``cells/<condition>/seed-<n>/``, ``cells.csv`` (status of every
cell), ``results.parquet`` (+ ``results.scores.parquet``, ``results.posterior.nc``), a manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pluralstats.evaluate.evaluation import EvalResult, ShiftSettings, shift_results, write_results
from pluralstats.experiments.cell import cell_status, run_cell
from pluralstats.experiments.experiment_config import Cell, ExperimentConfig
from pluralstats.experiments.shared import Shared, prepare_shared
from pluralstats.finetune.trl_helpers import quiet_libraries
from pluralstats.io import atomic_path, claim_output_dir, write_manifest
from pluralstats.prefs.strategy_registry import get_strategy

SHIFT_KEYS = ("draws", "tune", "chains", "backend", "bootstrap")


@dataclass
class RunReport:
    """What an experiment run did: its folder, the status of every cell, the evaluation of the finished cells
    (None when there was nothing to compare with the control) and the cells skipped as already finished."""

    out: Path
    cells: pd.DataFrame  # label, seed, status, seconds, error, skipped
    result: EvalResult | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def failed(self) -> pd.DataFrame:
        """The rows of ``cells`` whose run failed."""
        return self.cells[self.cells.status == "failed"]


def _cell_task(cell: Cell, shared: Shared, cell_dir: str, train: dict, evaluate: dict,
               threads: int | None) -> dict[str, Any]:
    """What a worker runs: a cell with a bounded number of torch threads."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    return run_cell(cell, shared, cell_dir, train, evaluate)


def _run_local(todo, shared, config, out, threads, console) -> list[dict]:
    from rich.progress import Progress

    results = []
    with Progress(console=console, transient=True) as progress:
        overall = progress.add_task("cells", total=len(todo))
        for cell in todo:
            if threads:
                import torch

                torch.set_num_threads(threads)
            results.append(run_cell(cell, shared, out / "cells" / cell.key,
                                    config.train_options(cell.params.get("method")), config.evaluate,
                                    progress=progress))
            progress.advance(overall)
    return results


def _run_ray(todo, shared, config, out, threads, address, num_cpus, console, retries: int = 0,
             gpus: float = 0) -> list[dict]:
    """Every cell as a Ray task of ``threads`` CPUs and ``gpus`` GPUs (Ray hides the GPUs from a task that
    asks for none). A cell whose worker process or node dies is retried ``retries`` times by Ray, then
    reported failed with the Ray error: its folder has no ``done`` manifest, so the next run reruns it."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false"}})
    try:
        # SPREAD: cells are long and independent; packing them onto the driver's node first would leave the
        # other nodes idle while cells queue
        task = ray.remote(num_cpus=threads or 1, num_gpus=gpus, max_retries=retries,
                          scheduling_strategy="SPREAD")(_cell_task)
        refs = {task.remote(c, shared, str(out / "cells" / c.key), config.train_options(c.params.get("method")),
                            config.evaluate, threads): c for c in todo}
        results = []
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                cell = refs[ref]
                try:
                    results.append(ray.get(ref))
                except Exception as exc:  # a worker crash (not a cell error): still reported
                    results.append({"label": cell.label, "seed": cell.seed, "status": "failed",
                                    "error": f"ray: {type(exc).__name__}: {exc}"})
                if console is not None:
                    console.print(f"  cell {cell.label} seed {cell.seed}: {results[-1]['status']}")
        return results
    finally:
        if started:
            ray.shutdown()


def collect_scores(config: ExperimentConfig, out: Path) -> pd.DataFrame:
    """Every finished cell's scores, labelled by condition (model) and condition#seed (run)."""
    parts = []
    for cell in config.cells():
        path = out / "cells" / cell.key / "scores.parquet"
        if cell_status(path.parent) == "done":
            parts.append(pd.read_parquet(path).assign(model=cell.label, run=f"{cell.label}#s{cell.seed}"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _calibration(config: ExperimentConfig, shared: Shared) -> pd.DataFrame:
    """The cells' scorer calibrated on the held-out prompts' survey ratings (they score with the same one)."""
    from pluralstats.evaluate.calibration import scorer_calibration
    from pluralstats.scoring import scorer_by_name
    from pluralstats.survey import load_survey

    scorer = scorer_by_name(config.evaluate.get("scorer") or "rater", rater=shared.rater)
    return scorer_calibration(scorer, load_survey(shared.bundle), shared.load_split())


def run_experiment(config: ExperimentConfig, out: str | Path, *, backend: str = "local", address: str | None = None,
                   num_cpus: int | None = None, threads: int | None = None, seed: int = 0, console=None,
                   retry_failed: bool = True, ray_retries: int = 0, gpus_per_cell: float = 0) -> RunReport:
    """Run (or resume) ``config`` into ``out``; see the module docstring. ``ray_retries``: how often Ray reruns
    a cell whose worker or node died, within this run (0: it is reported failed and the next run reruns it);
    ``gpus_per_cell``: the GPUs each Ray cell reserves."""
    quiet_libraries()
    # absolute: the cells receive these paths, and a Ray worker on another node does not share the driver's cwd
    out = claim_output_dir(out, "experiment run").resolve()
    cells = config.cells()
    need_posterior = bool(config.compare) or any(get_strategy(c.params["strategy"]).needs_posterior
                                                  for c in cells if not c.is_control)
    shared = prepare_shared(config, out, need_posterior=need_posterior, console=console)
    status = {c.key: cell_status(out / "cells" / c.key) for c in cells}
    skipped = [c.key for c in cells if status[c.key] == "done"]
    todo = [c for c in cells if status[c.key] != "done" and (retry_failed or status[c.key] != "failed")]
    if console is not None:
        console.print(f"{len(cells)} cells: {len(skipped)} finished (skipped), {len(todo)} to run [{backend}]")
    if todo and backend == "ray":
        ran = _run_ray(todo, shared, config, out, threads, address, num_cpus or os.cpu_count(), console,
                       ray_retries, gpus_per_cell)
    elif todo:
        ran = _run_local(todo, shared, config, out, threads, console)
    else:
        ran = []
    by_key = {f"{r['label']}|{r['seed']}": r for r in ran}
    rows = []
    for c in cells:
        r = by_key.get(f"{c.label}|{c.seed}")
        rows.append({"label": c.label, "seed": c.seed, "folder": f"cells/{c.key}",
                     "status": r["status"] if r else (status[c.key] or "not run"),
                     "seconds": r.get("seconds") if r else None, "skipped": c.key in skipped,
                     "error": r.get("error", "") if r else ""})
    table = pd.DataFrame(rows)
    with atomic_path(out / "cells.csv") as tmp:
        table.to_csv(tmp, index=False)
    report = RunReport(out, table, skipped=skipped)
    scores = collect_scores(config, out)
    if not scores.empty and "control" in set(scores.model) and scores.model.nunique() > 1:
        settings = ShiftSettings(**{k: config.evaluate[k] for k in SHIFT_KEYS if k in config.evaluate})
        report.result = shift_results(scores, control="control", scale_max=shared.scale_max, settings=settings,
                                      signs=shared.signs, seed=seed, calibration=_calibration(config, shared))
        report.result.table.insert(0, "experiment", config.name)
        write_results(report.result, out / "results.parquet")
    write_manifest(out, "experiment run", inputs=[config.path], seed=seed,
                   options={"config": str(config.path), "backend": backend, "threads": threads},
                   extra={"experiment": config.name, "figure": config.figure, "shared": shared.to_dict(),
                          "compare": config.compare,
                          "allow_bad_diagnostics": bool(config.survey_model.get("allow_bad_diagnostics", False)),
                          "cells": table.status.value_counts().to_dict(),
                          # the CLI refuses to print shifts from a failed shift model; the record says why
                          "shift_diagnostics": report.result.diagnostics.summary() if report.result else None,
                          "shift_diagnostics_problems": report.result.diagnostics.problems if report.result else [],
                          "failed": table[table.status == "failed"][["label", "seed", "error"]].to_dict("records")})
    return report
