"""Outputs never destroy what the command did not create, and interrupted writes leave nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from tests.hostile.conftest import run_cli, snapshot


@pytest.fixture
def keep(tmp_path) -> Path:
    """A user's folder holding their own work."""
    folder = tmp_path / "keep"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work\n")
    return folder


@pytest.fixture
def prefs_file(tmp_path) -> Path:
    path = tmp_path / "p.parquet"
    path.write_bytes(b"not read: the output is checked before any input is")
    return path


def _commands(survey: Path, post: Path, prefs: Path, out: Path) -> dict[str, list]:
    return {
        "simulate": ["simulate", "--out", out, "--participants", 20],
        "describe": ["describe", survey, "--out", out],
        "fit-survey": ["fit-survey", survey, "--out", out, "--dimensions", "toxicity"],
        "contrasts": ["contrasts", post, "--out", out, "--allow-bad-diagnostics"],
        "compare": ["compare", post, "--groups", "liberal", "conservative", "--out", out, "--allow-bad-diagnostics"],
        "plot-posterior": ["plot-posterior", post, "--out", out],
        "prefs": ["prefs", survey, "--out", out],
        "tiny-model": ["tiny-model", survey, "--out", out],
        "fit-rater": ["fit-rater", survey, "--out", out],
        "finetune": ["finetune", "--method", "dpo", "--prefs", prefs, "--model", survey, "--out", out],
        "evaluate": ["evaluate", survey, "--model", f"control={survey}", "--out", out],
        "demo": ["demo", "--out", out],
    }


COMMANDS = list(_commands(Path(), Path(), Path(), Path()))


@pytest.mark.parametrize("command", COMMANDS)
def test_foreign_folder_is_never_replaced(command, run_bad, hostile_survey_dir, hostile_posterior, prefs_file, keep):
    """`--out keep` where keep holds the user's thesis: exit 2 naming keep and --overwrite (or, for a command
    writing a file, that keep is a folder, which --overwrite would not change); thesis intact."""
    args = _commands(hostile_survey_dir, hostile_posterior, prefs_file, keep)[command]
    writes_file = command in ("fit-survey", "contrasts", "prefs", "evaluate")
    run_bad(args, names=[str(keep), "is a folder" if writes_file else "--overwrite"], watch=[keep, hostile_survey_dir])


@pytest.mark.parametrize("command", ["describe", "prefs", "fit-survey", "tiny-model"])
def test_output_inside_input_is_refused(command, run_bad, survey_copy, hostile_posterior, prefs_file):
    """`describe s --out s`, `prefs s --out s/ratings.csv`...: exit 2, the bundle untouched."""
    out = {"describe": survey_copy, "prefs": survey_copy / "ratings.csv", "fit-survey": survey_copy / "post.nc",
           "tiny-model": survey_copy / "model"}[command]
    args = _commands(survey_copy, hostile_posterior, prefs_file, out)[command]
    run_bad(args, names=["input", str(survey_copy)], watch=[survey_copy], absent=[] if out.exists() else [out])


def test_output_equal_to_input_posterior_is_refused(run_bad, posterior_copy, tmp_path):
    """`contrasts post.nc --out post.nc` would replace the posterior with a CSV."""
    run_bad(["contrasts", posterior_copy, "--out", posterior_copy, "--allow-bad-diagnostics"],
            names=[str(posterior_copy)], watch=[posterior_copy])


def test_output_holding_an_input_is_refused(run_bad, survey_copy, tmp_path):
    """An --out that contains the input folder would delete it when replaced."""
    parent = survey_copy.parent
    run_bad(["describe", survey_copy, "--out", parent, "--overwrite"], names=["contains the input"],
            watch=[survey_copy])


def test_existing_file_made_by_another_command_is_refused(run_bad, hostile_posterior, tmp_path):
    out = tmp_path / "notes.csv"
    out.write_text("a,b\n1,2\n")
    run_bad(["contrasts", hostile_posterior, "--out", out, "--allow-bad-diagnostics"], names=["notes.csv"],
            watch=[out])


def test_output_of_another_command_is_refused(run_bad, hostile_survey_dir, tmp_path):
    """A describe folder is not simulate's to replace."""
    out = tmp_path / "d"
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0
    run_bad(["simulate", "--out", out, "--participants", 20], names=["describe", "--overwrite"], watch=[out])


