"""One figure style for the whole toolkit: greyscale-safe colours, markers and hatches, PNG + PDF output.

Use ``with paper_style():`` around figure code and ``save_figure(fig, path_without_suffix)`` to write
both formats atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pluralstats.io import atomic_path  # noqa: E402

# colour-blind-safe and distinct in greyscale (dark -> light), each paired with a marker and hatch
COLORS = ["#1b1b1b", "#5e3c99", "#e66101", "#4dac26", "#0571b0", "#b2abd2", "#fdb863"]
MARKERS = ["o", "^", "s", "D", "v", "P", "X"]
HATCHES = ["", "//", "..", "xx", "\\\\", "++", "oo"]
RC = {
    "figure.dpi": 110, "savefig.dpi": 200, "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "legend.frameon": False, "pdf.fonttype": 42,
}


@contextlib.contextmanager
def paper_style() -> Iterator[None]:
    with plt.rc_context(RC):
        yield


def save_figure(fig: plt.Figure, stem: str | Path, formats: tuple[str, ...] = ("png", "pdf")) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` (atomically) and close the figure."""
    stem = Path(stem)
    written = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, bbox_inches="tight")
        written.append(path)
    plt.close(fig)
    return written
