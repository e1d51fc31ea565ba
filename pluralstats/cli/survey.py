"""Commands of the survey stage: simulate, validate, describe."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import click
from rich.table import Table

from pluralstats.cli.common import console, dimensions_option, family_option, seed_option, show_warning, styled, writes
from pluralstats.errors import InputError
from pluralstats.io import add_inputs, write_manifest
from pluralstats.privacy import small_mark, suppressed_levels
from pluralstats.survey import SmallGroupWarning, Survey, load_survey, save_survey
from pluralstats.survey.describe import describe as describe_survey
from pluralstats.survey.describe import write_descriptives
from pluralstats.survey.simulate import simulate_survey
from pluralstats.survey.simulation_config import PAPER_EFFECTS, PRESETS, SimulationConfig, with_interactions

bundle_argument = click.argument("bundle", type=click.Path(exists=True, path_type=Path))
_source = click.option("--source", type=click.Path(path_type=Path), default=None,
                       help="Raw export to read through survey.toml's [mapping] (overrides mapping.source).")


def _remember_allow_outside(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    # read_bundle takes the flag from the context, so the commands taking --source need no extra parameter
    ctx.meta["allow_outside_paths"] = value
    return value


_allow_outside = click.option(
    "--allow-outside-paths", is_flag=True, expose_value=False, callback=_remember_allow_outside,
    help="Read files that survey.toml names outside the bundle folder (refused by default).")


#: --allow-outside-paths alone, for commands that read a bundle without a --source override
allow_outside_option = _allow_outside


def source_option(command):
    """--source and --allow-outside-paths: the options of every command reading a bundle through a mapping."""
    return _source(_allow_outside(command))


#: the one switch of small-cell suppression, on every command that shows groups
suppress_option = click.option(
    "--suppress-small/--no-suppress-small", default=True, show_default=True,
    help="Hide groups with fewer than k raters (survey.toml min_group_size), and the groups that would give them "
         "away; --no-suppress-small shows them (recorded in the manifest).")


def read_bundle(bundle: Path, source: Path | None = None, strict: bool = False) -> Survey:
    """Load a bundle, printing its small-cell warnings as every warning of a command is printed (once each)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallGroupWarning)
        context = click.get_current_context(silent=True)
        allow_outside = bool(context and context.meta.get("allow_outside_paths"))
        survey = load_survey(bundle, source=source, strict=strict, allow_outside_paths=allow_outside)
    add_inputs(survey.sources)  # files read through links or [mapping] paths outside the bundle
    for w in caught:
        if issubclass(w.category, SmallGroupWarning):
            show_warning(w.message, w.category, w.filename, w.lineno)
    return survey


def _parse_thresholds(values: tuple[str, ...], survey: Survey) -> dict[str, int]:
    out = {}
    for spec in values:
        name, _, value = spec.partition("=")
        if name not in survey.config.dimensions or not value.strip().isdigit():
            raise InputError(f"--threshold '{spec}': expected DIMENSION=INT with a dimension among "
                             f"{survey.dimensions}")
        out[name] = int(value)
        if not 1 <= out[name] <= survey.config.scale_max:  # no rating could reach it: an empty figure
            raise InputError(f"--threshold '{spec}': {out[name]} is outside the rating scale "
                             f"1..{survey.config.scale_max}")
    return out


@writes("folder")
@click.command()
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Bundle folder to write.")
@click.option("--participants", "n_participants", type=click.IntRange(2), default=1095, show_default=True,
              help="Raters in the simulated survey.")
@click.option("--prompts-per-language", type=click.IntRange(1), default=40, show_default=True,
              help="Prompts in each language of the study.")
@click.option("--responses-per-prompt", type=click.IntRange(2), default=5, show_default=True,
              help="Model responses per prompt (the rated items).")
@click.option("--prompts-per-participant", type=click.IntRange(1), default=5, show_default=True,
              help="Prompts each rater sees (all their responses, every dimension).")
@click.option("--interactions", "slope_ratio", type=click.FloatRange(-2, 2), default=None, metavar="RATIO",
              help="Also make each planted group follow response quality RATIO times as much as its reference "
                   "group (e.g. 0.6), so that the groups' preference pairs differ, not only their rating levels.")