def test_output_under_a_file_is_refused(run_bad, hostile_survey_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run_bad(["describe", hostile_survey_dir, "--out", blocker / "out"], names=["is a file"], watch=[blocker])


def test_file_where_a_folder_is_written_is_refused(run_bad, hostile_survey_dir, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("mine")
    run_bad(["describe", hostile_survey_dir, "--out", target, "--overwrite"], names=["out.txt"], watch=[target])


def test_rerun_replaces_own_output_and_overwrite_replaces_foreign(hostile_survey_dir, tmp_path, keep):
    """A command may replace its own earlier output; --overwrite is the explicit way to replace anything else."""
    out = tmp_path / "d"
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0
    (out / "group_means.csv").write_text("edited by hand: still the command's file")
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0
    assert "edited" not in (out / "group_means.csv").read_text() and (out / "manifest.json").exists()
    assert run_cli(["describe", hostile_survey_dir, "--out", keep, "--overwrite"]).exit_code == 0
    assert not (keep / "thesis.txt").exists()
    assert json.loads((keep / "manifest.json").read_text())["command"] == "describe"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no aside or temporary folder left"


def test_failed_run_leaves_previous_output_intact(run_bad, hostile_survey_dir, tmp_path):
    """A run that fails after its check (bad threshold) keeps the earlier output byte for byte."""
    out = tmp_path / "d"
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0
    run_bad(["describe", hostile_survey_dir, "--out", out, "--threshold", "nosuch=3"], names=["--threshold"],
            watch=[out])


SIGTERM_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
from pluralstats.cli.common import install_signal_handlers
from pluralstats.io import atomic_path
install_signal_handlers()
# as at a terminal: a shell that starts its jobs in the background hands them SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
target = Path(sys.argv[1])
with atomic_path(target) as tmp:
    tmp.write_bytes(b"x" * 1_000_000)
    os.kill(os.getpid(), signal.SIGTERM)
    # short sleeps, not signal.pause(): a signal that lands on a library's thread would leave pause() waiting
    # forever, while the main thread runs its Python handler at the end of each sleep
    for _ in range(600):
        time.sleep(0.1)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_write_leaves_no_temporary_file(tmp_path, sig):
    """SIGTERM/SIGINT during an atomic write: the old file stays, no .tmp sibling is left."""
    target = tmp_path / "post.nc"
    target.write_text("the old posterior")
    script = SIGTERM_SCRIPT.replace("signal.SIGTERM", f"signal.{sig.name}")
    proc = subprocess.run([sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert target.read_text() == "the old posterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["post.nc"], proc.stderr


def test_unexpected_error_prints_no_traceback_and_no_data(monkeypatch, tmp_path, hostile_survey_dir,
                                                          participant_ids):
    """The last-resort handler: a short message and a private log path; the exception text stays in the log."""
    import pluralstats.survey.describe as describe_module

    secret = participant_ids[0]

    def explode(*args, **kwargs):
        raise KeyError(f"row of {secret}")

    monkeypatch.setenv("PLURALSTATS_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setattr(describe_module, "describe", explode)
    monkeypatch.setattr("pluralstats.cli.survey.describe_survey", explode)
    result = run_cli(["describe", hostile_survey_dir, "--out", tmp_path / "d"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and secret not in result.output
    assert "internal error" in result.output and "KeyError" in result.output
    logs = list((tmp_path / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and secret in logs[0].read_text()
    assert logs[0].stat().st_mode & 0o077 == 0, "the log is private to the user"
    assert not (tmp_path / "d").exists()


def test_os_error_is_exit_2_with_the_path(run_bad, monkeypatch, hostile_survey_dir, tmp_path):
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / "locked"))

    monkeypatch.setattr("pluralstats.cli.survey.describe_survey", denied)
    run_bad(["describe", hostile_survey_dir, "--out", tmp_path / "d"], names=["locked", "permission denied"])


def test_warning_display_is_restored_after_a_command(hostile_survey_dir, tmp_path):
    before = warnings.showwarning
    run_cli(["describe", hostile_survey_dir, "--out", tmp_path / "d"])
    assert warnings.showwarning is before


def test_check_output_snapshot_helper_sees_changes(tmp_path):
    """The corpus's own instrument: a changed byte is a changed snapshot (so 'unchanged' asserts mean something)."""
    f = tmp_path / "a.txt"
    f.write_text("a")
    before = snapshot(tmp_path)
    f.write_text("b")
    assert snapshot(tmp_path) != before
    os.remove(f)
    assert snapshot(tmp_path) == {}
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_own_output_is_recognised_whatever_the_program_is_called(hostile_survey_dir, tmp_path, monkeypatch):
    """The command name matched against a manifest does not depend on how the program was started."""
    from pluralstats.cli import cli

    out = tmp_path / "d"
    for prog in ("pluralstats", "python -m pluralstats"):
        result = cli.main(["describe", str(hostile_survey_dir), "--out", str(out)], prog_name=prog,
                          standalone_mode=False)
        assert result is None and (out / "manifest.json").exists()


def test_finetune_never_uses_a_foreign_checkpoints_folder(tmp_path):
    """<out>.checkpoints is removed after training, so a user's folder of that name is refused, not used."""
    from pluralstats.finetune.trl_helpers import checkpoint_dir
    from pluralstats.finetune.trl_plugin import TRLPlugin
    from pluralstats.io import OutputError

    out = tmp_path / "model"
    mine = checkpoint_dir(out)
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")

    class Never(TRLPlugin):
        name = "never"

        def build_trainer(self, *args, **kwargs):
            raise AssertionError("the trainer must not be built")

    with pytest.raises(OutputError, match="checkpoints"):
        Never().train([], "base", None, out)
    assert (mine / "notes.txt").read_text() == "the user's"
