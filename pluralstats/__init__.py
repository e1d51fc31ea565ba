"""pluralstats: statistics and fine-tuning plugins for pluralistic LLM alignment research.

The main functions of every stage are importable from here (``import pluralstats as ps``); they are
loaded on first use, so ``import pluralstats`` stays light (PyMC and torch load only when needed). A walk
through a notebook session is in docs/api.md.
"""

from importlib import import_module, metadata

try:
    __version__ = metadata.version("pluralstats")
except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

#: public name -> module that defines it
_EXPORTS = {
    # survey
    "Survey": "pluralstats.survey", "load_survey": "pluralstats.survey", "save_survey": "pluralstats.survey",
    "SimulationConfig": "pluralstats.survey.simulation_config", "simulate_survey": "pluralstats.survey.simulate",
    "describe": "pluralstats.survey.describe",
    # rating model
    "fit_survey": "pluralstats.models", "save_posterior": "pluralstats.models", "load_posterior": "pluralstats.models",
    "group_contrasts": "pluralstats.models", "all_contrasts": "pluralstats.models",
    "hypothesis": "pluralstats.estimates.hypothesis",
    "diagnose": "pluralstats.models", "verdict_of": "pluralstats.models.diagnostics",
    "require_diagnostics": "pluralstats.models.diagnostics", "compare_groups": "pluralstats.estimates.group_comparison",
    "add_log_likelihood": "pluralstats.estimates.loo", "predictive_check": "pluralstats.estimates.ppc",
    "add_posterior_predictive": "pluralstats.estimates.ppc",
    # preferences
    "build_preferences": "pluralstats.prefs", "write_preferences": "pluralstats.prefs",
    "load_preferences": "pluralstats.prefs",
    # fine-tuning
    "TinyModelConfig": "pluralstats.finetune.tiny", "build_tiny_model": "pluralstats.finetune.tiny",
    "get_plugin": "pluralstats.finetune.plugin_registry", "available_plugins": "pluralstats.finetune.plugin_registry",
    # evaluation
    "evaluate_models": "pluralstats.evaluate.run", "write_results": "pluralstats.evaluate.evaluation",
    "GenerationConfig": "pluralstats.evaluate.generate", "ShiftSettings": "pluralstats.evaluate.evaluation",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'pluralstats' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
