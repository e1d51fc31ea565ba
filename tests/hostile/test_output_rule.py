"""The output rule, round two: files written beside --out, inputs reached through links, reruns into a folder the
user added to, outputs without a suffix, interrupts a library swallows, and sizes no command can build.

Each case asserts exit code, message, no traceback and no participant id (``run_bad``), and that nothing the
command did not create changed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hostile.conftest import run_cli, snapshot

# --- finetune: --out and --model --------------------------------------------------------------------------------


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """A local model folder (never loaded: the outputs are checked first)."""
    folder = tmp_path / "ft" / "lib"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"the user's weights")
    (folder / "config.json").write_text("{}")
    return folder


@pytest.mark.parametrize("where", ["equal", "inside", "holding"])
def test_finetune_out_and_model_overlap_is_refused(where, run_bad, checkpoint, tmp_path):
    """`finetune --model ft/lib --out ft/lib` replaced the input checkpoint's weights."""
    prefs = tmp_path / "p.parquet"
    prefs.write_bytes(b"not read")
    out = {"equal": checkpoint, "inside": checkpoint / "tuned", "holding": checkpoint.parent}[where]
    run_bad(["finetune", "--method", "dpo", "--prefs", prefs, "--model", checkpoint, "--out", out, "--max-steps", 2,
             "--overwrite"],
            names=["input", "lib"], watch=[checkpoint.parent])


# --- files beside the output ---------------------------------------------------------------------------------


def test_contrasts_plot_beside_is_checked(run_bad, hostile_posterior, tmp_path):
    """`contrasts --plot fig` replaced the user's fig.png and fig.pdf; its own are replaced on a rerun."""
    fig_png, fig_pdf = tmp_path / "fig.png", tmp_path / "fig.pdf"
    fig_png.write_text("mine")
    fig_pdf.write_text("mine too")
    out = tmp_path / "c.csv"
    args = ["contrasts", hostile_posterior, "--out", out, "--plot", tmp_path / "fig", "--allow-bad-diagnostics"]
    run_bad(args, names=["fig.png", "--overwrite"], watch=[fig_png, fig_pdf], absent=[out])
    fig_png.unlink()
    fig_pdf.unlink()
    assert run_cli(args).exit_code == 0
    files = json.loads((tmp_path / "c.csv.manifest.json").read_text())["files"]
    assert files == ["c.csv", "fig.png", "fig.pdf"]
    again = run_cli(args)
    assert again.exit_code == 0, again.output


def test_prefs_split_beside_is_checked(run_bad, hostile_survey_dir, tmp_path):
    """`prefs s --out train.parquet` replaced the user's train.split.csv."""
    split = tmp_path / "train.split.csv"
    split.write_text("prompt_id,split\nmine,train\n")
    out = tmp_path / "train.parquet"
    args = ["prefs", hostile_survey_dir, "--out", out, "--allow-small-groups"]
    run_bad(args, names=["train.split.csv"], watch=[split], absent=[out])
    split.unlink()
    assert run_cli(args).exit_code == 0
    assert run_cli(args).exit_code == 0, "its own split is its to replace"


def test_report_md_of_the_user_is_kept(run_bad, hostile_survey_dir, tmp_path):
    """`report rep` replaced the user's rep/report.md; --overwrite replaces it, a rerun replaces its own."""
    rep = tmp_path / "rep"
    assert run_cli(["describe", hostile_survey_dir, "--out", rep / "d"]).exit_code == 0
    mine = rep / "report.md"
    mine.write_text("# my notes\n")
    run_bad(["report", rep], names=["report.md", "--overwrite"], watch=[mine])
    assert run_cli(["report", rep, "--overwrite"]).exit_code == 0
    assert "my notes" not in mine.read_text()
    assert run_cli(["report", rep]).exit_code == 0


def test_plot_default_folder_keeps_the_users_figure(run_bad, tmp_path):
    """`plot RESULTS --figure 3` without --out writes into the table's folder: a user's figure3.png there stays."""
    folder = tmp_path / "exp"
    folder.mkdir()
    results = folder / "results.parquet"
    results.write_bytes(b"checked after the outputs")
    mine = [folder / "figure3.png", folder / "figure3.pdf"]
    for path in mine:
        path.write_text("mine")
    run_bad(["plot", results, "--figure", 3], names=["figure3.png", "--overwrite"], watch=[folder])


# --- inputs through links --------------------------------------------------------------------------------------