@click.option("--disagreement", "disagreement", default="0", show_default=True, metavar="SD|A=SD,...",
              help="Plant group x item terms, N(0, SD) logits, zero-sum over levels within each item (truth.json "
                   "keeps every one): of every demographic attribute (SD), or of the named ones each with its own "
                   "sd (politics=0.27,gender=0.12). Groups then prefer different responses (fit them with "
                   "fit-survey --disagreement).")
@click.option("--disagreement-attributes", default=None, metavar="A,B",
              help="Plant --disagreement SD terms for these attributes only (default: every demographic attribute).")
@click.option("--scale", "scale_max", type=click.IntRange(2, 11), default=None,
              help="Rating scale 1..SCALE (2: binary) [default: 5, or the preset's].")
@dimensions_option("Rate these of the study's five dimensions only [default: all five, or the preset's].")
@click.option("--item-sd", type=click.FloatRange(0), default=None,
              help="Sd of the item effects beyond response quality, logits [default: 0.4, or the preset's].")
@click.option("--rater-sd", type=click.FloatRange(0), default=None,
              help="Sd of the rater effects, logits [default: 0.7, or the preset's].")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None,
              help="A named design whose settings the other options override. binary-toxicity: one binary "
                   "dimension, 545 raters rating 24 of 120 comments each in one language, politics "
                   "50/35/15%, gender, race with two tiny groups, item sd 3, rater sd 1, disagreement "
                   "politics=0.27,gender=0.12.")
@family_option
@seed_option
def simulate(out: Path, n_participants: int, prompts_per_language: int, responses_per_prompt: int,
             prompts_per_participant: int, slope_ratio: float | None, disagreement: str,
             disagreement_attributes: str | None, scale_max: int | None, dimensions: list[str] | None,
             item_sd: float | None, rater_sd: float | None, preset: str | None, family: str, seed: int) -> None:
    """Simulate a study-shaped survey with planted group effects (writes truth.json).

    Items: --prompts-per-language x --responses-per-prompt per language (two languages, one with a preset
    in one language); each rater rates --prompts-per-participant x --responses-per-prompt of them.
    """
    ctx = click.get_current_context()
    given = {k for k in ctx.params if ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT}
    settings = dict(PRESETS[preset]) if preset else {}
    cli_values = {"n_participants": n_participants, "prompts_per_language": prompts_per_language,
                  "responses_per_prompt": responses_per_prompt, "prompts_per_participant": prompts_per_participant}
    settings.update({k: v for k, v in cli_values.items() if k in given or k not in settings})
    for key, value in (("scale_max", scale_max), ("sigma_item", item_sd), ("sigma_rater", rater_sd)):
        if value is not None:
            settings[key] = value
    if dimensions:
        settings["dimensions"] = tuple(dimensions)
    if settings["prompts_per_participant"] > settings["prompts_per_language"]:
        raise InputError("--prompts-per-participant cannot exceed --prompts-per-language")
    base = settings.get("effects", PAPER_EFFECTS)
    settings["effects"] = base if slope_ratio is None else with_interactions(base, slope_ratio)
    shares = settings.get("attribute_shares", SimulationConfig().attribute_shares)
    if "disagreement" in given or "disagreement_by" not in settings:
        settings.update(_disagreement_settings(disagreement, disagreement_attributes, shares))
    cfg = SimulationConfig(**settings, family=family)
    with console.status("Simulating survey..."):
        sim = simulate_survey(cfg, seed=seed)
    save_survey(sim.survey, out, extra_files={"truth.json": json.dumps(sim.truth, indent=1) + "\n"})
    write_manifest(out, "simulate", options=cfg.__dict__, seed=seed)
    n_judgements = sim.survey.ratings.groupby(["participant_id", "item_id"]).ngroups
    console.print(f"Wrote {out}: {len(sim.survey.participants)} participants, {len(sim.survey.items)} responses "
                  f"to {sim.survey.items.prompt_id.nunique()} prompts, {n_judgements} ratings "
                  f"x {len(sim.survey.dimensions)} dimensions ({len(sim.survey.ratings)} rows); truth in truth.json")


