"""Preference datasets: who gives feedback (group, jury) and how it is used (scale, strategy, objective).

``build_preferences(survey, ...)`` returns TRL-ready pairs (``prompt``, ``chosen``, ``rejected``,
``weight`` and provenance) and a summary; ``write_preferences`` writes them with the held-out prompt
split and a manifest. The exact rules are in the docstrings of :mod:`.scales`, :mod:`.groups`,
:mod:`.strategies`, :mod:`.pairs` and :mod:`.posterior`, and in ``docs/preferences.md``.
"""

from .build import PrefsSummary, build_preferences, objective_weights, parse_weights
from .dataset import load_preferences, load_split, split_path_for, validate_preferences, write_preferences
from .groups import parse_jury, resolve_pool
from .pairs import OUTPUT_COLUMNS
from .scales import SCALES, collapse, default_cuts
from .strategies import STRATEGIES

__all__ = [
    "OUTPUT_COLUMNS", "SCALES", "STRATEGIES", "PrefsSummary", "build_preferences", "collapse", "default_cuts",
    "load_preferences", "load_split", "objective_weights", "parse_jury", "parse_weights", "resolve_pool",
    "split_path_for", "validate_preferences", "write_preferences",
]
