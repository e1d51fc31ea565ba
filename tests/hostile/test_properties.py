"""Property-based hostile bundles (Hypothesis): level names, dimension names, ids, texts, encodings, line endings
and folder names drawn from what breaks parsers, markup and Markdown. Whatever is drawn, ``validate``,
``describe`` and ``prefs`` must

- exit 0 or 2 (never an internal error, never a usage error from a value),
- print no traceback and no participant id, and write none into their outputs,
- leave every file that existed as it was and write nothing but their own outputs.

Bundles are tiny (6 raters, 4 responses) and the examples few, so the layer costs seconds, not minutes.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import assert_clean, run_cli, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::pluralstats.survey.SmallGroupWarning")

#: values that have broken something before: markup, Markdown, CSV, missing-value markers, padding, formulas
NASTY = ["[/]", "[prefer not to say]", "[/b]x", "NA", "None", "null", "nan", " padded ", "a,b", '"q"', "x](http://e)",
         "<b>", "1e3", "-1", "=1+1", "#", "é", "日本", "🙂", "a\nb", "tab\there", "all", "\\", "..", "' OR 1=1"]
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=10)
VALUE = st.one_of(st.sampled_from(NASTY), TEXT)
FOLDERS = ["s", "my survey", "[b]", "x](y)", "a,b", "ü", "-dash", "#hash", "NA"]  # "/" would nest folders
SETTINGS = settings(max_examples=15, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def bundles(draw) -> dict:
    """A tiny bundle's parts: 6 raters with one attribute, 2 prompts x 2 responses, 1-2 dimensions."""
    token = draw(st.text(alphabet="bcdfghjkmnpqrstvwxz", min_size=5, max_size=5))
    suffix = draw(st.sampled_from(["", "[/]", ",x", '"', " ", "é", "](u)"]))
    levels = draw(st.lists(VALUE, min_size=2, max_size=3))
    dims = draw(st.lists(st.one_of(st.sampled_from(["toxicity", "[/b]help", "a b", "é"]), TEXT), min_size=1,
                         max_size=2, unique=True))
    ratings = draw(st.lists(st.integers(1, 5), min_size=6 * 4 * len(dims), max_size=6 * 4 * len(dims)))
    return {
        "ids": [f"Q{token}{i}{suffix}" for i in range(6)],  # distinctive: never part of a level or a text
        # the reference level: mostly one of the levels, sometimes anything
        "levels": levels, "reference": draw(st.one_of(st.sampled_from(levels), st.sampled_from(levels), VALUE)),
        "dims": dims, "ratings": ratings, "texts": draw(st.lists(VALUE, min_size=4, max_size=4)),
        "k": draw(st.sampled_from([1, 2, 5])), "encoding": draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])),
        "newline": draw(st.sampled_from(["\n", "\r\n"])), "folder": draw(st.sampled_from(FOLDERS)),
    }


def write(parts: dict, root: Path) -> Path:
    folder = root / parts["folder"]
    folder.mkdir()
    ids, levels = parts["ids"], parts["levels"]
    people = pd.DataFrame({"participant_id": ids, "grp": [levels[i % len(levels)] for i in range(len(ids))]})
    items = pd.DataFrame({"item_id": [f"i{j}" for j in range(4)], "prompt_id": ["p0", "p0", "p1", "p1"],
                          "prompt": ["Hi?", "Hi?", "Help?", "Help?"], "response": parts["texts"]})
    cells = [(p, i, d) for p in ids for i in items.item_id for d in parts["dims"]]
    ratings = pd.DataFrame(cells, columns=["participant_id", "item_id", "dimension"]).assign(rating=parts["ratings"])
    for name, frame in (("participants", people), ("items", items), ("ratings", ratings)):
        text = frame.to_csv(index=False, lineterminator=parts["newline"])
        (folder / f"{name}.csv").write_bytes(text.encode(parts["encoding"], errors="replace"))
    toml = [f"name = {json.dumps(parts['folder'])}", "scale_max = 5", f"min_group_size = {parts['k']}", ""]
    for d in parts["dims"]:
        toml += [f"[dimensions.{json.dumps(d, ensure_ascii=False)}]", 'polarity = "lower_is_better"', ""]
    toml += ["[attributes]", f"grp = {json.dumps(parts['reference'], ensure_ascii=False)}", ""]
    (folder / "survey.toml").write_text("\n".join(toml), encoding="utf-8")
    return folder


def check(args: list, parts: dict, root: Path, out: Path | None) -> None:
    """Run ``pluralstats ARGS`` and assert the module's invariants."""
    before = snapshot(root)
    result = run_cli(args)
    assert result.exit_code in (0, 2), f"exit {result.exit_code}:\n{result.output}"
    assert_clean(result.output, parts["ids"])
    after = snapshot(root)
    # the folder is fresh: whatever was there is an input (the bundle, even when --out names it) and must stay
    assert all(after.get(p) == h for p, h in before.items()), "an existing file was changed or removed"
    new = [p for p in after if p not in before]
    # the output itself, what is inside it, and what the command writes beside it (OUT.manifest.json, ...)
    mine = [p for p in new if out is not None and (Path(p) == out or Path(p).is_relative_to(out) or (
        Path(p).parent == out.parent and Path(p).name.startswith(f"{out.stem}.")))]
    assert mine == new, f"written outside the output: {sorted(set(new) - set(mine))}"
    if result.exit_code == 2:
        assert not mine, f"exit 2 left outputs: {mine}"
    for path in mine:
        assert_clean(Path(path).read_bytes().decode("utf-8", errors="replace"), parts["ids"])


@SETTINGS
@given(bundles())
def test_validate_holds_its_invariants(parts):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(parts, Path(tmp))
        check(["validate", folder], parts, Path(tmp), None)


@SETTINGS
@given(bundles(), st.sampled_from(["d", "out [b]", "x](y)", "é"]))
def test_describe_holds_its_invariants(parts, name):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(parts, Path(tmp))
        out = Path(tmp) / name
        check(["describe", folder, "--out", out], parts, Path(tmp), out)


@SETTINGS
@given(bundles(), st.booleans())
def test_prefs_holds_its_invariants(parts, grouped):
    with tempfile.TemporaryDirectory() as tmp:
        folder = write(parts, Path(tmp))
        out = Path(tmp) / "p [b].parquet"
        group = ["--group", f"grp={parts['levels'][0]}", "--allow-small-groups"] if grouped else []
        check(["prefs", folder, "--out", out, "--eval-fraction", "0", "--objective", parts["dims"][0], *group],
              parts, Path(tmp), out)
