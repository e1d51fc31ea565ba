"""The data contract, declared once: the survey bundle's tables and the preference dataset.

Columns, types, required and unique constraints, ranges and keys are Frictionless Table Schema files
(``data/schemas/*.json`` in the repository, shipped inside the wheel; :func:`.table.schema_dir` says where they are
read from), read into pandera schemas by :mod:`.table`; the survey- and registry-dependent parts and
cross-table checks are code (:mod:`.survey_tables`, :mod:`.preference_tables`, and the bundle loader in
:mod:`pluralstats.survey`).
"""

from .checks import problems_from_schema_errors, validate_frame
from .table import available_tables, pandera_schema, schema_dir, table_schema

__all__ = ["available_tables", "pandera_schema", "problems_from_schema_errors", "schema_dir", "table_schema",
           "validate_frame"]
