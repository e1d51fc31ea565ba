"""How the model-stage commands show their results on the console: rich tables built from the API's result
frames. Nothing here computes a statistic; a suppressed row (privacy rule) shows "<k raters", never numbers."""

from __future__ import annotations

import pandas as pd
from rich.console import Group
from rich.table import Table
from rich.text import Text

from pluralstats.privacy import small_mark


def fmt(value, spec: str) -> str:
    """A number, or "n/a" where it cannot be computed (R-hat of one chain)."""
    try:
        return "n/a" if value is None or value != value else format(float(value), spec)
    except (TypeError, ValueError):
        return "n/a"


def parameter_table(frame: pd.DataFrame, family: str, k: int) -> Table:
    """:func:`~pluralstats.estimates.fit_summary.parameter_summary` as a table."""
    table = Table(title=f"Posterior summary ({family} scale; reference levels are 0)")
    for col in ("parameter", "mean", "sd", "2.5%", "97.5%"):
        table.add_column(col, justify="left" if col == "parameter" else "right")
    for r in frame.itertuples():
        if r.suppressed:
            table.add_row(r.parameter, f"{small_mark(k)} raters", "(suppressed)", "", "")
        else:
            table.add_row(r.parameter, f"{r.mean:.3f}", f"{r.sd:.3f}", f"{r.lo:.3f}", f"{r.hi:.3f}")
    return table


def tau_lines(frame: pd.DataFrame) -> list[str]:
    """:func:`~pluralstats.estimates.fit_summary.tau_summary` as sentences saying what tau is."""
    return [f"tau_{r.attribute}[{r.dimension}] = {r.mean:.3f} [95%: {r.lo:.3f}, {r.hi:.3f}] logits: how much the "
            f"{r.attribute} groups disagree about which responses are better, beyond their level shift (sd of the "
            "group x item terms; near 0 = they order responses alike)" for r in frame.itertuples()]


