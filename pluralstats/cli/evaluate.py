"""Commands of the evaluation stage: evaluate, experiment run, plot, report, demo."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import pandas as pd
from rich.progress import Progress
from rich.table import Table

from pluralstats.cli.common import console, dimensions_option, err_console, seed_option, writes
from pluralstats.cli.survey import allow_outside_option, suppress_option
from pluralstats.errors import DiagnosticsError
from pluralstats.io import write_manifest


def _models(ctx, param, values: tuple[str, ...]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for spec in values:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"'{spec}': expected NAME=DIR")
        if name in out:
            raise click.BadParameter(f"model name '{name}' given twice")
        out[name] = Path(path)
    return out


INFERENCE = {"new-prompts": "prompts", "these-prompts": "evaluated"}  # --inference -> ShiftSettings.population


def shift_table(table: pd.DataFrame, title: str) -> Table:
    """A console table of the Bayesian shifts vs the control (estimate, relative change, P(better)), with
    the one-training-run note when a model has a single run."""
    from pluralstats.report import ONE_RUN_NOTE

    rows = table[(table.comparison == "shift") & (table.method == "bayes")]
    one_run = "n_runs" in rows and (rows.n_runs == 1).any()
    view = Table(title=title, caption=f"note: {ONE_RUN_NOTE}" if one_run else None)
    for col in ("model", "dimension", "shift [95%]", "rel % [95%]", "P(better)"):
        view.add_column(col, justify="left" if col in ("model", "dimension") else "right")
    for r in rows.itertuples():
        view.add_row(str(r.model), r.dimension, f"{r.estimate:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]",
                     f"{r.rel_pct:+.1f} [{r.rel_lo:+.1f}, {r.rel_hi:+.1f}]", f"{r.p_better:.3f}")
    return view


def _evaluation_files(kwargs: dict) -> list[Path]:
    """What ``evaluate`` writes beside its results table: the scores, the shift posterior, the thinking summary."""
    from pluralstats.evaluate.evaluation import artifact_paths
    from pluralstats.evaluate.reasoning import reasoning_path

    paths = artifact_paths(kwargs["out"])
    return [paths["scores"], paths["posterior"], reasoning_path(kwargs["out"])]


def _figure_files(kwargs: dict) -> list[Path]:
    from pluralstats.experiments.plots import planned_outputs

    return planned_outputs(kwargs["source"], kwargs["out"], figure=kwargs["figure"])


def _figure_inputs(kwargs: dict) -> list[Path]:
    from pluralstats.experiments.plots import plot_inputs

    return plot_inputs(kwargs["source"])


@writes("file", beside=_evaluation_files)
@click.command("evaluate")
@allow_outside_option
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--model", "models", multiple=True, required=True, callback=_models, metavar="NAME=DIR",
              help="A model to evaluate (repeat); one of them is the control.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="results.parquet to write.")
@click.option("--control", default="control", show_default=True, help="Name of the untuned model.")
@click.option("--split", "split_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="Held-out prompts: a prefs parquet (its recorded split) or a split CSV. "
                   "Default: prompt_split(--eval-fraction, --seed).")
@click.option("--eval-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
              help="Held-out prompt share when no --split is given (drawn with --seed).")
@click.option("--rater", type=click.Path(exists=True, path_type=Path), default=None,
              help="A saved rater model (default: fit one on the train prompts).")
@click.option("--scorer", default=None, help="Another scorer: module:Class or a 'pluralstats.scorers' entry point.")
@click.option("--completions", type=click.IntRange(1), default=4, show_default=True, help="Per prompt.")
@click.option("--max-prompts", type=click.IntRange(1), default=None, help="Cap on held-out prompts.")
@click.option("--max-new-tokens", type=click.IntRange(1), default=32, show_default=True,
              help="Longest completion in tokens.")
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True,
              help="Prompts generated at once.")
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=0.8, show_default=True,
              help="Sampling temperature.")
@click.option("--thinking", default="auto", show_default=True,
              help="Reasoning models' thinking markers: auto (from the chat template), off, or OPEN,CLOSE; "
                   "scorers see the answer only.")
@click.option("--draws", type=click.IntRange(100), default=1000, show_default=True,
              help="Shift model: posterior draws per chain.")
@click.option("--tune", type=click.IntRange(100), default=1000, show_default=True,
              help="Shift model: tuning steps per chain.")
@click.option("--chains", type=click.IntRange(1), default=2, show_default=True,
              help="Shift model: chains (R-hat needs at least 2).")
@click.option("--backend", type=click.Choice(["nutpie", "pymc"]), default="nutpie", show_default=True,
              help="Shift model sampler (both exact NUTS).")
@click.option("--bootstrap", type=click.IntRange(0), default=2000, show_default=True,
              help="Prompt-level bootstrap replicates for the check (0: off).")
@click.option("--inference", type=click.Choice(list(INFERENCE)), default="new-prompts", show_default=True,
              help="new-prompts: the shift for a new prompt (and training run), model-by-prompt and run-to-run "
                   "variation in its interval; these-prompts: the shift averaged over the evaluated prompts.")
@click.option("--allow-bad-diagnostics", is_flag=True,
              help="Exit 0 even if the shift model fails its R-hat/ESS/divergence checks.")
@seed_option
def evaluate_cmd(bundle, models, out, control, split_file, eval_fraction, rater, scorer, completions, max_prompts,
                 max_new_tokens, batch_size, temperature, thinking, draws, tune, chains, backend, bootstrap, inference,
                 allow_bad_diagnostics, seed):
    """Generate on held-out prompts, score every dimension, estimate shifts vs the control (posterior + table).

    Exits 3 (after writing, so the fit can be inspected) when the shift model fails its diagnostics
    (R-hat > 1.01, bulk ESS < 400 or any divergence), unless --allow-bad-diagnostics.
    """
    from pluralstats.cli.survey import read_bundle
    from pluralstats.evaluate.evaluation import ShiftSettings
    from pluralstats.evaluate.generate import GenerationConfig
    from pluralstats.evaluate.run import check_models, evaluate_models, write_evaluation
    from pluralstats.evaluate.scorers import RaterScorer, load_scorer

    gen = GenerationConfig(completions=completions, max_new_tokens=max_new_tokens, batch_size=batch_size,
                           temperature=temperature, thinking=thinking)
    settings = ShiftSettings(draws=draws, tune=tune, chains=chains, backend=backend, bootstrap=bootstrap,
                             population=INFERENCE[inference])
    check_models(models, control)  # before the survey is read, the rater fitted and anything generated
    survey = read_bundle(bundle)
    start = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        evaluation = evaluate_models(
            survey, models, control=control, split=split_file, eval_fraction=eval_fraction, max_prompts=max_prompts,
            scorer=load_scorer(scorer) if scorer else (RaterScorer.load(rater) if rater else None), generation=gen,
            settings=settings, seed=seed, progress=progress)
    console.print(f"{len(models)} models x {len(evaluation.prompts)} prompts x {completions} completions scored and "
                  f"the shift model fitted in {time.perf_counter() - start:.0f} s")
    paths = write_evaluation(evaluation, out, inputs=[bundle, *models.values(), *([rater] if rater else [])],
                             seed=seed, options={"models": models, "control": control, "generation": gen.to_dict(),
                                                 "shift_model": settings.__dict__,
                                                 "scorer": scorer or str(rater or "rater (fitted)")})
    console.print(shift_table(evaluation.result.table, f"Shift vs {control} (rating points, 95% intervals)"))
    if len(evaluation.reasoning):
        console.print("Thinking segments per model (unclosed ones scored as empty answers):\n"
                      + evaluation.reasoning.to_string(index=False))
    console.print("Wrote " + ", ".join(str(p) for p in paths.values()))
    gate_shift_model(evaluation.result.diagnostics, allow_bad_diagnostics, "rerun with more --draws/--tune")


def gate_shift_model(diag, allow_bad: bool, remedy: str) -> None:
    """A shift model that failed its R-hat/ESS/divergence checks: print its diagnostics table, then exit 3
    (:class:`DiagnosticsError`) unless ``allow_bad`` (a warning then). Nothing when it passed."""
    if diag.ok:
        return
    err_console.print(diag.rich_table())
    if not allow_bad:
        raise DiagnosticsError("the shift model failed its diagnostics: " + "; ".join(diag.problems)
                               + f" ({remedy}, or pass --allow-bad-diagnostics)")
    err_console.print("[yellow]warning:[/] the shift model failed its diagnostics (kept: --allow-bad-diagnostics)",
                      markup=True)


def grid_override(config: Path, items: tuple[str, ...]) -> dict:
    """The config's ``[grid]`` with the factors of ``--grid FACTOR=VALUES`` (a TOML list) replaced."""
    import tomllib

    from pluralstats.errors import InputError

    try:
        grid = dict(tomllib.loads(config.read_text(encoding="utf-8")).get("grid", {}))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # load_experiment reports the file itself
    for item in items:
        name, sep, value = item.partition("=")
        try:
            grid[name.strip()] = tomllib.loads(f"v = {value}")["v"] if sep and name.strip() else None
        except tomllib.TOMLDecodeError:
            grid[name.strip()] = None
        if grid[name.strip()] is None:
            raise InputError(f"--grid '{item}' must be FACTOR=[values] in TOML, e.g. objective=[\"toxicity\"]")
    return grid


