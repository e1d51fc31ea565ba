"""pandera schemas, declared once: the survey bundle (``survey``) and the preference dataset (``prefs``).

Installed as ``pluralstats.schemas`` (see pyproject's package-dir).
"""

from .common import problems_from_schema_errors, validate_frame

__all__ = ["problems_from_schema_errors", "validate_frame"]
