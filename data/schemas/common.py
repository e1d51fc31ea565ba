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
    # stable order: by row, then column
    problems.sort(key=lambda p: (p.row if p.row is not None else -1, p.column or ""))
    return problems


def validate_frame(schema: pa.DataFrameSchema, frame: pd.DataFrame, file: str,
                   row_of: pd.Series | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """Validate lazily; return the (coerced) frame and every problem found."""
    try:
        return schema.validate(frame, lazy=True), []
    except SchemaErrors as err:
        return frame, problems_from_schema_errors(err, file, row_of)