@click.group("experiment")
def experiment() -> None:
    """Run the study's experiments from declarative configs (analyses/experiments/*.toml)."""


@writes("folder")
@experiment.command("run")
@click.argument("config", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Experiment folder (default: runs/<config name>).")
@click.option("--backend", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Run cells one after another in this process (local) or as Ray tasks (ray).")
@click.option("--address", default=None, help="Ray cluster address (default: start a local instance).")
@click.option("--num-cpus", type=click.IntRange(1), default=None, help="CPUs of a local Ray instance.")
@click.option("--threads", type=click.IntRange(1), default=None, help="Torch threads per cell.")
@click.option("--seeds", default=None,
              help="Override the config's training seeds (each condition is trained once per seed), e.g. '0,1'.")
@click.option("--grid", "grid_values", multiple=True, metavar="FACTOR=VALUES",
              help="Replace one [grid] factor's values for this run (repeatable), as TOML: "
                   "--grid 'objective=[\"toxicity\"]' runs that part of the grid; its cells keep their folders.")
@click.option("--no-retry-failed", is_flag=True, help="Leave failed cells failed instead of retrying them.")
@click.option("--ray-retries", type=click.IntRange(0), default=0, show_default=True,
              help="Ray: rerun a cell whose worker or node died this many times within the run (0: it is "
                   "reported failed and the next run reruns it).")
@click.option("--gpus-per-cell", type=click.FloatRange(0), default=0, show_default=True,
              help="Ray: GPUs each cell reserves (Ray hides the GPUs from a cell that reserves none).")
# not redundant with --seeds: this one seeds the shift model's sampler over the finished cells' scores
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the shift model's sampler (training seeds: --seeds); the same seed, the same table.")
@click.option("--allow-bad-diagnostics", is_flag=True,
              help="Print the shifts and exit 0 even if the shift model fails its R-hat/ESS/divergence checks.")
def experiment_run(config, out, backend, address, num_cpus, threads, seeds, grid_values, no_retry_failed,
                   ray_retries, gpus_per_cell, seed, allow_bad_diagnostics):
    """Run or resume every cell (finished cells are skipped), then write one results table.

    Exits 3 (after writing, so the fit can be inspected) without printing shifts when the shift model fails
    its diagnostics, unless --allow-bad-diagnostics; exits 1 when a cell failed."""
    from pluralstats.experiments.experiment_config import load_experiment
    from pluralstats.experiments.runner import run_experiment

    overrides: dict = {"seeds": [int(s) for s in seeds.split(",")]} if seeds else {}
    if grid_values:
        overrides["grid"] = grid_override(config, grid_values)
    cfg = load_experiment(config, overrides)
    out = out or Path("runs") / cfg.name
    report = run_experiment(cfg, out, backend=backend, address=address, num_cpus=num_cpus, threads=threads,
                            seed=seed, console=console, retry_failed=not no_retry_failed, ray_retries=ray_retries,
                            gpus_per_cell=gpus_per_cell)
    console.print(report.cells.drop(columns=["folder"]).to_string(index=False))
    if len(report.failed):
        err_console.print(f"[red]{len(report.failed)} cell(s) failed[/] (see cells.csv and each error.txt)",
                          markup=True)
    if report.result is not None:
        console.print(f"Wrote {out / 'results.parquet'}")
        gate_shift_model(report.result.diagnostics, allow_bad_diagnostics,
                         "raise [evaluate] draws/tune in the config and rerun: finished cells are kept")
        console.print(shift_table(report.result.table, f"{cfg.name}: shift vs control"))
    if len(report.failed):
        sys.exit(1)


@writes("file", main=lambda kwargs: next(iter(_figure_files(kwargs)), None),
        beside=lambda kwargs: _figure_files(kwargs)[1:],
        inputs=_figure_inputs)
@click.command("plot")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Folder (default: SOURCE's folder).")
@click.option("--figure", type=click.IntRange(2, 5), default=None, help="Default: the experiment's own.")
@dimensions_option("Comma-separated (default: toxicity; Figure 5: toxicity and EA).")
@click.option("--value", type=click.Choice(["rel_pct", "estimate"]), default="rel_pct", show_default=True,
              help="Plot shifts in percent of the control's mean (rel_pct) or in rating points (estimate).")
@seed_option
@suppress_option
def plot_cmd(source, out, figure, dimensions, value, seed, suppress_small):
    """Figures 2-5 (PNG + PDF) from an experiment folder or a results.parquet (Figure 1: describe)."""
    from pluralstats.experiments.plots import plot_source

    written = plot_source(source, out, figure=figure, value=value,
                          dimensions=dimensions, seed=seed,
                          suppress_small=suppress_small)
    console.print("Wrote " + ", ".join(map(str, written)))


@writes("file", main=lambda kwargs: Path(kwargs["folder"]) / "report.md", inputs=lambda kwargs: [])
@click.command("report")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--title", default="pluralstats report", show_default=True, help="The report's heading.")
@suppress_option
def report_cmd(folder, title, suppress_small):
    """A one-page Markdown report linking every figure and table under FOLDER."""
    from pluralstats.report import build_report

    path = build_report(folder, title=title, suppress_small=suppress_small)
    write_manifest(path, "report", options={"folder": str(folder), "title": title, "suppress_small": suppress_small})
    console.print(f"Wrote {path}")


@writes("folder")
@click.command("demo")
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-out"), show_default=True,
              help="Folder for every step's output and the report (a rerun resumes).")
@click.option("--threads", type=click.IntRange(1), default=2, show_default=True, help="Torch threads.")
@seed_option
def demo_cmd(out, threads, seed):
    """The whole pipeline on the simulated survey (< 15 min on 2 CPU cores); prints where the report is."""
    from pluralstats.demo import run_demo

    start = time.perf_counter()
    result = run_demo(out, seed=seed, console=console, threads=threads)
    console.print(result["headline"])
    console.print(f"Demo finished in {time.perf_counter() - start:.0f} s. Report: {result['report']}")


COMMANDS = [evaluate_cmd, experiment, plot_cmd, report_cmd, demo_cmd]
