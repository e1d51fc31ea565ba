"""Shared fixtures of the fine-tuning and rater tests, loaded by conftest.py as a pytest plugin: a small
simulated survey, its preference pairs, a tiny model and a rater, each built once per session."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import warnings
from pathlib import Path

import pytest
import torch  # noqa: E402  (conftest loads this plugin only where the finetune extra is installed)

torch.set_num_threads(1)  # 2 threads spin badly when the shared CPUs are busy
import threadpoolctl  # noqa: E402

threadpoolctl.threadpool_limits(1)  # same for numpy's BLAS (the rater's ridge fits)

_SCRATCH = Path(tempfile.mkdtemp(prefix="pluralstats-ft-tests-"))
atexit.register(shutil.rmtree, _SCRATCH, ignore_errors=True)


@functools.cache
def _survey():
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    return simulate_survey(SimulationConfig(n_participants=60), seed=0).survey


@functools.cache
def _pairs():
    from pluralstats.prefs import build_preferences

    pairs, _ = build_preferences(_survey(), strategy="mean", objective="toxicity", allow_small_groups=True)
    pairs = pairs.sample(n=64, random_state=0).reset_index(drop=True)  # small enough for fast training tests
    pairs.to_parquet(_SCRATCH / "prefs.parquet")
    return pairs


@functools.cache
def _tiny():
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model

    out = _SCRATCH / "tiny"
    info = build_tiny_model(_survey(), out, TinyModelConfig(steps=80, learning_rate=5e-3, max_length=96),
                            progress=False)
    return out, info


@functools.cache
def _rater():
    from pluralstats.evaluate.rater import RaterModel

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return RaterModel.fit(_survey(), encoder="hashing", seed=0)


@pytest.fixture
def ft_survey():
    return _survey()


@pytest.fixture
def ft_pairs():
    return _pairs().copy()


@pytest.fixture
def ft_prefs_path():
    _pairs()
    return _SCRATCH / "prefs.parquet"


@pytest.fixture
def tiny_dir():
    return _tiny()


@pytest.fixture
def hashing_rater():
    return _rater()


def parameters(model) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def max_change(before: dict, after: dict) -> float:
    return max(float((before[k] - after[k]).abs().max()) for k in before)
