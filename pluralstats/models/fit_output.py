"""A fitted posterior written as ``fit-survey`` writes it: the NetCDF file and its manifest, which records the
options, the settings the fit resolved from the data (a Bambi formula's: the formula, sampler and priors) and
the gate's verdict."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_fit(idata, out: str | Path, *, inputs: Sequence[str | Path], seed: int,
              options: Mapping[str, Any]) -> tuple[str, str]:
    """Save ``idata`` at ``out`` (atomically) with its manifest; returns the verdict ``(status, problems)``, which
    the caller turns into an exit code or an error (the file is written first, so a failed fit can be
    inspected)."""
    from pluralstats.io import write_manifest

    from .diagnostics import recorded_diagnostics, verdict_of
    from .fit import resolved_settings, save_posterior
    from .formula import FORMULA_ATTR, formula_settings

    save_posterior(idata, out)
    status, problems = verdict_of(idata)
    settings = formula_settings(idata) if FORMULA_ATTR in idata.posterior.attrs else resolved_settings(idata)
    write_manifest(out, "fit-survey", inputs=list(inputs), seed=seed, options={**options, **settings},
                   extra={"diagnostics": recorded_diagnostics(idata)[0], "diagnostics_problems": problems,
                          "sampling_seconds": idata.posterior.attrs.get("sampling_seconds")})
    return status, problems