def test_output_onto_an_input_reached_through_a_link_is_refused(run_bad, hostile_survey_dir, tmp_path):
    """ext/bundle/ratings.csv links to ext/data/ratings.csv: `prefs ext/bundle --out ext/data/ratings.csv
    --overwrite` turned the survey's ratings into Parquet."""
    bundle, data = tmp_path / "ext" / "bundle", tmp_path / "ext" / "data"
    shutil.copytree(hostile_survey_dir, bundle)
    data.mkdir()
    shutil.move(bundle / "ratings.csv", data / "ratings.csv")
    (bundle / "ratings.csv").symlink_to(data / "ratings.csv")
    run_bad(["prefs", bundle, "--allow-outside-paths", "--out", data / "ratings.csv", "--overwrite"],
            names=["input", "ratings.csv"], watch=[data])
    run_bad(["describe", bundle, "--out", data, "--overwrite"], names=["contains the input"], watch=[data])


def test_output_onto_a_table_survey_toml_names_elsewhere_is_refused(run_bad, hostile_survey_dir, tmp_path):
    """[files] ratings = "../data/ratings.csv" with --allow-outside-paths: that table is an input too."""
    bundle, data = tmp_path / "ext" / "bundle", tmp_path / "ext" / "data"
    shutil.copytree(hostile_survey_dir, bundle)
    data.mkdir()
    shutil.move(bundle / "ratings.csv", data / "ratings.csv")
    toml = bundle / "survey.toml"
    toml.write_text(toml.read_text().replace('ratings = "ratings.csv"', 'ratings = "../data/ratings.csv"'))
    run_bad(["prefs", bundle, "--allow-outside-paths", "--out", data / "ratings.csv", "--overwrite"],
            names=["input", "ratings.csv"], watch=[data])


# --- reruns into a folder the user added to --------------------------------------------------------------------


def test_rerun_refuses_a_folder_holding_the_users_files(run_bad, hostile_survey_dir, tmp_path):
    """`describe s --out d; echo x > d/NOTES.md; describe s --out d` deleted NOTES.md: now refused, naming it."""
    out = tmp_path / "d"
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0
    own = json.loads((out / "manifest.json").read_text())["files"]
    assert "group_means.csv" in own and "manifest.json" not in own
    (out / "NOTES.md").write_text("x\n")
    run_bad(["describe", hostile_survey_dir, "--out", out], names=["NOTES.md", "--overwrite"], watch=[out])
    (out / "NOTES.md").unlink()
    assert run_cli(["describe", hostile_survey_dir, "--out", out]).exit_code == 0


# --- outputs without a suffix ------------------------------------------------------------------------------------


def test_file_output_without_suffix_gets_its_manifest_beside(hostile_survey_dir, hostile_posterior, tmp_path):
    """`contrasts --out cfile` wrote cfile, then failed on cfile/manifest.json; a rerun was refused."""
    cfile, pfile = tmp_path / "cfile", tmp_path / "pfile"
    contrasts = ["contrasts", hostile_posterior, "--out", cfile, "--allow-bad-diagnostics"]
    prefs = ["prefs", hostile_survey_dir, "--out", pfile, "--allow-small-groups"]
    for args in (contrasts, prefs, contrasts, prefs):  # the second of each: a rerun onto its own output
        result = run_cli(args)
        assert result.exit_code == 0, result.output
    assert cfile.is_file() and json.loads((tmp_path / "cfile.manifest.json").read_text())["command"] == "contrasts"
    assert pfile.is_file() and json.loads((tmp_path / "pfile.manifest.json").read_text())["command"] == "prefs"


def test_a_users_file_at_the_manifest_path_is_refused(run_bad, hostile_posterior, tmp_path):
    mine = tmp_path / "c.csv.manifest.json"
    mine.write_text("my notes about c.csv\n")
    run_bad(["contrasts", hostile_posterior, "--out", tmp_path / "c.csv", "--allow-bad-diagnostics"],
            names=["c.csv.manifest.json", "--overwrite"], watch=[mine], absent=[tmp_path / "c.csv"])


# --- messages -------------------------------------------------------------------------------------------------


def test_folder_with_a_foreign_manifest_is_not_called_an_earlier_output(run_bad, hostile_survey_dir, tmp_path):
    """A user folder with its own manifest.json was 'an earlier output of `pluralstats None`'."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"project": "mine"}')
    result = run_bad(["describe", hostile_survey_dir, "--out", folder], names=["not an output of pluralstats"],
                     watch=[folder])
    assert "None" not in result.output


def test_a_very_long_out_is_shortened_in_messages(run_bad, hostile_survey_dir, tmp_path):
    """A 4.9k-character --out was printed whole."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker.joinpath(*["d" * 200] * 24)
    assert len(str(out)) > 4800
    result = run_bad(["describe", hostile_survey_dir, "--out", out], watch=[blocker])
    assert len(result.output) < 800, result.output
    assert "..." in result.output


