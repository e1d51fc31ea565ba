"""``pluralstats demo``: the whole study, small but real, on the built-in simulated survey.

simulate -> describe -> fit-survey (with group x item terms for the attribute whose groups it tunes) ->
compare -> disagreements -> prefs (posterior strategy) -> tiny model -> DPO for two groups -> evaluate ->
compare with tuned models -> report, everything under one folder. Every step calls the
Python API functions the commands call (and writes the same files and manifests); tuning and evaluation
are the experiment runner's cells, so a rerun resumes. Sizes are chosen to finish in under 15 minutes
on 2 CPU cores (``DemoSizes``). The demo sits above the experiment layer and below the CLI: it prints
its own progress and never imports :mod:`pluralstats.cli`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pluralstats.experiments.experiment_config import ExperimentConfig
from pluralstats.io import check_output, claim_output_dir, output_policy, write_manifest


@dataclass(frozen=True)
class DemoSizes:
    """Small but real: enough data and training for the toxicity shift to be measurable."""

    participants: int = 300
    prompts_per_language: int = 16
    responses_per_prompt: int = 5
    survey_draws: int | None = None  # per chain, 4 chains; None: the gate's rule (gate_draws)
    survey_tune: int | None = None  # None: the fit's own default (default_tune)
    survey_dimensions: tuple[str, ...] = ("toxicity", "emotional_awareness")  # Figure 2's two dimensions
    survey_attributes: tuple[str, ...] = ("political", "gender")
    #: attributes with group x item terms: the tuned groups' attribute, so that their preference sets (the
    #: posterior strategy) can order responses differently
    survey_disagreement: tuple[str, ...] = ("political",)
    strategy: str = "posterior"
    #: sd (logits) of the group x item terms planted in the simulated survey for the tuned groups' attribute
    #: (the simulator's default plants none), so that the demo has disagreement to find; recorded in truth.json
    planted_disagreement: float = 0.5
    tiny_steps: int = 300
    dpo_steps: int = 60
    dpo_learning_rate: float = 5e-4
    dpo_beta: float = 0.1
    completions: int = 6
    max_new_tokens: int = 32
    shift_draws: int = 1000
    groups: tuple[str, str] = ("liberal", "conservative")
    #: only for toy sizes (tests): use the survey posterior even if it fails its convergence checks, and say so
    allow_bad_diagnostics: bool = False


def demo_experiment(out: Path, sizes: DemoSizes, seed: int) -> ExperimentConfig:
    """The demo as an experiment: two DPO cells (one per group, toxicity objective) and the control."""
    attribute = "political"
    return ExperimentConfig(
        name="demo", path=out / "demo.toml", figure=2, seeds=[seed],
        description="DPO on each political group's toxicity preferences vs the untuned control",
        data={"bundle": str(out / "survey"), "seed": seed, "eval_fraction": 0.25},
        cell={"method": "dpo", "scale": 5, "strategy": sizes.strategy, "objective": "toxicity"},
        grid={"groups": [[f"{attribute}={g}"] for g in sizes.groups]},
        base_model={"steps": sizes.tiny_steps},
        train={"max_steps": sizes.dpo_steps, "learning_rate": sizes.dpo_learning_rate, "beta": sizes.dpo_beta,
               "batch_size": 8, "progress": False, "device": "cpu"},
        evaluate={"completions": sizes.completions, "max_new_tokens": sizes.max_new_tokens,
                  "draws": sizes.shift_draws, "tune": sizes.shift_draws, "bootstrap": 2000},
        survey_model={"path": str(out / "survey-posterior.nc"),
                      **({"allow_bad_diagnostics": True} if sizes.allow_bad_diagnostics else {})},
        compare=[list(sizes.groups)],
    )


def run_demo(out: str | Path, *, seed: int = 0, sizes: DemoSizes | None = None, console=None,
             threads: int | None = 2) -> dict:
    """Run every step into ``out``; return what was done (step timings, report path, headline)."""
    from pluralstats.experiments.runner import run_experiment
    from pluralstats.report import build_report

    sizes = sizes or DemoSizes()
    out = Path(out).resolve()  # the experiment config inside resolves paths against its own folder
    claim_output_dir(out, "demo")
    say = console.print if console is not None else print
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object], done: Path | None = None) -> None:
        if done is not None and done.exists():
            say(f"- {name}: already done ({done})")
            return
        say(f"- {name}")
        start = time.perf_counter()
        fn()
        timings[name] = round(time.perf_counter() - start, 1)
        say(f"  done in {timings[name]:.0f} s")

    bundle, posterior = out / "survey", out / "survey-posterior.nc"
    a, b = sizes.groups
    step("simulate", lambda: simulate_step(bundle, sizes, seed), bundle / "survey.toml")
    step("describe (Figure 1)", lambda: describe_step(bundle, out / "describe", seed), out / "describe")
    step("fit-survey", lambda: fit_step(bundle, posterior, sizes, seed), posterior)
    step("compare (survey)", lambda: compare_step(posterior, out / "compare-survey", sizes, seed),
         out / "compare-survey")
    if sizes.survey_disagreement:
        step("disagreements", lambda: say("\n".join(disagreements_step(posterior, out / "disagreements", sizes))),
             out / "disagreements")
    config = demo_experiment(out, sizes, seed)
    holder: dict = {}
    step("prefs -> tiny model -> DPO x2 -> evaluate",
         lambda: holder.update(report=run_experiment(config, out / "tuned", seed=seed, threads=threads,
                                                     console=console)))
    report = holder.get("report")
    if report is not None and len(report.failed):
        say(f"failed cells: {report.failed[['label', 'seed', 'error']].to_dict('records')}")
    step("compare with tuned models (Figure 2)",
         lambda: compare_step(posterior, out / "compare-models", sizes, seed, out / "tuned" / "results.parquet",
                              console))
    headline = toxicity_headline(out / "tuned" / "results.parquet", a, seed)
    path = build_report(out, title="pluralstats demo", notes=[f"Seed {seed}; sizes: {asdict(sizes)}.", headline])
    # as `pluralstats report` records it, so that rebuilding the report with that command replaces this one
    write_manifest(path, "report", options={"folder": str(out), "title": "pluralstats demo"})
    timings["total"] = round(sum(timings.values()), 1)
    write_manifest(out, "demo", seed=seed, options=asdict(sizes), extra={"timings": timings, "headline": headline})
    return {"report": path, "timings": timings, "headline": headline}


def simulate_step(bundle: Path, sizes: DemoSizes, seed: int) -> None:
    """Simulate the study-shaped survey (paper effects) and save it with its truth, as ``simulate`` does."""
    from pluralstats.survey import save_survey
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    planted = {a: sizes.planted_disagreement for a in sizes.survey_disagreement} if sizes.planted_disagreement else {}
    cfg = SimulationConfig(n_participants=sizes.participants, prompts_per_language=sizes.prompts_per_language,
                           responses_per_prompt=sizes.responses_per_prompt, disagreement_by=planted)
    with output_policy("simulate"):
        check_output(bundle)
        sim = simulate_survey(cfg, seed=seed)
        save_survey(sim.survey, bundle, extra_files={"truth.json": json.dumps(sim.truth, indent=1) + "\n"})
        write_manifest(bundle, "simulate", options=cfg.__dict__, seed=seed)


def describe_step(bundle: Path, out: Path, seed: int) -> None:
    """Figure 1 and the other descriptives, as ``describe`` writes them."""
    from pluralstats.survey import load_survey
    from pluralstats.survey.describe import describe, write_descriptives

    with output_policy("describe", [bundle]):
        check_output(out)
        survey = load_survey(bundle)
        write_descriptives(describe(survey), out, inputs=[*survey.sources], seed=seed,
                           options={"thresholds": {}, "suppress_small": True, "bundle": str(bundle)})


def fit_step(bundle: Path, posterior: Path, sizes: DemoSizes, seed: int) -> None:
    """Fit the rating model and save the posterior, as ``fit-survey`` does (its diagnostics gate included)."""
    from pluralstats.models import fit_survey
    from pluralstats.models.diagnostics import require_diagnostics
    from pluralstats.models.fit import MAX_CHAINS
    from pluralstats.models.fit_output import write_fit
    from pluralstats.survey import load_survey

    options = {"dimensions": list(sizes.survey_dimensions), "attributes": list(sizes.survey_attributes),
               "disagreement": list(sizes.survey_disagreement) or None,
               "draws": sizes.survey_draws, "tune": sizes.survey_tune, "seed": seed,
               "max_chains": None if sizes.allow_bad_diagnostics else MAX_CHAINS}
    with output_policy("fit-survey", [bundle]):
        check_output(posterior)
        idata = fit_survey(load_survey(bundle), progress=False, **options)
        write_fit(idata, posterior, inputs=[bundle], seed=seed, options=options)
    require_diagnostics(idata, allow_bad=sizes.allow_bad_diagnostics)


def compare_step(posterior: Path, out: Path, sizes: DemoSizes, seed: int, eval_path: Path | None = None,
                 console=None) -> None:
    """The two groups' survey difference (``compare``), beside the tuned models' when ``eval_path`` is given
    (Figure 2, and the agreement table printed to ``console``)."""
    from pluralstats.evaluate.compare_models import agreement_view
    from pluralstats.evaluate.comparison_report import comparison_report

    inputs = [posterior, *([eval_path] if eval_path else [])]
    with output_policy("compare", inputs):
        check_output(out)
        report = comparison_report(posterior, sizes.groups, out, allow_bad=sizes.allow_bad_diagnostics,
                                   dimensions=list(sizes.survey_dimensions) if eval_path is not None else None,
                                   eval_path=eval_path, seed=seed)
    shown = report.table[~report.table["suppressed"]]
    if eval_path is not None and not shown.empty:
        if console is None:
            from rich.console import Console

            console = Console(highlight=False, markup=False)  # as the CLI's: names print as written
        console.print(agreement_view(shown))


def disagreements_step(posterior: Path, out: Path, sizes: DemoSizes) -> list[str]:
    """The items and pairs the two tuned groups disagree on most, as ``disagreements`` writes them; returns
    its summary lines."""
    from pluralstats.estimates.disagreements import find_disagreements, write_disagreements
    from pluralstats.estimates.group_comparison import resolve_groups
    from pluralstats.models import load_posterior

    with output_policy("disagreements", [posterior]):
        check_output(out)
        idata = load_posterior(posterior)
        found = find_disagreements(idata, *resolve_groups(idata, *sizes.groups), dimensions=sizes.survey_dimensions,
                                   allow_bad=sizes.allow_bad_diagnostics)
        write_disagreements(found, out, inputs=[posterior],
                            options={"dimensions": list(sizes.survey_dimensions), "suppress_small": True})
    return found.summary()


def toxicity_headline(results_path: Path, model: str, seed: int) -> str:
    """The DPO-vs-control toxicity shift, as the report and the console print it."""
    import pandas as pd

    table = pd.read_parquet(results_path)
    row = table[(table.comparison == "shift") & (table.dimension == "toxicity") & (table.method == "bayes")
                & (table.model == model)].iloc[0]
    excl = "excludes" if row.hi < 0 or row.lo > 0 else "includes"
    return (f"DPO ({model}, toxicity objective) vs control, scored toxicity: {row.estimate:+.3f} points "
            f"[{row.lo:+.3f}, {row.hi:+.3f}], {row.rel_pct:+.1f}% [{row.rel_lo:+.1f}, {row.rel_hi:+.1f}]; "
            f"95% interval {excl} 0; P(lower) = {row.p_better:.3f}; seed {seed}.")
