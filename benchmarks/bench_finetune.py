"""Plugin overhead: each plugin's ``train`` against the TRL trainer called directly on the same data.

Methods: ``dpo`` (DPOTrainer), ``kto`` (KTOTrainer), ``orpo`` (ORPOTrainer) and ``sft`` (SFTTrainer).
Both sides load the same tiny checkpoint, train the same number of steps with the same arguments and
save the result. The direct side is plain TRL on the same rows (DPO without the pair weights; KTO on the
same unpaired table; SFT on the same unique chosen responses); the plugin side adds its own work
(validation, rendering, DPO's pair weights, the atomic save and the training log).
Runs alternate (direct, plugin, direct, ...) to share the machine's load; medians are compared, and
one line per method gives the ratio.

    python benchmarks/bench_finetune.py [--model DIR] [--methods dpo,kto,orpo,sft] [--steps 40] [--repeats 3]

Without ``--model`` a tiny model is first built from a simulated survey (not timed).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd


def _data(tmp: Path, model: str | None) -> tuple[str, Path, pd.DataFrame]:
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model
    from pluralstats.prefs import build_preferences
    from pluralstats.prefs.unpaired import build_unpaired
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    survey = simulate_survey(SimulationConfig(n_participants=60), seed=0).survey
    prefs = tmp / "prefs.parquet"
    build_preferences(survey, strategy="mean", objective="toxicity", allow_small_groups=True)[0].to_parquet(prefs)
    dims = {d: dataclasses.replace(v, positive_threshold=3) for d, v in survey.config.dimensions.items()}
    survey = dataclasses.replace(survey, config=dataclasses.replace(survey.config, dimensions=dims))
    unpaired = build_unpaired(survey, dimensions=["toxicity"], allow_small_groups=True)
    if model is None:
        model = str(tmp / "tiny")
        build_tiny_model(survey, model, TinyModelConfig(steps=100), progress=False)
    return model, prefs, unpaired


def _chat(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def run_direct(method: str, model: str, data, cfg, out: Path) -> float:
    """Plain TRL: load, <Trainer>(...).train(), save. Returns seconds."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pluralstats.finetune.common import trl_arguments

    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    policy = AutoModelForCausalLM.from_pretrained(model)
    base = trl_arguments(cfg, out / "work")
    if method == "kto":
        from trl import KTOConfig, KTOTrainer

        rows = Dataset.from_pandas(data, preserve_index=False)
        rows = rows.map(lambda r: {"prompt": _chat(r["prompt"]), "completion": _reply(r["completion"]),
                                   "label": bool(r["label"])}, remove_columns=rows.column_names)
        args = KTOConfig(**base, beta=cfg.beta, max_length=cfg.max_length, precompute_ref_log_probs=True)
        trainer = KTOTrainer(model=policy, args=args, train_dataset=rows, processing_class=tok)
    else:
        # in memory, as the plugin's rows are: a file-backed dataset would reuse its on-disk map caches across runs
        raw = Dataset.from_pandas(pd.read_parquet(data), preserve_index=False)
        if method == "sft":
            from trl import SFTConfig, SFTTrainer

            frame = raw.to_pandas()[["prompt", "chosen"]].drop_duplicates()
            rows = Dataset.from_dict({"prompt": [_chat(p) for p in frame.prompt],
                                      "completion": [_reply(c) for c in frame.chosen]})
            args = SFTConfig(**base, max_length=cfg.max_length, completion_only_loss=True)
            trainer = SFTTrainer(model=policy, args=args, train_dataset=rows, processing_class=tok)
        else:
            rows = raw.map(lambda r: {"prompt": _chat(r["prompt"]), "chosen": _reply(r["chosen"]),
                                      "rejected": _reply(r["rejected"])}, remove_columns=raw.column_names)
            if method == "orpo":
                from trl.experimental.orpo import ORPOConfig, ORPOTrainer

                args = ORPOConfig(**base, beta=cfg.beta, max_length=cfg.max_length)
                trainer = ORPOTrainer(model=policy, args=args, train_dataset=rows, processing_class=tok)
            else:
                from trl import DPOConfig, DPOTrainer

                args = DPOConfig(**base, beta=cfg.beta, max_length=cfg.max_length, precompute_ref_log_probs=True)
                trainer = DPOTrainer(model=policy, args=args, train_dataset=rows, processing_class=tok)
    trainer.train()
    trainer.model.save_pretrained(out / "final")
    tok.save_pretrained(out / "final")
    return time.perf_counter() - start


def run_plugin(method: str, model: str, data, cfg, out: Path) -> float:
    from pluralstats.finetune.registry import get_plugin

    start = time.perf_counter()
    get_plugin(method)().train(data, model, cfg, out / "final")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--methods", default="dpo,kto,orpo,sft")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch
    from transformers.utils import logging as hf_logging

    from pluralstats.finetune.registry import get_plugin

    torch.set_num_threads(opts.threads)
    hf_logging.set_verbosity_error()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model, prefs, unpaired = _data(tmp, opts.model)
        for method in [m.strip() for m in opts.methods.split(",") if m.strip()]:
            data = unpaired if method == "kto" else prefs
            cfg = get_plugin(method).config_class(max_steps=opts.steps, batch_size=8, learning_rate=5e-4,
                                                  device="cpu", progress=False, logging_steps=opts.steps,
                                                  save_steps=10**6)
            run_direct(method, model, data, cfg, tmp / f"{method}-warm")  # warm-up: imports, caches
            times: dict[str, list[float]] = {"direct": [], "plugin": []}
            for i in range(opts.repeats):
                times["direct"].append(run_direct(method, model, data, cfg, tmp / f"{method}-d{i}"))
                times["plugin"].append(run_plugin(method, model, data, cfg, tmp / f"{method}-p{i}"))
                print(f"{method} repeat {i}: direct {times['direct'][-1]:.2f}s  plugin {times['plugin'][-1]:.2f}s",
                      flush=True)
            results.append((method, statistics.median(times["direct"]), statistics.median(times["plugin"])))
    for method, direct, plugin in results:
        print(f"{method.upper()} {opts.steps} steps, batch 8, {opts.threads} threads, median of {opts.repeats}: "
              f"direct TRL {direct:.2f}s, plugin {plugin:.2f}s, ratio {plugin / direct:.3f}, "
              f"overhead {100 * (plugin / direct - 1):+.1f}% (target < 5%)")


if __name__ == "__main__":
    main()
