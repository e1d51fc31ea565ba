"""Commands that check a model: loo (leave-one-rater-out comparison of fitted models), prior-check."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from pluralstats.cli.common import console, err_console, seed_option, styled
from pluralstats.cli.survey import allow_outside_option
from pluralstats.errors import InputError
from pluralstats.io import atomic_path, write_manifest


def _label(paths: tuple[Path, ...]) -> dict[str, Path]:
    """Short unique names for the posteriors (file stems; the full path where stems clash)."""
    stems = [p.stem for p in paths]
    return {(p.stem if stems.count(p.stem) == 1 else str(p)): p for p in paths}


@click.command("loo")
@click.argument("posteriors", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None, help="CSV file for the comparison table.")
@click.option("--kfold", type=click.IntRange(2), default=None, metavar="K",
              help="K-fold cross-validation by raters instead of PSIS (refits each model K times; needs --bundle).")
@click.option("--bundle", type=click.Path(exists=True, path_type=Path), default=None,
              help="The survey the posteriors were fitted to (for --kfold).")
@allow_outside_option
@seed_option
def loo_cmd(posteriors: tuple[Path, ...], out: Path | None, kfold: int | None, bundle: Path | None, seed: int) -> None:
    """Compare models of the same survey by leave-one-rater-out predictive accuracy (az.compare's table).

    The unit left out is a rater (their rater effect integrated out): how well each model predicts the
    ratings of a new person. Pareto k > 0.7 for some raters means PSIS is unreliable: use --kfold 10.
    """
    from pluralstats.models import load_posterior
    from pluralstats.models.loo import compare_models, kfold_compare

    named = _label(posteriors)
    idatas = {name: load_posterior(path) for name, path in named.items()}
    if kfold is not None:
        if bundle is None:
            raise InputError("--kfold refits the models: give the survey with --bundle")
        from pluralstats.cli.survey import read_bundle

        survey = read_bundle(bundle)
        table = kfold_compare(idatas, survey, k=kfold, seed=seed,
                              progress=lambda name, f, k: console.print(f"{name}: fold {f + 1}/{k}"))
        warnings_out: list[str] = []
    else:
        with console.status("Computing each rater's log-likelihood and PSIS-LOO..."):
            table, warnings_out = compare_models(idatas)
    shown = Table(title="Leave-one-rater-out comparison (best first; elpd: expected log predictive density)")
    shown.add_column("model")
    for col in table.columns:
        shown.add_column(str(col), justify="right")
    for name, row in table.iterrows():
        shown.add_row(str(name), *[f"{v:.2f}" if isinstance(v, float) else str(v) for v in row])
    console.print(shown)
    for message in warnings_out:
        err_console.print(styled("[yellow]warning:[/] ", message))
    if out is not None:
        with atomic_path(out) as tmp:
            table.rename_axis("model").reset_index().to_csv(tmp, index=False)
        write_manifest(out, "loo", inputs=list(posteriors) + ([bundle] if bundle else []), seed=seed,
                       options={"kfold": kfold}, extra={"warnings": warnings_out})
        console.print(f"Wrote {out}")



@click.command("prior-check")
@click.argument("bundle", type=click.Path(exists=True, path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the figure and tables.")
@click.option("--dimensions", default=None, help="Comma-separated dimensions (default: all).")
@click.option("--attributes", default=None, help="Comma-separated attributes (default: all in survey.toml).")
@click.option("--draws", type=click.IntRange(50), default=500, show_default=True,
              help="Prior draws (replicated surveys).")
@click.option("--beta-prior-sd", type=click.FloatRange(min=0, min_open=True), default=2.5, show_default=True,
              help="Prior sd of the attribute effects (logits), as in fit-survey.")
@allow_outside_option
@seed_option
def prior_check_cmd(bundle: Path, out: Path, dimensions: str | None, attributes: str | None, draws: int,
                    beta_prior_sd: float, seed: int) -> None:
    """Prior predictive check: the rating distributions and group gaps the priors imply, on the survey's design."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.models.prior import prior_check
    from pluralstats.plots.posterior import plot_prior_check

    def split(value: str | None) -> list[str] | None:
        return [v.strip() for v in value.split(",") if v.strip()] if value else None

    survey = read_bundle(bundle)
    with console.status("Sampling the priors and replicating the survey..."):
        shares, gaps = prior_check(survey, dimensions=split(dimensions), attributes=split(attributes), draws=draws,
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
