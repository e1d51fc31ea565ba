"""A one-page Markdown report that links every figure and table found under an output folder.

The report is assembled from the artifacts on disk (never from numbers held in memory), so it can be
rebuilt at any time with ``pluralstats report DIR``: survey description (Figure 1), survey contrasts,
evaluations (shifts vs the control), tuned models vs survey (Figure 2) and experiments (Figures 3-5).
Contrast rows of groups with fewer than k raters (their ``small_cell`` flag) show "<k", never their
numbers, even when their CSV was written with ``--no-suppress-small``, unless the report is too.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from pathlib import Path
from urllib.parse import quote

import pandas as pd

from pluralstats.io import write_text_atomic
from pluralstats.privacy import mask_rows
from pluralstats.readers import read_json_object, read_table, require_columns

SHIFT_COLUMNS = ["experiment", "model", "dimension", "estimate", "lo", "hi", "rel_pct", "rel_lo", "rel_hi",
                 "p_better", "n_runs"]
COMPARE_COLUMNS = ["dimension", "level_a", "level_b", "diff", "diff_lo", "diff_hi", "model_diff", "model_lo",
                   "model_hi", "model_n_runs", "p_same_sign", "ratio", "ratio_lo", "ratio_hi"]
#: printed under any model comparison resting on one training run (n_runs == 1)
ONE_RUN_NOTE = ("n_runs = 1: each tuned model was trained once (one seed), so a difference between methods is "
                "also a difference between two training runs; one seed cannot separate method from run "
                "(train >= 2 seeds per condition).")


def markdown_table(frame: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    if frame.empty:
        return "_(empty)_\n"
    def cell(v):
        if isinstance(v, float):
            return "" if pd.isna(v) else f"{v:.{digits}f}"
        return md_text(v)
    head = "| " + " | ".join(map(md_text, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *body]) + "\n"


def _private(frame: pd.DataFrame, suppress_small: bool) -> pd.DataFrame:
    """Survey-derived numbers of small-cell rows shown as "<k" (the labels and tuned-model side kept)."""
    if "small_cell" not in frame:
        return frame
    hidden = frame["small_cell"].fillna(False).astype(bool).to_numpy() & suppress_small
    if "suppressed" in frame:
        hidden = hidden | frame["suppressed"].fillna(False).astype(bool).to_numpy()
    cols = [c for c in frame.columns if c not in ("dimension", "attribute", "level_a", "level_b", "quantity",
                                                  "standardisation", "small_cell", "suppressed")
            and not c.startswith("model_")]
    out = mask_rows(frame, hidden, cols)
    out[cols] = out[cols].astype(object)
    out.loc[hidden, cols] = "<k"
    return out


def _rel(path: Path, root: Path) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


#: the characters that could turn text into a link, an image, HTML, code or a table cell boundary ("(", "!" and ">"
#: only act beside a bracket, which is escaped, or at the start of a line, where no text is put)
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]<|])")


def md_text(text: object) -> str:
    """``text`` shown as written in Markdown: a file named ``x](http://evil)`` cannot become a link."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def md_code(text: object) -> str:
    """``text`` as inline code (nothing in it is read as Markdown but a backquote, which is replaced)."""
    return "`" + " ".join(str(text).split()).replace("`", "'") + "`"


def _link(text: object, path: Path, root: Path, *, image: bool = False) -> str:
    """A Markdown link (or image) to ``path`` relative to ``root``: the text escaped, the target percent-encoded."""
    return f"{'!' if image else ''}[{md_text(text)}]({quote(_rel(path, root), safe='/')})"


def _figures(folder: Path, root: Path) -> list[str]:
    lines = []
    for png in sorted(folder.glob("*.png")):
        pdf = png.with_suffix(".pdf")
        link = f" ({_link('PDF', pdf, root)})" if pdf.exists() else ""
        lines.append(f"{_link(png.stem, png, root, image=True)}\n\n*{md_text(png.stem)}*{link}\n")
    return lines


def _shift_rows(results: pd.DataFrame) -> pd.DataFrame:
    rows = results[(results.comparison == "shift") & (results.method == "bayes")]
    return rows[[c for c in SHIFT_COLUMNS if c in rows]]


def _section_for(folder: Path, root: Path, suppress_small: bool = True) -> list[str]:
    """Tables and figures of one artifact folder, by what it holds."""
    out: list[str] = []
    for csv in sorted(folder.glob("*.csv")):
        frame = _private(read_table(csv), suppress_small)
        if "model_diff" in frame:
            out += [f"**Tuned models vs survey** ({_link(csv.name, csv, root)}): A - B in rating points, "
                    "P(same sign), ratio model/survey.\n", markdown_table(frame[[c for c in COMPARE_COLUMNS
                                                                                 if c in frame]])]
            if "model_n_runs" in frame and (frame.model_n_runs == 1).any():
                out.append(f"_{ONE_RUN_NOTE}_\n")
        elif {"diff", "diff_lo", "level_a"} <= set(frame.columns):
            cols = ["dimension", "level_a", "level_b", "diff", "diff_lo", "diff_hi", "rel_pct", "p_positive"]
            require_columns(frame, cols, csv)
            # mean rows are in rating points, share>=k rows in percentage points; both adjusted (standardised)
            cols[3:3] = [c for c in ("quantity",) if c in frame]
            adjusted = f", {frame.standardisation.iloc[0]}" if "standardisation" in frame and len(frame) else ""
            out += [f"**Survey contrast** ({_link(csv.name, csv, root)}){md_text(adjusted)}\n",
                    markdown_table(frame[cols])]
        elif "latent_diff" in frame or "latent_did" in frame:
            out += _disagreement_section(frame, csv, root)
        elif csv.name == "cells.csv":
            require_columns(frame, ["label", "seed", "status", "error"], csv)
            failed = frame[frame.status != "done"]
            note = f"{len(frame) - len(failed)}/{len(frame)} cells done"
            if len(failed):
                note += "; NOT done: " + ", ".join(f"{r.label} seed {r.seed} ({r.status}: {r.error})"
                                                   for r in failed.itertuples())
            out.append(f"Cells ({_link('cells.csv', csv, root)}): {md_text(note)}\n")
    for results in sorted(folder.glob("*.parquet")):
        if results.name.endswith((".scores.parquet",)) or not results.name.startswith(("results", "eval")):
            continue
        shifts = _shift_rows(read_table(results, ["comparison", "method"]))
        out += [f"**Shifts vs control** ({_link(results.name, results, root)}; posterior "
                f"{md_code(results.name.removesuffix('.parquet') + '.posterior.nc')}), rating points and percent, "
                "95% intervals, P(better than control):\n", markdown_table(shifts)]
        if "n_runs" in shifts and (shifts.n_runs == 1).any():
            out.append(f"_{ONE_RUN_NOTE}_\n")
    return out + _figures(folder, root)


def _disagreement_section(frame: pd.DataFrame, csv: Path, root: Path, top: int = 10) -> list[str]:
    """The top rows of a ``disagreements`` table, labelled with the groups and interval its manifest records."""
    manifest = csv.parent / "manifest.json"
    options = read_json_object(manifest).get("options", {}) if manifest.exists() else {}
    groups = options.get("groups") or ["A", "B"]
    a, b = (str(g) for g in groups[:2])
    prob = f"{float(options.get('prob', 0.95)):.0%}"
    link = _link(csv.name, csv, root)
    if "latent_diff" in frame:
        cols = ["dimension", "item_id", "latent_diff", "latent_lo", "latent_hi", "rating_diff", "rating_diff_lo",
                "rating_diff_hi"]
        head = (f"**Items {md_text(a)} and {md_text(b)} disagree on most** ({link}; top {top} of {len(frame)}): "
                f"latent_diff is {md_text(a)} - {md_text(b)} in their group x item terms (logits, {prob} "
                "interval), the disagreement about the item itself; rating_diff is the difference in an average "
                "rater's expected rating (rating points, the groups' level shift included).\n")
    else:
        cols = ["dimension", "item_1", "item_2", "better_for_a", "better_for_b", "latent_did", "latent_did_lo",
                "latent_did_hi", "p_opposite"]
        head = (f"**Pairs {md_text(a)} and {md_text(b)} most likely order oppositely** ({link}; top {top} of "
                f"{len(frame)}): better_for_a is {md_text(a)}'s better response; latent_did is the difference in "
                f"differences of the group x item terms (logits, {prob} interval); p_opposite is the posterior "
                "probability that the groups' average raters order the pair oppositely.\n")
    require_columns(frame, cols, csv)
    return [head, markdown_table(frame.head(top)[cols])]


def _created(folder: Path) -> str:
    manifest = folder / "manifest.json"
    return str(read_json_object(manifest).get("created", "")) if manifest.exists() else ""


def build_report(root: str | Path, *, title: str = "pluralstats report", notes: list[str] | None = None,
                 suppress_small: bool = True) -> Path:
    """Write ``root/report.md`` linking every table and figure below ``root``; return its path (small groups
    suppressed unless not ``suppress_small``)."""
    root = Path(root)
    lines = [f"# {title}\n", f"Generated {_dt.datetime.now(_dt.UTC).isoformat(timespec='seconds')} "
             f"from the artifacts under {md_code(root)}.\n"]
    lines += [f"{n}\n" for n in notes or []]
    folders = sorted({p.parent for p in root.rglob("*") if p.suffix in (".png", ".csv", ".parquet")
                      and "cells" not in p.relative_to(root).parts and "survey" != p.parent.name})
    for folder in sorted(folders, key=_created):  # pipeline order: when each step wrote its manifest
        body = _section_for(folder, root, suppress_small)
        if body:
            manifest = folder / "manifest.json"
            command = str(read_json_object(manifest).get("command", "")) if manifest.exists() else ""
            name = md_text(_rel(folder, root)) if folder != root else "(top level)"
            lines += [f"## {name}\n", f"Produced by {md_code(command)}.\n" if command else "", *body]
    return write_text_atomic(root / "report.md", "\n".join(line for line in lines if line))
