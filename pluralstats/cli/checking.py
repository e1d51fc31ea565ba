"""Commands that check a model: loo (leave-one-rater-out comparison of fitted models), prior-check."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd
from rich.table import Table

from pluralstats.cli.common import console, csv_list, dimensions_option, err_console, seed_option, styled, writes
from pluralstats.cli.survey import allow_outside_option
from pluralstats.errors import InputError
from pluralstats.io import atomic_path, check_output, write_manifest


def _label(paths: tuple[Path, ...]) -> dict[str, Path]:
    """Short unique names for the posteriors (file stems; the full path where stems clash)."""
    stems = [p.stem for p in paths]
    return {(p.stem if stems.count(p.stem) == 1 else str(p)): p for p in paths}


@writes("file")
@click.command("loo")
@click.argument("posteriors", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="CSV file for the table (the comparison; for one posterior, its estimates and Pareto k bands).")
@click.option("--kfold", type=click.IntRange(2), default=None, metavar="K",
              help="K-fold cross-validation by raters instead of PSIS (refits each model K times; needs --bundle).")
@click.option("--bundle", type=click.Path(exists=True, path_type=Path), default=None,
              help="The survey the posteriors were fitted to (for --kfold).")
@click.option("--save", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="OUT.nc",
              help="One posterior only: write a copy holding the per-rater log_likelihood and a replicated-survey "
                   "posterior_predictive with observed_data, so az.loo, az.compare and az.plot_ppc read it as is.")
@click.option("--ppc-draws", type=click.IntRange(10), default=200, show_default=True,
              help="Replicated surveys in the --save file's posterior_predictive.")
@allow_outside_option
@seed_option
def loo_cmd(posteriors: tuple[Path, ...], out: Path | None, kfold: int | None, bundle: Path | None,
            save: Path | None, ppc_draws: int, seed: int) -> None:
    """Leave-one-rater-out predictive accuracy: one posterior's elpd_loo, p_loo and Pareto k table, or a
    comparison of models of the same survey (az.compare's table).

    The unit left out is a rater (their rater effect integrated out): how well each model predicts the
    ratings of a new person. Pareto k > 0.7 for some raters means PSIS is unreliable: use --kfold 10.
    """
    from pluralstats.estimates.loo import loo_report
    from pluralstats.models import load_posterior

    if save is not None and (len(posteriors) != 1 or kfold is not None):
        raise InputError("--save writes one posterior with its check groups: give exactly one posterior and no "
                         "--kfold")
    if save is not None:
        check_output(save)
    idatas = {name: load_posterior(path) for name, path in _label(posteriors).items()}
    inputs = list(posteriors) + ([bundle] if bundle else [])
    if kfold is not None:
        from pluralstats.cli.survey import read_bundle

        report = loo_report(idatas, kfold=kfold, survey=read_bundle(bundle) if bundle else None, seed=seed,
                            progress=lambda name, f, k: console.print(f"{name}: fold {f + 1}/{k}"))
    else:
        with console.status("Computing each rater's log-likelihood and PSIS-LOO..."):
            report = loo_report(idatas)
    _print_report(report)
    if out is not None:
        with atomic_path(out) as tmp:
            report.table().to_csv(tmp, index=False)
        write_manifest(out, "loo", inputs=inputs, seed=seed, options={"kfold": kfold},
                       extra={"warnings": list(report.warnings)})
        console.print(f"Wrote {out}")
    if save is not None:
        _save_with_check_groups(next(iter(idatas.values())), save, inputs, ppc_draws, seed)


def _save_with_check_groups(idata, save: Path, inputs: list[Path], ppc_draws: int, seed: int) -> None:
    """``loo --save``: the posterior with its log_likelihood, posterior_predictive and observed_data groups."""
    from pluralstats.estimates.loo import add_check_groups
    from pluralstats.models import save_posterior

    with console.status(f"Replicating {ppc_draws} surveys..."):
        add_check_groups(idata, ppc_draws=ppc_draws, seed=seed)
    save_posterior(idata, save)
    write_manifest(save, "loo", inputs=inputs, seed=seed, options={"save": str(save), "ppc_draws": ppc_draws})
    console.print(f"Wrote {save} (groups: {', '.join(idata.groups())})")


def _print_report(report) -> None:
    """One posterior's estimates and k table, or the comparison, with any warning."""
    if report.comparison is None:
        _print_single(report.estimates, report.bands)
        return
    shown = Table(title="Leave-one-rater-out comparison (best first; elpd: expected log predictive density)")
    shown.add_column("model")
    for col in report.comparison.columns:
        shown.add_column(str(col), justify="right")
    for name, row in report.comparison.iterrows():
        shown.add_row(str(name), *[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row])
    console.print(shown)
    for message in report.warnings:
        err_console.print(styled("[yellow]warning:[/] ", message))


def _print_single(estimates: pd.DataFrame, bands: pd.DataFrame) -> None:
    """One posterior's PSIS-LOO estimates and Pareto k table, with a warning when PSIS is unreliable."""
    shown = Table(title="Leave-one-rater-out (PSIS; elpd: expected log predictive density of a new rater)")
    for col in ("quantity", "estimate", "se"):
        shown.add_column(col, justify="left" if col == "quantity" else "right")
    for name, row in estimates.iterrows():
        shown.add_row(str(name), f"{row.estimate:.2f}", f"{row.se:.2f}")
    console.print(shown)
    k_table = Table(title="Pareto k diagnostic")
    for col in ("pareto_k", "raters", "share", "max k"):
        k_table.add_column(col, justify="left" if col == "pareto_k" else "right")
    for row in bands.itertuples():
        k_table.add_row(row.pareto_k, str(row.raters), f"{row.share:.1%}",
                        "-" if pd.isna(row.max_k) else f"{row.max_k:.2f}")
    console.print(k_table)
    bad = int(bands.raters.iloc[1:].sum())
    if bad:
        err_console.print(f"[yellow]warning:[/] Pareto k too high for {bad} of {int(bands.raters.sum())} raters: "
                          "PSIS-LOO is unreliable there; use K-fold by raters (--kfold 10 --bundle SURVEY)",
                          markup=True)


@writes("folder")
@click.command("prior-check")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the figure and tables.")
@dimensions_option()
@click.option("--attributes", callback=csv_list, default=None,
              help="Comma-separated attributes (default: all in survey.toml).")
@click.option("--draws", type=click.IntRange(50), default=500, show_default=True,
              help="Prior draws (replicated surveys).")
@click.option("--beta-prior-sd", type=click.FloatRange(min=0, min_open=True), default=2.5, show_default=True,
              help="Prior sd of the attribute effects (logits), as in fit-survey.")
@allow_outside_option
@seed_option
def prior_check_cmd(bundle: Path, out: Path, dimensions: list[str] | None, attributes: list[str] | None, draws: int,
                    beta_prior_sd: float, seed: int) -> None:
    """Prior predictive check: the rating distributions and group gaps the priors imply, on the survey's design."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.estimates.prior_check import prior_check
    from pluralstats.plots.posterior_plots import plot_prior_check

    survey = read_bundle(bundle)
    with console.status("Sampling the priors and replicating the survey..."):
        shares, gaps = prior_check(survey, dimensions=dimensions, attributes=attributes, draws=draws,
                                   seed=seed, beta_prior_sd=beta_prior_sd)
    with atomic_path(out, is_dir=True) as tmp:
        shares.to_csv(tmp / "prior_shares.csv", index=False)
        gaps.to_csv(tmp / "prior_gaps.csv", index=False)
        figures = plot_prior_check(shares, gaps, tmp / "prior_check.png")
        write_manifest(tmp, "prior-check", inputs=[*survey.sources], seed=seed,
                       options={"dimensions": dimensions, "attributes": attributes, "draws": draws,
                                "beta_prior_sd": beta_prior_sd})
    widest = gaps.assign(width=gaps.gap_hi - gaps.gap_lo).width.max()
    console.print(f"Prior: 95% of implied group gaps within +-{widest / 2:.2f} rating points (widest interval). "
                  f"Wrote {out} ({', '.join(p.name for p in figures)}, prior_shares.csv, prior_gaps.csv)")


COMMANDS = [loo_cmd, prior_check_cmd]
