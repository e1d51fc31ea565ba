"""Plugin protocol and registry: built-ins via entry points, runtime registration, CLI errors (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError
from pluralstats.finetune import TrainConfig, available_plugins, get_plugin, register_plugin
from pluralstats.finetune.plugin_registry import unregister_plugin
from pluralstats.finetune.protocol import FinetunePlugin
from pluralstats.prefs import load_preferences


class EchoPlugin:
    """A third-party-style plugin: copies nothing, just records that it ran."""

    name: ClassVar[str] = "echo-test"
    requires: ClassVar[str] = "preferences"
    config_class: ClassVar[type[TrainConfig]] = TrainConfig
    calls: ClassVar[list] = []

    def train(self, data, base_model: str, config: TrainConfig, out_dir) -> Path:
        EchoPlugin.calls.append((base_model, config.seed))
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        return Path(out_dir)


@pytest.fixture
def echo():
    register_plugin(EchoPlugin)
    yield EchoPlugin
    unregister_plugin(EchoPlugin.name)
    EchoPlugin.calls.clear()


def test_builtins_come_from_entry_points():
    from pluralstats.finetune.dpo import DPOPlugin
    from pluralstats.finetune.grpo import GRPOPlugin

    assert {"dpo", "grpo"} <= set(available_plugins())
    assert get_plugin("dpo") is DPOPlugin and get_plugin("grpo") is GRPOPlugin
    assert DPOPlugin.requires == "preferences" and GRPOPlugin.requires == "reward"
    assert isinstance(DPOPlugin(), FinetunePlugin)


def test_runtime_plugin_registers_and_is_found(echo, ft_prefs_path, tmp_path):
    assert get_plugin("echo-test") is echo
    assert "echo-test" in available_plugins()
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0 and "echo-test" in result.output and "dpo" in result.output
    result = CliRunner().invoke(cli, ["finetune", "--method", "echo-test", "--prefs", str(ft_prefs_path),
                                      "--model", "some/model", "--out", str(tmp_path / "o"), "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert echo.calls == [("some/model", 7)]
    assert (tmp_path / "o" / "manifest.json").exists()


def test_register_rejects_non_plugins():
    class NoTrain:
        name = "x"
        requires = "preferences"
        config_class = TrainConfig

    with pytest.raises(TypeError, match="train"):
        register_plugin(NoTrain)


def test_unknown_method_exits_2_listing_known(ft_prefs_path, tmp_path):
    result = CliRunner().invoke(cli, ["finetune", "--method", "nope", "--prefs", str(ft_prefs_path),
                                      "--model", "m", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "Unknown fine-tuning method 'nope'" in result.output and "dpo, grpo" in result.output
    with pytest.raises(InputError, match="dpo"):
        get_plugin("nope")


def test_bad_preferences_exit_2(tmp_path):
    bad = tmp_path / "bad.parquet"
    pd.DataFrame({"prompt": ["p"], "chosen": ["a"], "weight": [1.5]}).to_parquet(bad)
    result = CliRunner().invoke(cli, ["finetune", "--method", "dpo", "--prefs", str(bad), "--model", "m",
                                      "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "rejected" in result.output and "weight in (0, 1]" in result.output
    assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match="file not found"):
        load_preferences(tmp_path / "missing.parquet")


def test_grpo_without_rater_exits_2(ft_prefs_path, tmp_path):
    result = CliRunner().invoke(cli, ["finetune", "--method", "grpo", "--prefs", str(ft_prefs_path),
                                      "--model", "m", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--rater" in result.output

