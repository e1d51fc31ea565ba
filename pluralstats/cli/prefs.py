"""The ``prefs`` command: build a preference dataset from a survey bundle (rules: docs/preferences.md)."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich import box
from rich.console import Console
from rich.table import Table

from pluralstats.cli.common import console, err_console, seed_option, styled, writes
from pluralstats.cli.survey import bundle_argument, read_bundle, source_option
from pluralstats.errors import InputError
from pluralstats.options import parse_settings
from pluralstats.prefs import PrefsSummary, build_preferences, split_path_for, write_preferences
from pluralstats.prefs.build import SPLIT_USES, resolve_split
from pluralstats.prefs.evidence import PAIRINGS
from pluralstats.prefs.strategy_registry import describe_strategies, get_strategy

WIDTH = 110  # when piped: wide enough for every column and the study's dimension names


def _cuts(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise InputError(f"--cuts '{text}' must be comma-separated integers, e.g. 2,3") from None


def _count(value: object) -> str:
    """A count, or "withheld" (None: suppressed under the privacy rule)."""
    return "withheld" if value is None or pd.isna(value) else str(value)


def print_summary(summary: PrefsSummary, rows: int, out: Path) -> None:
    """Pairs, ties, conflicting pairs, raters and items, per group and dimension."""
    out_console = console if console.is_terminal else Console(width=WIDTH, highlight=False, markup=False)
    head = (f"{rows} pairs -> {out}  (strategy {summary.strategy}, {summary.scale}-point, "
            f"{summary.pairing} pairing, objective {summary.objective}, {summary.use} prompts: "
            + ", ".join(f"{k} {v}" for k, v in sorted(summary.split_counts.items())) + ")")
    out_console.print(head)
    table = Table(title=f"group {summary.group}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("dimension", "candidates", "pairs", "ties", "conflicts", "raters", "items", "ratings"):
        table.add_column(col, justify="left" if col == "dimension" else "right")
    for r in summary.by_dimension.itertuples(index=False):
        table.add_row(r.dimension, *(_count(v) for v in (r.candidate_pairs, r.pairs, r.ties, r.conflicting,
                                                          r.raters, r.items, r.ratings)))
    out_console.print(table)
    if len(summary.groups) > 1 or summary.groups.group.iloc[0] != "all":
        groups = Table(title="raters by group", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("group", "share", "raters", "ratings", "items"):
            groups.add_column(col, justify="left" if col == "group" else "right")
        for g in summary.groups.itertuples(index=False):
            groups.add_row(g.group, f"{g.share:.3g}", _count(g.raters), _count(g.ratings), _count(g.items))
        out_console.print(groups)
    if summary.groups.suppressed.any() or summary.by_dimension.suppressed.any():
        out_console.print("withheld: rater and rating counts that, with the whole survey's, would give away a group "
                          "with fewer than k raters (docs/survey-bundle.md, Privacy)")
    if summary.items_incomplete:
        out_console.print(f"{summary.items_incomplete} response(s) left out: not rated on every objective "
                      "dimension")


@writes("file", beside=lambda kwargs: [split_path_for(kwargs["out"])])
@click.command()
@bundle_argument
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Parquet file to write.")
@click.option("--scale", type=int, default=None,
              help="Points: as collected (default; 5 in the study), 3 or 2; collapsed before aggregation.")
@click.option("--cuts", default=None, help="Collapse upper bounds, e.g. '2,3' for 3 points (1-2,3,4-5).")
@click.option("--strategy", default="majority", show_default=True,
              help="How the raters' ratings become pairs (any installed strategy; `pluralstats plugins`): "
                   + "; ".join(f"{r['name']}: {r['help'].rstrip('.')}" for r in describe_strategies()) + ".")
@click.option("--pairing", type=click.Choice(PAIRINGS), default="across", show_default=True,
              help="Rater evidence: every rating of one response against every rating of the other, "
                   "or each rater's own two ratings (raters who rated both).")
@click.option("--group", "groups", multiple=True, help="attribute=level or level; repeat to AND.")
@click.option("--jury", default=None,
              help="Weighted groups, e.g. 'political=liberal:0.5,political=conservative:0.5'.")
@click.option("--objective", default="toxicity", show_default=True, help="A dimension, or 'multi'.")
@click.option("--weights", default=None, help="For multi: 'toxicity=1,emotional_awareness=1,...'.")
@click.option("--posterior", type=click.Path(exists=True, path_type=Path), default=None,
              help="Fitted posterior (NetCDF) for --strategy posterior.")
@click.option("--max-draws", type=click.IntRange(1), default=None,
              help="posterior: draws to use (subsample); the same as --set max_draws=N.")
@click.option("--veto-share", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="minority-veto: share of raters (overall or in any group) that makes a response "
                   "harmful; default any rater.")
@click.option("--veto-dimension", "veto_dimensions", multiple=True,
              help="minority-veto dimensions (default: every lower-is-better dimension).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any option of the strategy (`pluralstats plugins --options STRATEGY`), e.g. --set veto_share=0.3; "
                   "repeatable; wins over the flags above.")
@click.option("--eval-fraction", type=click.FloatRange(0, 1, max_open=True), default=0.2, show_default=True,
              help="Share of prompts held out for evaluation.")
@click.option("--use", type=click.Choice(SPLIT_USES), default="train", show_default=True,
              help="Which prompts to build pairs from.")
@click.option("--split", "split_file", type=click.Path(exists=True, path_type=Path), default=None,
              help="Reuse a recorded split (a *.split.csv or a preference parquet beside one).")
@click.option("--allow-small-groups", is_flag=True, help="Build even when a group has fewer than k raters.")
@click.option("--allow-bad-diagnostics", is_flag=True,
              help="--strategy posterior: use a posterior that failed its convergence checks (recorded in the "
                   "manifest).")
@source_option
@seed_option
def prefs(bundle: Path, out: Path, scale: int | None, cuts: str | None, strategy: str, pairing: str,
          groups: tuple[str, ...],
          jury: str | None, objective: str, weights: str | None, posterior: Path | None,
          max_draws: int | None, veto_share: float | None, veto_dimensions: tuple[str, ...],
          eval_fraction: float, use: str, split_file: Path | None, allow_small_groups: bool,
          allow_bad_diagnostics: bool, settings: tuple[str, ...], source: Path | None, seed: int) -> None:
    """Build a preference dataset (prompt/chosen/rejected/weight) from a survey bundle.

    Writes OUT, its held-out prompt split (OUT's stem + .split.csv; --seed seeds it) and a manifest.
    Every rule (scales, strategies, ties, jury weights) is in docs/preferences.md.
    """
    own = {"max_draws": max_draws, "veto_share": veto_share, "veto_dimensions": list(veto_dimensions) or None}
    own = {**{k: v for k, v in own.items() if v is not None}, **parse_settings(get_strategy(strategy).Options,
                                                                               settings, owner=f"strategy {strategy}")}
    survey = read_bundle(bundle, source)
    side = resolve_split(survey, split_file, eval_fraction, seed)
    df, summary = build_preferences(
        survey, scale=scale, strategy=strategy, groups=groups, jury=jury, objective=objective, weights=weights,
        posterior=posterior, seed=seed, cuts=_cuts(cuts), use=use, split=side, allow_small_groups=allow_small_groups,
        pairing=pairing, allow_bad_diagnostics=allow_bad_diagnostics, **own)
    if summary.diagnostics not in (None, "passed"):
        err_console.print(styled("[yellow]warning:[/] ", summary.diagnostics))
    options = {"scale": summary.scale, "cuts": summary.cuts, "strategy": strategy, "pairing": pairing,
               "groups": list(groups),
               "jury": jury,
               "objective": objective, "weights": summary.weights, "posterior": posterior,
               **summary.options, "eval_fraction": eval_fraction, "use": use, "split": split_file,
               "allow_small_groups": allow_small_groups, "allow_bad_diagnostics": allow_bad_diagnostics,
               "diagnostics": summary.diagnostics}
    inputs = [*survey.sources, *([posterior] if posterior else []), *([split_file] if split_file else [])]
    write_preferences(df, out, split=side, summary=summary, inputs=inputs, options=options, seed=seed)
    print_summary(summary, len(df), out)
    console.print(f"split -> {split_path_for(out)}")


COMMANDS = [prefs]
