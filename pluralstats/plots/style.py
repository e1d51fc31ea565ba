"""One figure style for the whole toolkit: greyscale-safe colours, markers and hatches, PNG + PDF output.

Use ``with paper_style():`` around figure code and ``save_figure(fig, path_without_suffix)`` to write
both formats atomically.
"""

from __future__ import annotations

import contextlib
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from pluralstats.errors import InputError  # noqa: E402
from pluralstats.io import atomic_path  # noqa: E402

# colour-blind-safe and distinct in greyscale (dark -> light); hatches tell bars apart in print
COLORS = ["#1b1b1b", "#5e3c99", "#e66101", "#4dac26", "#0571b0", "#b2abd2", "#fdb863"]
HATCHES = ["", "//", "..", "xx", "\\\\", "++", "oo"]
RC = {
    "figure.dpi": 110, "savefig.dpi": 200, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "legend.frameon": False, "pdf.fonttype": 42,
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    """Within the block, matplotlib uses the house style (``RC``)."""
    with plt.rc_context(RC):
        yield


def _has_data(ax: plt.Axes) -> bool:
    """Whether a panel shows anything: a finite point, line, bar, filled area or image (NaN-only is blank)."""
    for line in ax.lines:
        if line.get_transform() != ax.transData:  # reference lines (axvline at 0) span the axes, not data
            continue
        xy = np.asarray(line.get_xydata(), dtype=float)
        if xy.size and np.isfinite(xy).all(axis=-1).any():
            return True
    for collection in ax.collections:
        if isinstance(collection, PathCollection):  # scatter: the paths are the marker, the offsets the data
            points = [np.asarray(collection.get_offsets(), dtype=float)]
        else:  # lines, whiskers, filled areas: the paths are the data
            points = [np.asarray(path.vertices, dtype=float) for path in collection.get_paths()]
        if any(xy.size and np.isfinite(xy).all(axis=-1).any() for xy in points):
            return True
    patches = [p for p in ax.patches if p.get_visible()]
    return bool(ax.images) or any(np.isfinite(p.get_bbox().bounds).all() for p in patches)


def require_data(fig: plt.Figure, stem: str | Path) -> None:
    """Refuse to write a figure with an empty panel (say, a dimension or group not in the data)."""
    empty = [ax.get_title() or f"panel {i + 1}" for i, ax in enumerate(fig.axes) if ax.axison and not _has_data(ax)]
    if empty:
        plt.close(fig)
        raise InputError(f"Nothing to draw in {Path(stem).name}: no data in {', '.join(map(repr, empty))} "
                         "(check the dimensions, groups and thresholds asked for); no figure written")


def legend_below(fig: plt.Figure, axes: Sequence[plt.Axes], notes: Sequence[str] = ()) -> None:
    """One legend under the laid-out figure (so it covers no data): an entry per labelled series that drew
    something, each label once, with ``notes`` (wrapped) as its title. Call after ``tight_layout``."""
    entries: dict[str, Artist] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label and not label.startswith("_"):
                entries.setdefault(label, handle)  # a series drawn in two parts (filled, hollow) is listed once
    title = "\n".join(textwrap.fill(n, 90) for n in notes if n)  # long privacy notes wrap, not widen the figure
    if not entries and not title:
        return
    # figure coordinates: y=0 is the bottom of the laid-out figure; savefig's tight bbox takes in what lies below
    fig.legend(list(entries.values()), list(entries), loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=7,
               title=title or None, title_fontsize=7, ncols=1)


FIGURE_FORMATS = ("png", "pdf")


def figure_paths(stem: str | Path, formats: tuple[str, ...] = FIGURE_FORMATS) -> list[Path]:
    """The files :func:`save_figure` writes for ``stem``: ``stem.png`` and ``stem.pdf`` (a suffix is replaced)."""
    return [Path(stem).with_suffix(f".{fmt}") for fmt in formats]


def save_figure(fig: plt.Figure, stem: str | Path, formats: tuple[str, ...] = FIGURE_FORMATS) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (atomically) and close the figure; an empty panel is an InputError."""
    require_data(fig, stem)
    written = []
    for path in figure_paths(stem, formats):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written
