"""Fine-tune through a plugin, as the ``finetune`` command does: check the inputs before any model is loaded,
build the plugin's config, train (in this process or data-parallel), write the manifest and read the run's
warning signs back. One call, one :class:`FinetuneRun`; nothing is printed here."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pluralstats.errors import InputError
from pluralstats.io import write_manifest
from pluralstats.options import parse_settings

from .plugin_registry import get_plugin
from .train_config import TrainConfig


@dataclass
class FinetuneRun:
    """What a fine-tuning run made: the checkpoint, the config it trained with, and the signs that it barely
    trained (:func:`~pluralstats.finetune.trl_helpers.training_warnings`)."""

    method: str
    path: Path
    config: TrainConfig
    seconds: float
    warnings: list[str] = field(default_factory=list)


def make_config(method: str, options: Mapping[str, Any] | None = None, settings: Iterable[str] = ()) -> TrainConfig:
    """``method``'s config from keyword ``options`` (None: the default) then ``settings`` (``KEY=VALUE``
    strings, which win, None included); an unknown key of ``settings`` is an :class:`InputError`."""
    config_class = get_plugin(method).config_class
    overrides = parse_settings(config_class, list(settings), owner=f"--method {method}")
    return dataclasses.replace(config_class.from_options(**dict(options or {})), **overrides)


def finetune(method: str, base_model: str, out: str | Path, *, prefs: str | Path | None = None, survey: Any = None,
             options: Mapping[str, Any] | None = None, settings: Iterable[str] = (), processes: int = 1,
             threads: int | None = None, log: Any = None) -> FinetuneRun:
    """Train ``base_model`` with plugin ``method`` on ``prefs`` (a preference parquet: every method that
    ``requires`` preferences or a reward) or ``survey`` (a :class:`~pluralstats.survey.Survey`, for methods that
    require ratings, such as KTO), and write ``out`` with its manifest.

    ``options``: config fields by name (None: the config's default); ``settings``: ``KEY=VALUE`` strings for any
    scalar field (``finetune --set``). ``processes`` > 1 trains data-parallel; ``log`` receives one compact line
    per logged step (TRL plugins). Missing or bad data, a missing rater for a reward method and an unknown key are
    :class:`InputError` before any model is loaded.
    """
    from pluralstats.readers import check_model_source

    from .distributed import check_processes

    plugin = get_plugin(method)()
    config = make_config(method, options, settings)
    check_processes(processes, config.device)
    data, inputs, mean_weight = _training_data(method, plugin.requires, prefs, survey)
    check_model_source(base_model)
    if plugin.requires == "reward" and not getattr(config, "rater", None):
        raise InputError(f"--method {method} needs --rater DIR (a rater model from `pluralstats fit-rater`)")
    start = time.perf_counter()
    path = Path(_train(method, plugin, data, base_model, config, out, processes, threads, log))
    seconds = time.perf_counter() - start
    inputs += [p for p in (base_model, getattr(config, "rater", None)) if p and Path(p).exists()]
    write_manifest(path, "finetune", inputs=inputs, seed=config.seed,
                   options={"method": method, "base_model": base_model, "processes": processes, **config.to_dict()},
                   extra={"seconds": round(seconds, 2)})
    from .trl_helpers import LN2, training_warnings

    # the logged DPO loss is weighted by the pairs' weights: at zero margin it is ln 2 times their mean
    weighted = prefs is not None and getattr(config, "use_pair_weights", False)
    warnings = training_warnings(path, loss_at_zero_margin=LN2 * (mean_weight if weighted else 1.0))
    return FinetuneRun(method=method, path=path, config=config, seconds=seconds, warnings=warnings)


def _training_data(method: str, requires: str, prefs: str | Path | None, survey: Any) -> tuple[Any, list, float]:
    """(what the plugin trains on, the input files, the pairs' mean weight) after checking it is there."""
    if requires == "ratings":
        if survey is None:
            raise InputError(f"--method {method} needs --survey BUNDLE (its ratings label the responses)")
        return survey, list(survey.sources), 1.0
    if not prefs:
        raise InputError(f"--method {method} needs --prefs FILE (a preference parquet from `pluralstats prefs`)")
    from pluralstats.prefs.dataset import load_preferences

    mean_weight = float(load_preferences(prefs, provenance=False)["weight"].mean())
    return prefs, [prefs], mean_weight


def _train(method: str, plugin: Any, data: Any, base_model: str, config: TrainConfig, out: str | Path,
           processes: int, threads: int | None, log: Any) -> Path:
    if threads:
        import torch

        torch.set_num_threads(threads)
    if processes > 1:
        from .distributed import train_data_parallel

        return train_data_parallel(method, data, base_model, config, out, processes, threads=threads or 1)
    from .trl_helpers import quiet_libraries
    from .trl_plugin import TRLPlugin

    quiet_libraries()  # one compact line per logged step instead of raw dicts and library progress bars
    compact = {"log": log} if log is not None and isinstance(plugin, TRLPlugin) else {}
    return plugin.train(data, base_model, config, out, **compact)
