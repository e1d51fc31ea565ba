"""``pluralstats plot``: an experiment folder (or a results table) -> its paper figure, PNG and PDF.

The experiment's manifest says which figure it reproduces, the order of its conditions and, for
Figure 2, the survey posterior and the group pairs to set beside the tuned models.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pluralstats.errors import InputError
from pluralstats.evaluate.compare_models import direction_caption
from pluralstats.io import atomic_path, write_manifest
from pluralstats.plots.figures import experiment_figure, figure2, single_vs_multi_pairs
from pluralstats.readers import read_json_object, read_table

DEFAULT_DIMENSIONS = {5: ["toxicity", "emotional_awareness"]}
RESULT_COLUMNS = ["comparison", "method", "model", "reference", "dimension", "estimate", "lo", "hi", "rel_pct",
                  "rel_lo", "rel_hi"]


def _experiment_info(folder: Path) -> dict:
    manifest = folder / "manifest.json"
    return read_json_object(manifest) if manifest.exists() else {}


def _figure_of(source: Path, figure: int | None) -> tuple[Path, Path, dict, int | None]:
    """The folder, results table, experiment manifest and figure number of a ``plot`` source."""
    folder = source if source.is_dir() else source.parent
    results_path = source / "results.parquet" if source.is_dir() else source
    info = _experiment_info(folder) if source.is_dir() else {}
    figure = figure or info.get("figure")
    return folder, results_path, info, figure if isinstance(figure, int) else None


def _compare_csv(out: Path, a: str, b: str) -> Path:
    return out / f"compare_{a}_{b}.csv"


def planned_outputs(source: str | Path, out: str | Path | None = None, *, figure: int | None = None) -> list[Path]:
    """Every file :func:`plot_source` would write, the figure's PNG (which carries the manifest) first; empty
    when the source does not say which figure."""
    from pluralstats.plots.style import figure_paths

    folder, _, info, figure = _figure_of(Path(source), figure)
    if figure not in (2, 3, 4, 5):
        return []
    out = Path(out) if out else folder
    if figure != 2:
        return figure_paths(out / f"figure{figure}")
    pairs = [p for p in info.get("compare") or [] if isinstance(p, (list, tuple)) and len(p) == 2]
    return [*figure_paths(out / "figure2"), *figure_paths(out / "figure2_all_dimensions"),
            *(_compare_csv(out, str(a), str(b)) for a, b in pairs)]


def plot_inputs(source: str | Path) -> list[Path]:
    """What :func:`plot_source` reads: the results table, the cells table and the experiment manifest."""
    folder, results_path, _, _ = _figure_of(Path(source), None)
    return [p for p in (results_path, folder / "cells.csv", folder / "manifest.json") if p.exists()]


def figure2_for(folder: Path, out: Path, info: dict, seed: int = 0, suppress_small: bool = True) -> list[Path]:
    """Compare tables (one per group pair) and Figure 2 for a demographic experiment (a pair with a group of
    fewer than k raters suppressed: blank in its table, left out of the figure, unless not ``suppress_small``)."""
    from pluralstats.evaluate.compare_models import compare_with_models
    from pluralstats.models import load_posterior

    posterior = (info.get("shared") or {}).get("posterior")
    pairs = info.get("compare") or []
    if not posterior or not pairs:
        raise InputError(f"{folder}: Figure 2 needs a survey posterior and [compare] group pairs in the config")
    idata = load_posterior(posterior)
    from pluralstats.models.diagnostics import require_diagnostics

    # the same gate, and the same allowance, as when the experiment ran (its [survey_model] setting)
    require_diagnostics(idata, allow_bad=bool(info.get("allow_bad_diagnostics", False)))
    tables, written = [], []
    for a, b in pairs:
        table = compare_with_models(idata, a, b, folder / "results.parquet", seed=seed, suppress_small=suppress_small)
        path = _compare_csv(out, a, b)
        with atomic_path(path) as tmp:
            table.to_csv(tmp, index=False)
        tables.append(table)
        written.append(path)
    # the study shows EA or toxicity per contrast; here: the dimension with the largest survey difference
    pick = {f"{t.level_a.iloc[0]} - {t.level_b.iloc[0]}": t.loc[t["diff"].abs().fillna(-1.0).idxmax(), "dimension"]
            for t in tables}
    written += figure2(tables, out / "figure2", dimensions=pick, direction=direction_caption)
    written += figure2(tables, out / "figure2_all_dimensions", direction=direction_caption)
    return written


def plot_source(source: str | Path, out: str | Path | None = None, *, figure: int | None = None,
                value: str = "rel_pct", dimensions: Sequence[str] | None = None, seed: int = 0,
                suppress_small: bool = True) -> list[Path]:
    """Draw the figure of an experiment folder or of a ``results.parquet`` (``figure`` then required).

    Writes a manifest beside the figure (``figure<N>.png.manifest.json``). Unknown ``dimensions`` are
    refused (listing those in the results), and so is a figure that would have an empty panel.
    """
    source = Path(source)
    folder, results_path, info, _ = _figure_of(source, None)
    if not results_path.exists():
        raise InputError(f"No results table at {results_path} (run the experiment first)")
    figure = figure or info.get("figure")
    if figure is None:
        raise InputError("Which figure? Give --figure (the folder has no experiment manifest naming one)")
    if figure not in (2, 3, 4, 5):
        raise InputError(f"{folder / 'manifest.json'}: figure {figure!r} is not one of 2, 3, 4, 5")
    out = Path(out) if out else folder
    options = {"figure": figure, "value": value, "dimensions": list(dimensions or []), "suppress_small": suppress_small}
    if figure == 2:
        read_table(results_path, RESULT_COLUMNS)  # a corrupt table is refused before the posterior is read
        out.mkdir(parents=True, exist_ok=True)
        written = figure2_for(folder, out, info, seed, suppress_small)
        return _with_manifest(written, [results_path], options, seed)
    results = read_table(results_path, RESULT_COLUMNS)
    cells = folder / "cells.csv"
    order = list(dict.fromkeys(read_table(cells, ["label"], dtype={"label": str}).label)) if cells.exists() else None
    order = [o for o in order if o != "control"] if order else None
    dims = list(dimensions or DEFAULT_DIMENSIONS.get(figure, ["toxicity"]))
    known = sorted(set(results.dimension.dropna().astype(str)))
    unknown = [d for d in dims if d not in known]
    if unknown:
        raise InputError(f"--dimensions: {', '.join(repr(d) for d in unknown)} not in {results_path}; "
                         f"valid: {', '.join(known) or '(none: the table has no rows)'}")
    pairs = single_vs_multi_pairs(order or sorted(set(results.model) - {"control", ""})) if figure == 5 else None
    out.mkdir(parents=True, exist_ok=True)
    written = experiment_figure(results, out / f"figure{figure}", figure=figure, order=order, dimensions=dims,
                                value=value, pairs=pairs)
    return _with_manifest(written, [results_path] + ([cells] if cells.exists() else []), options, seed)


def _with_manifest(written: list[Path], inputs: list[Path], options: dict, seed: int) -> list[Path]:
    """One manifest for a figure's files, beside the first (the figure itself, not the experiment folder's)."""
    figures = [p for p in written if p.suffix == ".png"] or written
    manifest = write_manifest(figures[0], "plot", inputs=inputs, options=options, seed=seed,
                              extra={"files": [p.name for p in written]})
    return [*written, manifest]
