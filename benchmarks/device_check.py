"""Device check: a few DPO and GRPO steps through the plugins; prints tokens/s and peak memory.

    python benchmarks/device_check.py --device cuda      # on a GPU (bf16 where supported)
    python benchmarks/device_check.py --device cpu       # smoke check anywhere

Data: a simulated survey, its toxicity pairs and a hashed-n-gram rater (fast, offline). Model: a
tiny Llama built from the survey (``--hidden-size``/``--layers`` to make it bigger), or ``--model``.
Tokens/s counts the tokens TRL trained on (DPO: chosen + rejected sequences; GRPO: prompt +
completion tokens) over the trainer's runtime. Peak memory: CUDA max allocated, else process max RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _peak_memory_mb(device: str) -> float:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def _measure(name: str, trainer, device: str) -> dict:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    trainer.train()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    tokens = max((row.get("num_tokens", 0) for row in trainer.state.log_history), default=0)
    return {"method": name, "device": device, "steps": trainer.state.global_step, "seconds": round(seconds, 2),
            "tokens": int(tokens), "tokens_per_s": round(tokens / seconds, 1),
            "peak_memory_mb": round(_peak_memory_mb(device), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda")
    parser.add_argument("--model", default=None, help="A local causal LM folder (default: build a tiny one)")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--warm-steps", type=int, default=50)
    opts = parser.parse_args()
    warnings.simplefilter("ignore")
    from transformers.utils import logging as hf_logging

    from pluralstats.evaluate.rater import RaterModel
    from pluralstats.finetune import DPOTrainConfig, GRPOTrainConfig, dpo, grpo
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model
    from pluralstats.finetune.train_config import resolve_device
    from pluralstats.prefs import build_preferences
    from pluralstats.survey.simulate import SimulationConfig, simulate_survey

    hf_logging.set_verbosity_error()
    device, bf16 = resolve_device(opts.device)
    survey = simulate_survey(SimulationConfig(n_participants=60), seed=0).survey
    pairs, _ = build_preferences(survey, strategy="mean", objective="toxicity", allow_small_groups=True)
    rater = RaterModel.fit(survey, encoder="hashing")
    common = dict(max_steps=opts.steps, batch_size=opts.batch_size, learning_rate=1e-4, device=device,
                  logging_steps=1, save_steps=10**6, progress=False)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = opts.model
        if model is None:
            model = str(tmp / "tiny")
            build_tiny_model(survey, model, TinyModelConfig(hidden_size=opts.hidden_size, num_layers=opts.layers,
                                                            intermediate_size=2 * opts.hidden_size,
                                                            steps=opts.warm_steps), progress=False)
        results = []
        trainer, _ = dpo.build_trainer(pairs, model, DPOTrainConfig(**common), tmp / "dpo")
        results.append(_measure("dpo", trainer, device))
        del trainer
        trainer, _ = grpo.build_trainer(list(pairs.prompt.unique()), model,
                                        GRPOTrainConfig(**common, num_generations=4, max_completion_length=32),
                                        tmp / "grpo", rater=rater)
        results.append(_measure("grpo", trainer, device))
    for row in results:
        print(json.dumps({**row, "bf16": bf16, "model": opts.model or f"tiny-{opts.hidden_size}x{opts.layers}"}))


if __name__ == "__main__":
    main()
