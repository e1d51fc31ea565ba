"""The survey stage: the bundle (read, map, validate, write), its config, simulation, descriptives and the prompt split.

``pluralstats.survey`` exports what the bundle module does (``load_survey``, ``save_survey``, :class:`Survey`,
...), so ``from pluralstats.survey import load_survey`` reads a bundle. ``load_survey`` reads the files through
:mod:`.reading`, turns them into the canonical tables through :mod:`.mapping` and checks them in :mod:`.validation`.
The stage's other modules:
:mod:`.survey_config` (``survey.toml``), :mod:`.simulate` (a study-shaped survey with planted effects),
:mod:`.describe` (Figure 1, group means, agreement) and :mod:`.split` (the held-out prompts and the split CSV).
"""

from .bundle import (
    SmallGroupWarning,
    Survey,
    load_survey,
    match_level,
    resolve_level,
    save_survey,
    small_group_warnings,
)
from .mapping import RATING_COLUMNS
from .reading import CSV_FIELD_LIMIT, REPORTED_ROWS, SHOWN_COLUMN_NAME

__all__ = ["CSV_FIELD_LIMIT", "RATING_COLUMNS", "REPORTED_ROWS", "SHOWN_COLUMN_NAME", "SmallGroupWarning", "Survey",
           "load_survey", "match_level", "resolve_level", "save_survey", "small_group_warnings"]
