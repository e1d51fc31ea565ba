"""docs/api.md is a notebook session that works: its Python blocks run, in order, in one namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_doc_has_a_block_per_stage():
    text = "\n".join(blocks())
    for call in ("simulate_survey", "fit_survey", "group_contrasts", "az.loo", "build_preferences",
                 "build_tiny_model", "get_plugin", "evaluate_models"):
        assert call in text, call


@pytest.mark.slow
def test_api_doc_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(blocks()):
        exec(compile(code, f"docs/api.md block {i + 1}", "exec"), namespace)  # noqa: S102
    assert namespace["status"] in ("passed", "failed")
    assert namespace["loo"].n_data_points == len(namespace["survey"].participants)
    assert len(namespace["pairs"]) > 0 and Path(namespace["liberal"]).exists()
    assert namespace["paths"]["table"].exists()