def diagnostics_view(idata) -> Group:
    """The verdict fit_survey recorded: the worst quantities by ESS, the worst value of each check, the families'
    bounds."""
    from pluralstats.models.diagnostics import recorded_diagnostics, recorded_families, verdict_of

    summary, worst = recorded_diagnostics(idata)
    table = Table(title="Diagnostics (worst 8 by ESS)")
    for col in ("quantity", "R-hat", "bulk ESS", "tail ESS"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    for row in worst.itertuples():
        table.add_row(str(row.name), fmt(row.r_hat, ".3f"), fmt(row.ess_bulk, ".0f"), fmt(row.ess_tail, ".0f"))
    parts: list = [table]
    if summary["status"] == "unchecked":
        parts.append(Text(f"Unchecked posterior ({verdict_of(idata)[1]}): contrasts, compare and prefs refuse it "
                          "unless --allow-bad-diagnostics.", style="yellow"))
    else:
        parts.append(Text.from_markup(
            f"max R-hat of reported quantities {summary['max_r_hat']:.3f} (first {summary['rhat_chains']} chains), "
            f"min bulk ESS {summary['min_ess_bulk']:.0f}, min tail ESS {summary['min_ess_tail']:.0f}, divergences "
            f"{summary['divergences']}, min E-BFMI {summary['min_bfmi']:.2f}, max tree depth hit "
            f"{summary['treedepth_share']:.1%}: [bold]{summary['status']}[/]"))
    for fam in recorded_families(idata).itertuples():
        if hasattr(fam, "max_bound"):
            parts.append(Text(f"{fam.family}: {fam.free_terms} free terms; the term nearest its bound: R-hat "
                              f"{fam.max_r_hat:.4f} (bound {fam.max_bound:.4f}); largest R-hat "
                              f"{fam.largest_r_hat:.4f}"))
    return Group(*parts)


def contrast_table(frame: pd.DataFrame, title: str, k: int = 5) -> Table:
    """Contrast or comparison rows as a table. ``mean`` rows are in rating points, ``share>=k`` rows in percent
    (differences in percentage points)."""
    table = Table(title=title)
    for col in ("dimension", "contrast", "quantity", "A", "B", "diff [95%]", "rel % [95%]", "P(diff>0)"):
        table.add_column(col, justify="left" if col in ("dimension", "contrast", "quantity") else "right")
    for r in frame.itertuples():
        label = f"{r.attribute}: {r.level_a} vs {r.level_b}"
        quantity = str(getattr(r, "quantity", "mean"))
        if getattr(r, "suppressed", False):
            table.add_row(r.dimension, label, quantity, f"{small_mark(k)} raters", "(suppressed)", "", "", "")
            continue
        if quantity == "mean":
            values = (f"{r.mean_a:.2f}", f"{r.mean_b:.2f}", f"{r.diff:+.3f} [{r.diff_lo:+.3f}, {r.diff_hi:+.3f}]")
        else:
            values = (f"{r.mean_a:.1f}%", f"{r.mean_b:.1f}%", f"{r.diff:+.1f} [{r.diff_lo:+.1f}, {r.diff_hi:+.1f}] pp")
        table.add_row(r.dimension, label, quantity, *values,
                      f"{r.rel_pct:+.1f} [{r.rel_lo:+.1f}, {r.rel_hi:+.1f}]", f"{r.p_positive:.3f}")
    return table


def hypothesis_table(frame: pd.DataFrame, quantity: str, label: str, prob: float, k: int) -> Table:
    """Hypothesis rows (``contrasts --hypothesis``) as a table."""
    what = "expected ratings" if quantity == "mean" else "% rating >= k"
    table = Table(title=f"Hypotheses ({what}, {label}, {prob:.0%} intervals)")
    for col in ("hypothesis", "dimension", "estimate", f"{prob:.0%} interval", "P(true)"):
        table.add_column(col, justify="left" if col in ("hypothesis", "dimension") else "right")
    for r in frame.itertuples():
        if r.suppressed:
            table.add_row(r.hypothesis, r.dimension, f"{small_mark(k)} raters", "(suppressed)", "")
        else:
            table.add_row(r.hypothesis, r.dimension, f"{r.estimate:+.3f}", f"[{r.lo:+.3f}, {r.hi:+.3f}]",
                          f"{r.probability:.3f}")
    return table


def suppressed_note(frame: pd.DataFrame, k: int) -> str | None:
    """Which contrasts were suppressed and how to show them, or None."""
    if "suppressed" not in frame or not frame["suppressed"].any():
        return None
    rows = frame[frame["suppressed"].astype(bool)]
    if "hypothesis" in frame:
        return "a group has fewer than k raters: its hypotheses are suppressed (--no-suppress-small shows them)"
    names = ", ".join(dict.fromkeys(rows.attribute + ": " + rows.level_a + " vs " + rows.level_b))
    return f"suppressed (a group has fewer than k={k} raters): {names}; --no-suppress-small shows them"


def disagreement_view(found, top: int) -> Group:
    """The top items and pairs of :func:`~pluralstats.estimates.disagreements.find_disagreements`."""
    a, b, prob = found.level_a, found.level_b, found.prob
    view = Table(title=f"Items {a} and {b} differ most on, latent scale ({prob:.0%} intervals)")
    for col in ("dimension", "item", f"{a} - {b}, logits", "expected rating difference (rating scale)"):
        view.add_column(col, justify="left" if col in ("dimension", "item") else "right")
    for r in found.items.head(top).itertuples():
        view.add_row(r.dimension, r.item_id, f"{r.latent_diff:+.3f} [{r.latent_lo:+.3f}, "
                     f"{r.latent_hi:+.3f}]", f"{r.rating_diff:+.3f} [{r.rating_diff_lo:+.3f}, {r.rating_diff_hi:+.3f}]")
    if not len(found.pairs):
        return Group(view)
    table = Table(title=f"Pairs {a} and {b} most likely order oppositely, each by > {found.delta:g} rating "
                        f"points ({prob:.0%} intervals)")
    for col in ("dimension", "pair", f"better for {a}", f"better for {b}", "diff in diff (logits)", "P(opposite)"):
        table.add_column(col, justify="right" if col.startswith(("diff", "P(")) else "left")
    for r in found.pairs.head(top).itertuples():
        table.add_row(r.dimension, f"{r.item_1} vs {r.item_2}", r.better_for_a, r.better_for_b,
                      f"{r.latent_did:+.3f} [{r.latent_did_lo:+.3f}, {r.latent_did_hi:+.3f}]", f"{r.p_opposite:.3f}")
    return Group(view, table)