def _disagreement_settings(spec: str, attributes: str | None, shares: dict) -> dict:
    """``--disagreement``: one sd (for ``--disagreement-attributes`` or every attribute) or ``A=SD,...``."""
    chosen = tuple(a.strip() for a in (attributes or "").split(",") if a.strip()) or None
    by: dict[str, float] = {}
    sd = 0.0
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        try:
            number = float(value if eq else name)
        except ValueError:
            raise InputError(f"--disagreement: '{part[:40]}' is not SD or ATTRIBUTE=SD") from None
        if number < 0:
            raise InputError(f"--disagreement: '{part[:40]}': an sd cannot be negative")
        if eq:
            by[name.strip()] = number
        else:
            sd = number
    unknown = sorted((set(chosen or ()) | set(by)) - set(shares))
    if unknown:
        raise InputError(f"--disagreement: unknown attribute {', '.join(unknown)}; valid: {', '.join(shares)}")
    return {"disagreement_by": by, "disagreement_sd": sd, "disagreement_attributes": chosen}


def summary_table(survey: Survey, suppress_small: bool = True) -> Table:
    """Raters per attribute level; small groups and their complementary ones suppressed (privacy rule)."""
    k = survey.config.min_group_size
    table = Table(title=f"Survey '{survey.config.name}'", show_lines=False)
    table.add_column("attribute")
    table.add_column("level")
    table.add_column("raters", justify="right")
    for attr in survey.attributes:
        sizes = survey.group_sizes(attr).sort_index()
        hidden = suppressed_levels(sizes, k) if suppress_small else []
        for level, n in sizes.items():
            shown = str(n) if str(level) not in hidden else f"{small_mark(k)} (suppressed)" if n < k else "suppressed"
            table.add_row(attr, str(level), shown)
    return table


@click.command()
@bundle_argument
@source_option
@click.option("--strict", is_flag=True, help="Treat small group cells (< k raters) as errors.")
@suppress_option
def validate(bundle: Path, source: Path | None, strict: bool, suppress_small: bool) -> None:
    """Check a survey bundle; list every problem (file, column, row) and exit 2 if any."""
    survey = read_bundle(bundle, source, strict)
    judgements = survey.ratings.groupby(["participant_id", "item_id"]).ngroups
    console.print(styled("[green]OK[/] ", f"{bundle}: {survey.ratings.participant_id.nunique()} raters, "
                  f"{len(survey.items)} items, {survey.items.prompt_id.nunique()} prompts, {judgements} "
                  f"judgements, {len(survey.ratings)} ratings on {len(survey.dimensions)} dimension(s) "
                  f"{survey.dimensions}, scale 1..{survey.config.scale_max}"))
    console.print(summary_table(survey, suppress_small))


@writes("folder")
@click.command()
@bundle_argument
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@source_option
@click.option("--threshold", multiple=True, metavar="DIM=INT",
              help="Positive threshold of a dimension for Figure 1 (repeatable); default from survey.toml.")
@suppress_option
@seed_option
def describe(bundle: Path, out: Path, source: Path | None, threshold: tuple[str, ...], suppress_small: bool,
             seed: int) -> None:
    """Figure 1, group means, rating distributions and Krippendorff's alpha per group."""
    survey = read_bundle(bundle, source)
    thresholds = _parse_thresholds(threshold, survey)
    with console.status("Computing descriptives (Krippendorff's alpha per group)..."):
        result = describe_survey(survey, thresholds, suppress_small)
    write_descriptives(result, out, inputs=[*survey.sources], seed=seed,
                       options={"thresholds": thresholds, "suppress_small": suppress_small, "bundle": str(bundle)})
    matrix = Table(title="Figure 1: P(positive in column | positive in row)")
    matrix.add_column("given")
    for col in result.conditional.columns:
        matrix.add_column(col.replace("_", " "), justify="right")
    for given, row in result.conditional.iterrows():
        matrix.add_row(given.replace("_", " "), *(f"{v:.2f}" for v in row))
    console.print(matrix)
    overall = result.agreement[result.agreement.attribute == "all"].set_index("dimension").alpha_ordinal
    console.print("Krippendorff's alpha (ordinal), all raters: "
                  + ", ".join(f"{d}={a:.3f}" for d, a in overall.items()))
    console.print(f"Wrote {out}/ (figure1_conditional.png/.pdf/.csv, group_means.csv, rating_distribution.*, "
                  "agreement.csv, manifest.json)")


COMMANDS = [simulate, validate, describe]
