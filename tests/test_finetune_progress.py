"""The training display: one rich progress bar on a terminal, the plain compact lines anywhere else.

The callback is driven with fake trainer events (no model, no training), so the test takes well under a second
once transformers is imported.
"""

from __future__ import annotations

import re
from io import StringIO
from types import SimpleNamespace

import pytest
from rich.console import Console

pytest.importorskip("transformers")

from transformers import TrainerControl, TrainerState  # noqa: E402

from pluralstats.finetune.trl_helpers import compact_line, training_progress_callback  # noqa: E402

MAX_STEPS, LOGGING_STEPS = 60, 10


def _drive(console: Console) -> list[str]:
    """Run a 60-step training's events (a log every 10 steps) through the callback; the expected lines."""
    callback = training_progress_callback(console)
    args, control = SimpleNamespace(logging_steps=LOGGING_STEPS), TrainerControl()
    state = TrainerState(max_steps=MAX_STEPS, global_step=0)
    callback.on_train_begin(args, state, control)
    expected = []
    for step in range(1, MAX_STEPS + 1):
        state.global_step = step
        callback.on_step_end(args, state, control)
        if step % LOGGING_STEPS == 0:
            logs = {"loss": 0.7 - step / 200, "rewards/accuracies": 0.5 + step / 200, "rewards/margins": step / 50,
                    "learning_rate": 1e-4}
            callback.on_log(args, state, control, logs=logs)
            expected.append(compact_line(step, MAX_STEPS, logs))
    # the summary TRL logs at the end has no "loss" key: no line for it
    callback.on_log(args, state, control, logs={"train_loss": 0.5, "train_runtime": 1.0})
    callback.on_train_end(args, state, control)
    return expected


def test_not_a_terminal_prints_the_plain_compact_lines_only() -> None:
    out = StringIO()
    expected = _drive(Console(file=out, force_terminal=False, width=120))
    text = out.getvalue()
    assert text.splitlines() == expected
    assert "\x1b" not in text  # no bar, no cursor movement, no colour


def test_terminal_shows_one_bar_and_the_compact_lines_above_it() -> None:
    out = StringIO()
    expected = _drive(Console(file=out, force_terminal=True, width=120))
    text = out.getvalue()
    assert "\x1b" in text  # the live display redraws in place
    assert f"{MAX_STEPS}/{MAX_STEPS}" in text  # the finished bar: steps done / total
    assert "━" in text
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)  # rich highlights the numbers of a printed line
    for line in expected:  # 6 logged steps: fewer than LINES_PER_RUN, so every one is shown
        assert line in plain


def test_close_after_an_interrupted_run_stops_the_bar() -> None:
    callback = training_progress_callback(Console(file=StringIO(), force_terminal=True))
    args, control = SimpleNamespace(logging_steps=1), TrainerControl()
    callback.on_train_begin(args, TrainerState(max_steps=10, global_step=3), control)
    assert callback.progress is not None and callback.progress.live.is_started
    live = callback.progress.live
    callback.close()
    callback.close()  # twice is harmless (train's finally after a normal on_train_end)
    assert callback.progress is None and not live.is_started


def test_terminal_thins_the_lines_of_a_long_run_to_about_lines_per_run() -> None:
    out = StringIO()
    callback = training_progress_callback(Console(file=out, force_terminal=True, width=120, highlight=False))
    args, control = SimpleNamespace(logging_steps=1), TrainerControl()
    state = TrainerState(max_steps=101, global_step=0)
    callback.on_train_begin(args, state, control)
    for step in range(1, 102):
        state.global_step = step
        callback.on_step_end(args, state, control)
        callback.on_log(args, state, control, logs={"loss": 0.5})
    callback.on_train_end(args, state, control)
    shown = re.findall(r"step (\d+)/101  loss", out.getvalue())
    # every 6th of 101 logged steps (ceil(101 / 20)), and the last one, which the run ends on
    assert shown == [str(s) for s in range(6, 102, 6)] + ["101"]
