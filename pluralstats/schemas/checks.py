"""Run a pandera schema lazily and turn every failure into a :class:`pluralstats.errors.Problem`."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from pluralstats.errors import Problem


def problems_from_schema_errors(err: SchemaErrors, file: str, row_of: pd.Series | None = None) -> list[Problem]:
    """One Problem per failing cell; ``row_of`` maps the frame's index to the row in the source file."""
    problems: list[Problem] = []
    cases = err.failure_cases
    for case in cases.itertuples(index=False):
        column = case.column if isinstance(case.column, str) else None
        check = str(case.check)
        index = case.index
        row = None
        if index is not None and not (isinstance(index, float) and pd.isna(index)):
            row = int(row_of.loc[index]) if row_of is not None else int(index) + 1
        if check == "column_in_dataframe":
            problems.append(Problem(file, "required column is missing", column=str(case.failure_case)))
            continue
        if check.startswith("field_uniqueness") or check.startswith("multiple_fields_uniqueness"):
            message = "duplicate row"
        elif check == "not_nullable":
            message = "missing value"
        else:
            message = f"failed check {check}"
        value = case.failure_case
        if not isinstance(value, (list, dict, tuple)) and pd.isna(value):
            value = None
        problems.append(Problem(file, message, column=column, row=row, value=value))
    return _merge_duplicates(problems)


def _merge_duplicates(problems: list[Problem]) -> list[Problem]:
    """A duplicate key spans several columns: report it once per row, naming all the key's columns.

    Participant ids are left out of the shown value (they are never printed).
    """
    groups: dict[tuple, list[Problem]] = {}
    out = []
    for p in problems:
        if p.message == "duplicate row" and p.row is not None:
            groups.setdefault((p.file, p.row), []).append(p)
        else:
            out.append(p)
    for (file, row), parts in groups.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        columns = ", ".join(str(p.column) for p in parts)
        shown = ", ".join(str(p.value) for p in parts if p.column != "participant_id")
        out.append(Problem(file, f"duplicate row: the key ({columns}) occurs more than once", None, row,
                           shown or None))
    out.sort(key=lambda p: (p.row if p.row is not None else -1, p.column or ""))
    return out


def validate_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame, file: str,
                   row_of: pd.Series | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """Validate lazily; return the (coerced) frame and every problem found."""
    try:
        return schema.validate(frame, lazy=True), []
    except SchemaErrors as err:
        return frame, problems_from_schema_errors(err, file, row_of)
