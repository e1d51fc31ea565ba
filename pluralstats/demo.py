"""``pluralstats demo``: the whole study, small but real, on the built-in simulated survey.

simulate -> describe -> fit-survey -> compare -> prefs -> tiny model -> DPO for two groups ->
evaluate -> compare with tuned models -> report, everything under one folder. The survey-side
steps run the real commands in-process; tuning and evaluation are the experiment runner's cells
(the same functions ``prefs``, ``finetune`` and ``evaluate`` call), so a rerun resumes. Sizes are
chosen to finish in under 15 minutes on 2 CPU cores (``DemoSizes``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from pluralstats.experiments.config import ExperimentConfig
from pluralstats.io import claim_output_dir, write_manifest


@dataclass(frozen=True)
class DemoSizes:
    """Small but real: enough data and training for the toxicity shift to be measurable."""

    participants: int = 300
    prompts_per_language: int = 16
    responses_per_prompt: int = 5
    survey_draws: int = 1000  # enough for every gated quantity's ESS >= 400 (the demo reports from it)
    survey_tune: int = 500
    survey_dimensions: tuple[str, ...] = ("toxicity", "emotional_awareness")  # Figure 2's two dimensions
    survey_attributes: tuple[str, ...] = ("political", "gender")
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
        cell={"method": "dpo", "scale": 5, "strategy": "majority", "objective": "toxicity"},
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
    from pluralstats.cli import cli
    from pluralstats.experiments.runner import run_experiment
    from pluralstats.report import build_report

    sizes = sizes or DemoSizes()
    out = Path(out).resolve()  # the experiment config inside resolves paths against its own folder
    claim_output_dir(out, "demo")
    say = console.print if console is not None else print
    timings: dict[str, float] = {}

    def step(name: str, fn: Callable[[], object], done: Path | None = None) -> None:
        if done is not None and done.exists():
            say(f"[dim]- {name}: already done ({done})[/]")
            return
        say(f"[bold]- {name}[/]")
        start = time.perf_counter()
        fn()
        timings[name] = round(time.perf_counter() - start, 1)
        say(f"  done in {timings[name]:.0f} s")

    def command(*args: str) -> Callable[[], None]:
        return lambda: cli.main(list(args), standalone_mode=False)

    s = str(seed)
    bad = ["--allow-bad-diagnostics"] if sizes.allow_bad_diagnostics else []
    step("simulate", command("simulate", "--out", str(out / "survey"), "--participants", str(sizes.participants),
                             "--prompts-per-language", str(sizes.prompts_per_language), "--responses-per-prompt",
                             str(sizes.responses_per_prompt), "--seed", s), out / "survey" / "survey.toml")
    step("describe (Figure 1)", command("describe", str(out / "survey"), "--out", str(out / "describe"),
                                        "--seed", s), out / "describe")
    step("fit-survey", command("fit-survey", str(out / "survey"), "--out", str(out / "survey-posterior.nc"),
                               "--draws", str(sizes.survey_draws), "--tune", str(sizes.survey_tune),
                               "--dimensions", ",".join(sizes.survey_dimensions),
                               "--attributes", ",".join(sizes.survey_attributes),
                               *bad, "--seed", s), out / "survey-posterior.nc")
    a, b = sizes.groups
    step("compare (survey)", command("compare", str(out / "survey-posterior.nc"), "--groups", a, b, "--out",
                                     str(out / "compare-survey"), *bad, "--seed", s),
         out / "compare-survey")
    config = demo_experiment(out, sizes, seed)
    holder: dict = {}
    step("prefs -> tiny model -> DPO x2 -> evaluate",
         lambda: holder.update(report=run_experiment(config, out / "tuned", seed=seed, threads=threads,
                                                     console=console)))
    report = holder.get("report")
    if report is not None and len(report.failed):
        say(f"[red]failed cells:[/] {report.failed[['label', 'seed', 'error']].to_dict('records')}")

    step("compare with tuned models (Figure 2)",
         command("compare", str(out / "survey-posterior.nc"), "--groups", a, b, "--eval",
                 str(out / "tuned" / "results.parquet"), "--dimensions", ",".join(sizes.survey_dimensions),
                 "--out", str(out / "compare-models"), *bad, "--seed", s))
    headline = toxicity_headline(out / "tuned" / "results.parquet", a, seed)
    path = build_report(out, title="pluralstats demo", notes=[f"Seed {seed}; sizes: {asdict(sizes)}.", headline])
    timings["total"] = round(sum(timings.values()), 1)
    write_manifest(out, "demo", seed=seed, options=asdict(sizes), extra={"timings": timings, "headline": headline})
    return {"report": path, "timings": timings, "headline": headline}


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
