"""``pluralstats --help`` lists the commands in pipeline order, and every option of every command says what it does."""

from __future__ import annotations

import click
from click.testing import CliRunner

from pluralstats.cli import PIPELINE, cli


def commands(group: click.Group, path: tuple[str, ...] = ()):
    """Every leaf command under ``group`` with its path of names."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_option_has_help():
    missing = [f"{' '.join(path)} {'/'.join(p.opts)}" for path, command in commands(cli) for p in command.params
               if isinstance(p, click.Option) and not p.hidden and not (p.help or "").strip()]
    assert not missing, "options without help text: " + ", ".join(missing)


def test_every_command_has_a_summary():
    assert all((command.help or "").strip() for _, command in commands(cli))


def test_top_level_commands_in_pipeline_order():
    listed = cli.list_commands(click.Context(cli))
    assert listed == PIPELINE, "add the new command to pluralstats.cli.PIPELINE where the study runs it"
    order = ["simulate", "validate", "describe", "fit-survey", "contrasts", "compare", "prefs", "finetune",
             "evaluate", "experiment", "plot", "report", "demo"]
    assert [c for c in listed if c in order] == order
    shown = CliRunner().invoke(cli, ["--help"]).output
    positions = [shown.index(f"\n  {name} ") for name in listed]
    assert positions == sorted(positions)


def test_report_to_reaches_trl_arguments(tmp_path):
    """``finetune --report-to`` is a config field, and several trackers become the list transformers expects."""
    from pluralstats.finetune.dpo_config import DPOTrainConfig
    from pluralstats.finetune.trl_helpers import trl_arguments

    one = DPOTrainConfig.from_options(report_to="tensorboard", device="cpu")
    two = DPOTrainConfig.from_options(report_to="wandb, tensorboard", device="cpu")
    assert trl_arguments(one, tmp_path)["report_to"] == "tensorboard"
    assert trl_arguments(two, tmp_path)["report_to"] == ["wandb", "tensorboard"]
    assert trl_arguments(DPOTrainConfig(device="cpu"), tmp_path)["report_to"] == "none"


def test_every_command_reading_a_bundle_takes_allow_outside_paths():
    """A bundle's survey.toml may name files outside its folder; every command that reads one refuses them unless
    told, and can be told."""
    reading = [(path, command) for path, command in commands(cli)
               if any(isinstance(p, click.Argument) and p.name == "bundle" for p in command.params)]
    assert len(reading) >= 8
    missing = [" ".join(path) for path, command in reading
               if not any("--allow-outside-paths" in p.opts for p in command.params if isinstance(p, click.Option))]
    assert not missing, missing
