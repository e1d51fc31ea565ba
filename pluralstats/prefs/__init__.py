"""Preference datasets: who gives feedback (group, jury) and how it is used (scale, strategy, objective).

``build_preferences(survey, ...)`` returns TRL-ready pairs (``prompt``, ``chosen``, ``rejected``,
``weight`` and provenance) and a summary; ``write_preferences`` writes them with the held-out prompt
split and a manifest. The exact rules are in the docstrings of :mod:`.scales`, :mod:`.pools`,
:mod:`.evidence`, :mod:`.strategy_registry`, :mod:`.pairing` and :mod:`.predictive`, and in ``docs/preferences.md``.
"""

from .build import PrefsSummary, build_preferences, objective_weights, parse_weights
from .dataset import load_preferences, load_split, split_path_for, validate_preferences, write_preferences
from .pairing import OUTPUT_COLUMNS
from .pools import parse_jury, resolve_pool
from .scales import collapse, default_cuts
from .strategy_registry import Strategy, available_strategies, describe_strategies, get_strategy, register_strategy

__all__ = [
    "OUTPUT_COLUMNS", "PrefsSummary", "Strategy", "available_strategies", "build_preferences", "collapse",
    "default_cuts", "describe_strategies", "get_strategy", "load_preferences", "load_split", "objective_weights",
    "parse_jury", "parse_weights", "register_strategy", "resolve_pool", "split_path_for", "validate_preferences",
    "write_preferences",
]
