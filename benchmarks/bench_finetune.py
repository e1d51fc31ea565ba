"""Plugin overhead: ``DPOPlugin.train`` against TRL's ``DPOTrainer`` called directly on the same data.

Both sides load the same tiny checkpoint, train the same number of steps with the same arguments and
save the result; the direct side drops the pair weights (plain TRL), the plugin side uses them
(its extra work: the weight column, the gradient scaling, the atomic save and the training log).
Runs alternate (direct, plugin, direct, ...) to share the machine's load; medians are compared.

    python benchmarks/bench_finetune.py [--model DIR] [--steps 40] [--repeats 3]

Without ``--model`` a tiny model is first built from a simulated survey (not timed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path


def _data(tmp: Path, model: str | None) -> tuple[str, Path]:
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model
    from pluralstats.prefs import build_preferences
    from pluralstats.simulate import SimulationConfig, simulate_survey

    survey = simulate_survey(SimulationConfig(n_participants=60), seed=0).survey
    prefs = tmp / "prefs.parquet"
    build_preferences(survey, strategy="mean", objective="toxicity", allow_small_groups=True)[0].to_parquet(prefs)
    if model is None:
        model = str(tmp / "tiny")
        build_tiny_model(survey, model, TinyModelConfig(steps=100), progress=False)
    return model, prefs


def run_direct(model: str, prefs: Path, cfg, out: Path) -> float:
    """Plain TRL: load, DPOTrainer(...).train(), save. Returns seconds."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from pluralstats.finetune.common import trl_arguments

    start = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    policy = AutoModelForCausalLM.from_pretrained(model)
    raw = Dataset.from_parquet(str(prefs))
    data = raw.map(lambda r: {"prompt": [{"role": "user", "content": r["prompt"]}],
                              "chosen": [{"role": "assistant", "content": r["chosen"]}],
                              "rejected": [{"role": "assistant", "content": r["rejected"]}]},
                   remove_columns=raw.column_names)
    args = DPOConfig(**trl_arguments(cfg, out / "work"), beta=cfg.beta, max_length=cfg.max_length,
                     precompute_ref_log_probs=True)
    trainer = DPOTrainer(model=policy, args=args, train_dataset=data, processing_class=tok)
    trainer.train()
    trainer.model.save_pretrained(out / "final")
    tok.save_pretrained(out / "final")
    return time.perf_counter() - start


def run_plugin(model: str, prefs: Path, cfg, out: Path) -> float:
    from pluralstats.finetune.dpo import DPOPlugin

    start = time.perf_counter()
    DPOPlugin().train(prefs, model, cfg, out / "final")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch
    from transformers.utils import logging as hf_logging

    from pluralstats.finetune.config import DPOTrainConfig

    torch.set_num_threads(opts.threads)
    hf_logging.set_verbosity_error()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model, prefs = _data(tmp, opts.model)
        cfg = DPOTrainConfig(max_steps=opts.steps, batch_size=8, learning_rate=5e-4, device="cpu",
                             progress=False, logging_steps=opts.steps, save_steps=10**6)
        run_direct(model, prefs, cfg, tmp / "warm")  # warm-up: imports, caches
        times: dict[str, list[float]] = {"direct": [], "plugin": []}
        for i in range(opts.repeats):
            times["direct"].append(run_direct(model, prefs, cfg, tmp / f"d{i}"))
            times["plugin"].append(run_plugin(model, prefs, cfg, tmp / f"p{i}"))
            print(f"repeat {i}: direct {times['direct'][-1]:.2f}s  plugin {times['plugin'][-1]:.2f}s", flush=True)
    direct, plugin = statistics.median(times["direct"]), statistics.median(times["plugin"])
    print(f"DPO {opts.steps} steps, batch 8, {opts.threads} threads, median of {opts.repeats}: "
          f"direct TRL {direct:.2f}s, plugin {plugin:.2f}s, overhead {100 * (plugin / direct - 1):+.1f}% "
          f"(target < 5%)")


if __name__ == "__main__":
    main()
