"""finetune warns when a preference run barely trained (loss near ln 2, reward accuracy near chance)."""

from __future__ import annotations

import json

from pluralstats.finetune.trl_helpers import training_warnings


def _log(tmp_path, history):
    (tmp_path / "training_log.json").write_text(json.dumps({"log_history": history}))
    return tmp_path


def test_flat_run_warns_twice(tmp_path):
    flat = [{"loss": 0.6935, "rewards/accuracies": 0.5}, {"loss": 0.6929, "rewards/accuracies": 0.42}]
    messages = training_warnings(_log(tmp_path, flat))
    assert len(messages) == 2 and "0.693" in messages[0] and "0.46" in messages[1]
    # a weighted loss: at zero margin ln 2 x the mean weight (0.5 here), so 0.35 is flat and 0.69 is not
    weighted = [{"loss": 0.35, "rewards/accuracies": 0.9}]
    assert len(training_warnings(_log(tmp_path, weighted), loss_at_zero_margin=0.6931 * 0.5)) == 1
    assert training_warnings(_log(tmp_path, weighted)) == []


def test_trained_run_and_logs_without_preference_metrics_do_not_warn(tmp_path):
    trained = [{"loss": 0.69, "rewards/accuracies": 0.5}, {"loss": 0.41, "rewards/accuracies": 0.9}]
    assert training_warnings(_log(tmp_path, trained)) == []
    sft = [{"loss": 0.69}]  # no reward accuracy: the ln 2 reading applies to preference losses only
    assert training_warnings(_log(tmp_path, sft)) == []
    assert training_warnings(tmp_path / "missing") == []
