"""The survey stage: the bundle (read, map, validate, write), its config, simulation, descriptives and the prompt split.

``pluralstats.survey`` exports what the bundle module does (``load_survey``, ``save_survey``, :class:`Survey`,
...), so ``from pluralstats.survey import load_survey`` reads a bundle. The stage's other modules:
:mod:`.config` (``survey.toml``), :mod:`.simulate` (a study-shaped survey with planted effects),
:mod:`.describe` (Figure 1, group means, agreement) and :mod:`.split` (the held-out prompts and the split CSV).
"""

from .bundle import (
    CSV_FIELD_LIMIT,
    RATING_COLUMNS,
    REPORTED_ROWS,
    SHOWN_COLUMN_NAME,
    SmallGroupWarning,
    Survey,
    load_survey,
    match_level,
    resolve_level,
    save_survey,
    small_group_warnings,
)

__all__ = ["CSV_FIELD_LIMIT", "RATING_COLUMNS", "REPORTED_ROWS", "SHOWN_COLUMN_NAME", "SmallGroupWarning", "Survey",
           "load_survey", "match_level", "resolve_level", "save_survey", "small_group_warnings"]
