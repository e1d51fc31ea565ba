"""The written dataset: split beside it, manifest, schema, datasets/TRL loading, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from pluralstats.cli import cli
from pluralstats.errors import InputError, ValidationError
from pluralstats.prefs import build_preferences, load_preferences, load_split, validate_preferences
from pluralstats.prefs.build import resolve_split
from pluralstats.prefs.dataset import write_preferences
from pluralstats.survey import save_survey
from pluralstats.survey.simulate import SimulationConfig, simulate_survey


@pytest.fixture(scope="module")
def small():
    cfg = SimulationConfig(n_participants=120, prompts_per_language=5, prompts_per_participant=3)
    return simulate_survey(cfg, seed=3).survey


@pytest.fixture(scope="module")
def bundle(small, tmp_path_factory) -> Path:
    return save_survey(small, tmp_path_factory.mktemp("prefs") / "bundle")


def test_pairs_come_from_train_prompts_and_split_is_recorded(small, tmp_path):
    df, summary = build_preferences(small, strategy="mean", eval_fraction=0.3, seed=5)
    side = resolve_split(small, None, 0.3, 5)
    assert set(df.prompt_id) <= set(side.index[side == "train"]) and summary.split_counts == {"train": 6, "eval": 4}
    path = write_preferences(df, tmp_path / "p.parquet", split=side, summary=summary, seed=5)
    assert load_split(path).equals(side.rename("split")) and load_split(tmp_path / "p.split.csv").equals(
        load_split(path))
    manifest = json.loads((tmp_path / "p.parquet.manifest.json").read_text())
    assert manifest["split"] == {"file": "p.split.csv", "counts": {"train": 6, "eval": 4}}
    assert manifest["summary"]["by_dimension"][0]["pairs"] == len(df)
    eval_df, _ = build_preferences(small, strategy="mean", split=path, use="eval", seed=99)  # reused split
    assert set(eval_df.prompt_id) <= set(side.index[side == "eval"]) and len(eval_df)
    assert load_preferences(path).equals(df)


def test_schema_rejects_broken_rows(small):
    df, _ = build_preferences(small, strategy="preserve")
    bad = df.copy()
    bad.loc[0, "weight"] = 0.0
    bad.loc[1, "rejected_item_id"] = bad.loc[1, "chosen_item_id"]
    bad.loc[2, "strategy"] = "vibes"
    with pytest.raises(ValidationError) as err:
        validate_preferences(bad)
    text = str(err.value)
    assert "weight" in text and "strategy" in text and "different responses" in text
    with pytest.raises(ValidationError):
        validate_preferences(df.assign(extra=1))


def test_loads_in_datasets_and_trains_one_dpo_step(small, tmp_path):
    """TRL's DPOTrainer takes the parquet as is (a tiny local model; no hub)."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    df, summary = build_preferences(small, strategy="preserve")
    path = write_preferences(df.head(8), tmp_path / "p.parquet")
    ds = datasets.Dataset.from_parquet(str(path))
    assert ds.column_names[:3] == ["prompt", "chosen", "rejected"] and isinstance(ds[0]["chosen"], str)
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(list(df.prompt) + list(df.chosen) + list(df.rejected),
                            trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]", "[EOS]"]))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                        eos_token="[EOS]")
    model_dir = tmp_path / "model"
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=256, n_embd=16, n_layer=1, n_head=2,
                        bos_token_id=2, eos_token_id=2, pad_token_id=1)
    GPT2LMHeadModel(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    args = trl.DPOConfig(output_dir=str(tmp_path / "out"), max_steps=1, per_device_train_batch_size=2,
                         report_to=[], save_strategy="no", use_cpu=True, disable_tqdm=True)
    trainer = trl.DPOTrainer(model=str(model_dir), args=args, train_dataset=ds, processing_class=tokenizer)
    assert trainer.train().global_step == 1


def test_cli_writes_dataset_split_manifest_and_summary(bundle, tmp_path):
    out = tmp_path / "prefs.parquet"
    result = CliRunner().invoke(cli, ["prefs", str(bundle), "--out", str(out), "--strategy", "preserve",
                                      "--scale", "3", "--pairing", "within",
                                      "--jury", "political=liberal:0.5,political=conservative:0.5",
                                      "--objective", "multi", "--weights", "toxicity=1,emotional_awareness=1",
                                      "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "conflicts" in result.output and "raters by group" in result.output
    df = pd.read_parquet(out)
    assert set(df.dimension) == {"multi"} and set(df.scale) == {3} and df.group.iloc[0].startswith("jury(")
    manifest = json.loads(out.with_name("prefs.parquet.manifest.json").read_text())
    assert manifest["seed"] == 2 and manifest["options"]["strategy"] == "preserve"
    assert load_split(out).isin(["train", "eval"]).all()


@pytest.mark.parametrize(("args", "message"), [
    (["--group", "race_ethnicity=other"], "fewer than k"),
    (["--group", "martian"], "Known levels"),
    (["--strategy", "posterior"], "needs a fitted posterior"),
])
def test_cli_bad_input_exits_2_and_writes_nothing(bundle, tmp_path, args, message):
    out = tmp_path / "prefs.parquet"
    result = CliRunner().invoke(cli, ["prefs", str(bundle), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and not out.exists()


def test_cli_allow_small_groups(bundle, tmp_path):
    out = tmp_path / "prefs.parquet"
    result = CliRunner().invoke(cli, ["prefs", str(bundle), "--out", str(out), "--group", "race_ethnicity=other",
                                      "--allow-small-groups", "--strategy", "mean"])
    assert result.exit_code == 0, result.output
    assert set(pd.read_parquet(out).group) == {"race_ethnicity=other"}


def test_empty_dataset_is_refused(small, tmp_path):
    df, summary = build_preferences(small, strategy="majority")
    with pytest.raises(InputError, match="No preference pairs"):
        write_preferences(df.iloc[0:0], tmp_path / "p.parquet", summary=summary)
    assert not (tmp_path / "p.parquet").exists()


def test_split_csv_round_trip_and_bad_files(tmp_path):
    """One writer and one reader of split files (prefs' *.split.csv, experiments' split.csv)."""
    import pandas as pd

    from pluralstats.errors import InputError
    from pluralstats.survey.split import read_split_csv, write_split_csv

    split = pd.Series(["train", "eval"], index=pd.Index(["p1", "p2"], name="prompt_id"), name="split")
    path = write_split_csv(split, tmp_path / "split.csv")
    assert path.read_text().splitlines()[0] == "prompt_id,split"
    pd.testing.assert_series_equal(read_split_csv(path), split)
    (tmp_path / "bad.csv").write_text("prompt_id,side\np1,train\n")
    with pytest.raises(InputError, match="not a split file"):
        read_split_csv(tmp_path / "bad.csv")
    with pytest.raises(InputError, match="No split file"):
        read_split_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize("text", ["toxicity", "toxicity=high", "toxicity=1,=2x"])
def test_dimension_weights_have_one_parser_that_refuses_a_bare_name(text):
    """``prefs --weights`` and ``finetune --weights`` read ``dimension=number`` with the same function."""
    from pluralstats.prefs.build import parse_weights

    with pytest.raises(InputError, match="dimension=number"):
        parse_weights(text)
    assert parse_weights(" toxicity=1, emotional_awareness=0.5 ,") == {"toxicity": 1.0, "emotional_awareness": 0.5}
