"""Plugin overhead: each plugin's ``train`` against the TRL trainer called directly on the same data.

Methods: ``dpo`` (DPOTrainer), ``grpo`` (GRPOTrainer), ``kto`` (KTOTrainer), ``orpo`` (ORPOTrainer) and
``sft`` (SFTTrainer). Both sides load the same tiny checkpoint, train the same number of steps with the
same arguments (batch 8, learning rate 5e-4, the same seed) and save the result. The direct side is plain
TRL on the same rows (DPO with TRL's per-sequence loss weighting, the hook the plugin feeds its pair weights
through, so both sides compute the same kind of weighted loss; GRPO on the same prompts with the same rater
reward functions; KTO on the same unpaired table; SFT on the same unique chosen responses); the plugin side
adds its own work (validation, rendering, the atomic save and the training log).

Timing: one untimed warm-up run of each side per method (imports, caches, the first allocation), then
``--repeats`` pairs. The order inside a pair alternates (direct first, then plugin first, ...) so that
neither side always runs on the warmer or the busier machine; each pair gives a ratio plugin / direct and
the reported ratio is the median of the pairs' ratios (with their range), which a slow moment of a shared
machine moves less than a ratio of totals. Both wall-clock and CPU time (this process's, all threads) are
reported: on a machine other jobs share, the wall-clock ratio mostly measures their load, while CPU time
counts the work each side did (torch runs ``--threads`` threads, 1 by default).

    python benchmarks/bench_finetune.py [--model DIR] [--methods dpo,grpo,kto,orpo,sft] [--steps 40] [--repeats 5]

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


def _data(tmp: Path, model: str | None) -> tuple[str, Path, pd.DataFrame, object]:
    """The tiny model (built unless given), a preference parquet, an unpaired table and a rater model."""
    from pluralstats.evaluate.rater import RaterModel
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
    return model, prefs, unpaired, RaterModel.fit(survey, seed=0)


def _chat(prompt: str) -> list[dict]:
    return [{"role": "user", "content": prompt}]


def _reply(text: str) -> list[dict]:
    return [{"role": "assistant", "content": text}]


def run_direct(method: str, model: str, data, cfg, out: Path, rater=None) -> tuple[float, float]:
    """Plain TRL: load, <Trainer>(...).train(), save. Returns (wall, CPU) seconds."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from pluralstats.finetune.trl_helpers import trl_arguments

    start, cpu = time.perf_counter(), time.process_time()
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
    elif method == "grpo":
        from trl import GRPOConfig, GRPOTrainer

        from pluralstats.finetune.grpo import reward_functions

        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        prompts = list(dict.fromkeys(pd.read_parquet(data)["prompt"]))
        rows = Dataset.from_dict({"prompt": [_chat(p) for p in prompts]})
        funcs, weights = reward_functions(rater, cfg.objective, cfg.weights, cfg.group)
        args = GRPOConfig(**base, beta=cfg.beta, num_generations=cfg.num_generations,
                          max_completion_length=cfg.max_completion_length, temperature=cfg.temperature,
                          reward_weights=weights, log_completions=False)
        trainer = GRPOTrainer(model=policy, reward_funcs=funcs, args=args, train_dataset=rows, processing_class=tok)
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

                # TRL's per-sequence weighting on: the plugin's pair weights go through that hook, so both
                # sides compute the same weighted loss (with TRL's own weights on this side)
                args = DPOConfig(**base, beta=cfg.beta, max_length=cfg.max_length, precompute_ref_log_probs=True,
                                 use_weighting=getattr(cfg, "use_pair_weights", False))
                trainer = DPOTrainer(model=policy, args=args, train_dataset=rows, processing_class=tok)
    trainer.train()
    trainer.model.save_pretrained(out / "final")
    tok.save_pretrained(out / "final")
    return time.perf_counter() - start, time.process_time() - cpu


def run_plugin(method: str, model: str, data, cfg, out: Path, rater=None) -> tuple[float, float]:
    """The plugin's ``train`` (GRPO with the same rater object as the direct side). Returns (wall, CPU) seconds."""
    from pluralstats.finetune.plugin_registry import get_plugin

    options = {"rater": rater} if method == "grpo" else {}
    start, cpu = time.perf_counter(), time.process_time()
    get_plugin(method)().train(data, model, cfg, out / "final", **options)
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    """Time every method (see the module docstring) and print one ratio line per method."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--methods", default="dpo,grpo,kto,orpo,sft")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    opts = parser.parse_args()
    warnings.simplefilter("ignore")
    import torch

    from pluralstats.finetune.plugin_registry import get_plugin
    from pluralstats.finetune.trl_helpers import quiet_libraries

    torch.set_num_threads(opts.threads)
    quiet_libraries()  # no bars or info logs on either side: both sides print nothing while timed
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model, prefs, unpaired, rater = _data(tmp, opts.model)
        for method in [m.strip() for m in opts.methods.split(",") if m.strip()]:
            data = unpaired if method == "kto" else prefs
            cfg = get_plugin(method).config_class(max_steps=opts.steps, batch_size=8, learning_rate=5e-4,
                                                  device="cpu", progress=False, logging_steps=opts.steps,
                                                  save_steps=10**6)
            sides = {"direct": run_direct, "plugin": run_plugin}
            for name, run in sides.items():  # warm-up, not timed
                run(method, model, data, cfg, tmp / f"{method}-{name}-warm", rater)
            times: dict[str, list[tuple[float, float]]] = {"direct": [], "plugin": []}
            for i in range(opts.repeats):
                for name in (("direct", "plugin") if i % 2 == 0 else ("plugin", "direct")):
                    times[name].append(sides[name](method, model, data, cfg, tmp / f"{method}-{name}{i}", rater))
                (dw, dc), (pw, pc) = times["direct"][-1], times["plugin"][-1]
                print(f"{method} pair {i}: wall direct {dw:.2f}s plugin {pw:.2f}s ratio {pw / dw:.3f}; "
                      f"CPU direct {dc:.2f}s plugin {pc:.2f}s ratio {pc / dc:.3f}", flush=True)
            row = {"method": method}
            for k, kind in enumerate(("wall", "CPU")):
                ratios = [p[k] / d[k] for p, d in zip(times["plugin"], times["direct"], strict=True)]
                row[kind] = (statistics.median(d[k] for d in times["direct"]),
                             statistics.median(p[k] for p in times["plugin"]),
                             statistics.median(ratios), min(ratios), max(ratios))
            results.append(row)
    for row in results:
        for kind in ("CPU", "wall"):
            direct, plugin, ratio, low, high = row[kind]
            print(f"{row['method'].upper()} {kind} {opts.steps} steps, batch 8, {opts.threads} thread(s), "
                  f"{opts.repeats} pairs: median direct TRL {direct:.2f}s, plugin {plugin:.2f}s; median ratio "
                  f"{ratio:.3f} (pairs {low:.3f}..{high:.3f}), overhead {100 * (ratio - 1):+.1f}% (target < 5%)")


if __name__ == "__main__":
    main()
