"""Figure 2 as a table: per group pair and dimension, both survey columns beside the tuned models' difference,
and which survey column the tuned models follow.

    pluralstats plot runs/demographic                      # writes compare_<A>_<B>.csv into the folder
    python analyses/experiments/figure2_table.py runs/demographic

Reads every ``compare_*.csv`` of the folder (``compare --eval`` tables: rating points, 95% intervals). The
tuned-model column is the calibrated difference (``model_cal``: the scorer's difference times its slope on
held-out survey ratings) where the evaluation stored a calibration, else the scorer's (``model_diff``). Then,
over the rows (group pairs x dimensions): the correlation of the tuned difference with the preference-implied
shift and with the level difference, the share of rows where each has the tuned difference's sign, and the
rows with P(same sign) > 0.9. Rows are not independent (they share raters, prompts and tuned models), so the
correlations describe these rows; they are not tests.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd


def _cell(est: float, lo: float, hi: float) -> str:
    return f"{est:+.3f} [{lo:+.3f}, {hi:+.3f}]" if np.isfinite(est) else "-"


def load_rows(run: Path) -> pd.DataFrame:
    """Every compare table of ``run`` stacked, with ``tuned`` (calibrated where possible) and ``pair``."""
    files = sorted(run.glob("compare_*.csv"))
    if not files:
        raise SystemExit(f"{run}: no compare_*.csv (run `pluralstats plot {run}` first)")
    rows = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    calibrated = "model_cal" in rows and rows.model_cal.notna().all()
    rows["tuned"] = rows.model_cal if calibrated else rows.model_diff
    rows["tuned_lo"] = rows.model_cal_lo if calibrated else rows.model_lo
    rows["tuned_hi"] = rows.model_cal_hi if calibrated else rows.model_hi
    rows.attrs["tuned_scale"] = "calibrated" if calibrated else "scorer points"
    rows["pair"] = rows.level_a + " - " + rows.level_b
    return rows


def table_markdown(rows: pd.DataFrame) -> str:
    lines = ["| pair | dimension | survey: level difference | survey: preference-implied | "
             f"tuned models ({rows.attrs['tuned_scale']}) | scorer slope | P(same sign) | ratio |",
             "| --- | --- | --- | --- | --- | ---: | ---: | --- |"]
    for r in rows.itertuples():
        ratio = (_cell(r.ratio, r.ratio_lo, r.ratio_hi) if np.isfinite(r.ratio)
                 else f"- ({r.ratio_note})" if isinstance(r.ratio_note, str) else "-")
        slope = f"{r.scorer_slope:.2f}" if "scorer_slope" in rows and np.isfinite(r.scorer_slope) else "-"
        lines.append(f"| {r.pair} | {r.dimension} | {_cell(r.diff, r.diff_lo, r.diff_hi)} | "
                     f"{_cell(r.implied, r.implied_lo, r.implied_hi)} | {_cell(r.tuned, r.tuned_lo, r.tuned_hi)} | "
                     f"{slope} | {r.p_same_sign:.2f} | {ratio} |")
    return "\n".join(lines)


def tracking(rows: pd.DataFrame) -> str:
    """Which survey column the tuned differences follow, over the rows."""
    out = []
    for col, label in (("implied", "preference-implied shift"), ("diff", "level difference")):
        r = float(np.corrcoef(rows[col], rows.tuned)[0, 1])
        sign = float((np.sign(rows[col]) == np.sign(rows.tuned)).mean())
        out.append(f"- {label}: correlation with the tuned difference {r:+.2f} over {len(rows)} rows; same sign in "
                   f"{sign:.0%} of rows")
    sure = rows[rows.p_same_sign > 0.9]
    out.append(f"- rows with P(same sign) > 0.9 against the preference-implied shift: {len(sure)} of {len(rows)}"
               + (f" ({', '.join(sure.pair + ' ' + sure.dimension)})" if len(sure) else ""))
    return "\n".join(out)


def main() -> None:
    run = Path(sys.argv[1])
    rows = load_rows(run)
    print(table_markdown(rows))
    print()
    print(tracking(rows))


if __name__ == "__main__":
    main()