# --- sizes no command can build --------------------------------------------------------------------------------


def test_absurd_scale_is_refused_at_validation(run_bad, survey_copy):
    """`scale_max = 1000` was accepted and describe did not finish."""
    toml = survey_copy / "survey.toml"
    text = toml.read_text()
    assert "scale_max = 5" in text
    toml.write_text(text.replace("scale_max = 5", "scale_max = 1000"))
    run_bad(["validate", survey_copy], names=["survey.toml", "scale_max", "101"], watch=[survey_copy])


def test_simulate_with_too_few_participants_is_exit_2(run_bad, tmp_path):
    run_bad(["simulate", "--out", tmp_path / "s", "--participants", 2], names=["--participants"],
            absent=[tmp_path / "s"])


@pytest.mark.parametrize("size", [0, 6])
def test_tiny_model_width_it_cannot_build_is_exit_2(size, run_bad, hostile_survey_dir, tmp_path):
    run_bad(["tiny-model", hostile_survey_dir, "--out", tmp_path / "m", "--hidden-size", size],
            names=["hidden-size"], absent=[tmp_path / "m"])


# --- interrupts ----------------------------------------------------------------------------------------------


def test_an_interrupted_run_leaves_no_empty_checkpoints_folder(tmp_path):
    """SIGTERM during finetune left an empty OUT.checkpoints/; a folder with a checkpoint in it stays."""
    from pluralstats.io import claimed_output_dir

    empty, used = tmp_path / "a.checkpoints", tmp_path / "b.checkpoints"
    with pytest.raises(SystemExit), claimed_output_dir(empty, "finetune"):
        raise SystemExit(143)
    with pytest.raises(KeyboardInterrupt), claimed_output_dir(used, "finetune") as work:
        (work / "checkpoint-2").mkdir()
        raise KeyboardInterrupt
    assert not empty.exists()
    assert (used / "checkpoint-2").is_dir()


SWALLOW_SCRIPT = """
import os, signal, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)  # as at a terminal (a background job ignores it)
import pluralstats.cli.common as common
from pluralstats.io import write_text_atomic
common.install_signal_handlers()
common.INTERRUPT_GRACE_S = 1.0
target, mode = Path(sys.argv[1]), sys.argv[2]
with common.handle_errors():
    try:  # a library that swallows the interrupt (a compiler's finaliser, a sampler returning its draws so far)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    while mode == "forever":  # ... and goes on
        try:
            time.sleep(0.1)
        except KeyboardInterrupt:
            pass
    write_text_atomic(target, "the new posterior")
"""


@pytest.mark.parametrize("mode", ["write", "forever"])
def test_an_interrupt_a_library_swallows_still_ends_the_run(mode, tmp_path):
    """Ctrl-C during fit-survey's compile went on and replaced the output (rc 0); during sampling it ended as an
    internal error (rc 1). Now: "interrupted", exit 130, the old output intact, no temporary file."""
    target = tmp_path / "post.nc"
    target.write_text("the old posterior")
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SWALLOW_SCRIPT, str(target), mode], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert "interrupted" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert target.read_text() == "the old posterior"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["post.nc"]
    assert time.monotonic() - start < 30


@pytest.mark.slow
@pytest.mark.parametrize("delay", [2.0, 20.0])
def test_ctrl_c_during_fit_survey_keeps_the_old_posterior(delay, hostile_survey_dir, tmp_path):
    """A real fit interrupted while it compiles (about 2 s in) or samples (about 20 s in, on 2 busy cores)."""
    target = tmp_path / "post.nc"
    target.write_text("the old posterior")
    log = tmp_path / "log.txt"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-c", "from pluralstats.cli import main; main()", "fit-survey",
                                 str(hostile_survey_dir), "--out", str(target), "--dimensions", "toxicity",
                                 "--overwrite"], stdout=fh, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while "Fitting" not in log.read_text() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=120)
    output = log.read_text()
    assert rc == 130 and "interrupted" in output and "Traceback" not in output, output
    assert target.read_text() == "the old posterior"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert snapshot(hostile_survey_dir)
