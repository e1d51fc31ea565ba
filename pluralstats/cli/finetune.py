"""Commands ``tiny-model``, ``fit-rater``, ``finetune`` and ``plugins`` (fine-tuning stage)."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import click
from rich.table import Table

from pluralstats.cli.common import console, err_console, seed_option, styled, writes
from pluralstats.cli.survey import allow_outside_option
from pluralstats.errors import InputError
from pluralstats.io import write_manifest


@writes("folder")
@click.command("tiny-model")
@allow_outside_option
@click.argument("bundle", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--out", required=True, type=click.Path(), help="Checkpoint folder to write.")
@seed_option
@click.option("--steps", type=click.IntRange(0), default=300, show_default=True, help="Warm-start steps.")
@click.option("--hidden-size", type=click.IntRange(1), default=64, show_default=True,
              help="Model width (a multiple of the 4 attention heads).")
@click.option("--layers", type=click.IntRange(1), default=2, show_default=True, help="Transformer layers.")
@click.option("--vocab-size", type=int, default=2000, show_default=True,
              help="BPE vocabulary trained on the survey's texts.")
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True, help="Warm-start batch size.")
@click.option("--lr", type=float, default=3e-3, show_default=True, help="Warm-start learning rate.")
@click.option("--max-length", type=int, default=128, show_default=True,
              help="Longest (prompt, response) text in tokens; longer ones are truncated.")
@click.option("--eval-fraction", type=float, default=0.2, show_default=True,
              help="Held-out prompt share (never seen by the warm start).")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (1 is fastest on a busy machine).")
def tiny_model_cmd(bundle, out, seed, steps, hidden_size, layers, vocab_size, batch_size, lr, max_length,
                   eval_fraction, threads):
    """Build a tiny Llama-style control model from a survey's texts (offline)."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.finetune.common import quiet_libraries
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model

    if hidden_size % TinyModelConfig.num_heads:
        raise InputError(f"--hidden-size {hidden_size}: must be a multiple of the {TinyModelConfig.num_heads} "
                         "attention heads (e.g. 64)")
    quiet_libraries()
    survey = read_bundle(bundle)
    cfg = TinyModelConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=layers, steps=steps,
                          batch_size=batch_size, learning_rate=lr, max_length=max_length,
                          eval_fraction=eval_fraction, seed=seed, threads=threads)
    info = build_tiny_model(survey, out, cfg)
    write_manifest(out, "tiny-model", inputs=survey.sources, options=info["config"], seed=seed,
                   extra={k: v for k, v in info.items() if k != "config"})
    console.print(f"tiny model: {info['parameters']:,} parameters, vocab {info['vocab_size']}, "
                  f"{info['pairs']} train pairs, loss {info['loss_first']:.2f} -> {info['loss_last']:.2f} "
                  f"in {info['seconds']:.0f}s -> {out}")


@writes("folder")
@click.command("fit-rater")
@allow_outside_option
@click.argument("bundle", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--out", required=True, type=click.Path(), help="Rater folder to write.")
@seed_option
@click.option("--encoder", type=click.Choice(["auto", "minilm", "hashing", "minilm+hashing"]), default="auto",
              show_default=True, help="Text features (auto: MiniLM + hashed n-grams where MiniLM is installed).")
@click.option("--group", default=None, help="Default group for predictions, e.g. political=liberal.")
@click.option("--eval-fraction", type=float, default=0.2, show_default=True,
              help="Held-out prompt share: the rater is fitted on the rest and its Spearman reported on these.")
def fit_rater_cmd(bundle, out, seed, encoder, group, eval_fraction):
    """Fit the rater model on train prompts; print its held-out Spearman per dimension."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.evaluate.rater import MIN_HELDOUT_ITEMS, RaterModel
    from pluralstats.survey.split import prompt_split

    survey = read_bundle(bundle)
    split = prompt_split(survey.items, eval_fraction=eval_fraction, seed=seed)
    rater = RaterModel.fit(survey, group=group, split=split, seed=seed, encoder=encoder)
    rater.save(out)
    write_manifest(out, "fit-rater", inputs=survey.sources, seed=seed,
                   options={"encoder": rater.encoder, "group": group, "eval_fraction": eval_fraction},
                   extra={"heldout_spearman": rater.heldout_spearman})
    table = Table(title=f"rater ({rater.encoder}), held-out Spearman")
    table.add_column("dimension")
    table.add_column("spearman", justify="right")
    for dim, rho in rater.heldout_spearman.items():
        table.add_row(dim, "n/a" if rho != rho else f"{rho:.3f}")  # NaN: too few held-out items
    console.print(table)
    if any(rho != rho for rho in rater.heldout_spearman.values()):
        err_console.print(styled("[yellow]note:[/] ", f"n/a: the group rated fewer than {MIN_HELDOUT_ITEMS} held-out "
                                                    "items of the dimension (a larger --eval-fraction gives more)"))


def _finetune_inputs(kwargs: dict) -> list:
    """What finetune reads: --prefs, --survey, --rater and a local --model (a hub id is not a path)."""
    return [kwargs.get(name) for name in ("prefs", "survey_path", "base_model", "rater")
            if kwargs.get(name) is not None and Path(kwargs[name]).exists()]


@writes("folder", inputs=_finetune_inputs)
@click.command("finetune")
@allow_outside_option
@click.option("--method", required=True, help="Plugin name (see `pluralstats plugins`): dpo, grpo, kto, orpo, sft, ...")
@click.option("--prefs", type=click.Path(),
              help="Preference parquet (prompt, chosen, rejected, weight, ...); GRPO uses its prompts, SFT its "
                   "chosen responses. Needed by every method but kto.")
@click.option("--survey", "survey_path", type=click.Path(),
              help="KTO: survey bundle whose ratings label each response desirable or undesirable.")
@click.option("--model", "base_model", required=True, help="Base model: local folder or hub id.")
@click.option("--out", required=True, type=click.Path(), help="Checkpoint folder to write.")
@click.option("--epochs", type=float, default=None, help="Training epochs [1].")
@click.option("--max-steps", type=int, default=None, help="Stop after this many steps (overrides epochs).")
@click.option("--lr", "learning_rate", type=float, default=None, help="Learning rate [5e-5].")
@click.option("--beta", type=float, default=None, help="KL strength (DPO 0.1, GRPO 0.0).")
@click.option("--batch-size", type=int, default=None, help="Per-device batch size [4].")
@click.option("--grad-accum", type=int, default=None,
              help="Gradient accumulation steps [1] (global batch = processes x batch size x this).")
@click.option("--max-length", type=int, default=None, help="DPO: max prompt+completion tokens [256].")
@seed_option
@click.option("--device", default="auto", show_default=True, help="auto (cuda+bf16 if present), cpu, cuda.")
@click.option("--lora/--no-lora", default=False, show_default=True, help="Train a LoRA adapter (merged at save).")
@click.option("--lora-r", type=int, default=None, help="LoRA rank [16] (with --lora).")
@click.option("--resume/--no-resume", default=False, help="Resume from the latest checkpoint in OUT.checkpoints.")
@click.option("--save-steps", type=int, default=None, help="Checkpoint every this many steps [500] (for --resume).")
@click.option("--rater", type=click.Path(), default=None, help="GRPO: rater folder (fit-rater).")
@click.option("--objective", default=None,
              help="GRPO: a dimension, or multi [toxicity]. KTO: dimension(s), comma-separated.")
@click.option("--weights", default=None, help="GRPO multi: e.g. toxicity=1,emotional_awareness=0.5.")
@click.option("--group", default=None,
              help="GRPO: reward for this group's raters, e.g. political=liberal. KTO: whose ratings label "
                   "(conditions joined by &).")
@click.option("--num-generations", type=int, default=None, help="GRPO: completions per prompt [4].")
@click.option("--max-completion-length", type=int, default=None, help="GRPO: new tokens per completion [32].")
@click.option("--no-pair-weights", is_flag=True, help="DPO: ignore the pairs' weight column.")
@click.option("--threads", type=int, default=None, help="CPU threads for torch (1 is fastest on a busy machine).")
@click.option("--quiet", is_flag=True, help="No per-step log lines (only the summary and warnings).")
@click.option("--report-to", default=None, metavar="TRACKER",
              help="Experiment trackers TRL reports to (wandb, tensorboard, mlflow, ...; comma-separated) [none].")
@click.option("--processes", type=int, default=1, show_default=True,
              help="Data-parallel processes (DDP: gloo on CPU, one GPU each on CUDA); the global batch is "
                   "processes x batch size x grad accum.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any field of the method's config (see `pluralstats plugins --options METHOD`), e.g. "
                   "--set desirable_weight=1.5; repeatable; wins over the options above.")
def finetune_cmd(method, prefs, survey_path, base_model, out, seed, weights, no_pair_weights, threads, quiet,
                 processes, settings, **options):
    """Fine-tune a causal LM with a plugin (TRL DPO / GRPO / KTO / ORPO / SFT)."""
    from pluralstats.finetune.config import parse_overrides
    from pluralstats.finetune.distributed import check_processes, train_data_parallel
    from pluralstats.finetune.registry import get_plugin
    from pluralstats.prefs.dataset import load_preferences
    from pluralstats.readers import check_model_source

    if threads:
        import torch

        torch.set_num_threads(threads)
    plugin = get_plugin(method)()
    overrides = parse_overrides(plugin.config_class, settings)
    check_processes(processes, options.get("device") or "auto")
    # fail fast (exit 2) on missing or bad data, before any model is loaded
    if plugin.requires == "ratings":
        from pluralstats.cli.survey import read_bundle

        if not survey_path:
            raise InputError(f"--method {method} needs --survey BUNDLE (its ratings label the responses)")
        survey = read_bundle(survey_path)
        data, inputs = survey, list(survey.sources)
    else:
        if not prefs:
            raise InputError(f"--method {method} needs --prefs FILE (a preference parquet from `pluralstats prefs`)")
        mean_weight = float(load_preferences(prefs, provenance=False)["weight"].mean())
        data, inputs = prefs, [prefs]
    check_model_source(base_model)
    from pluralstats.prefs.build import parse_weights  # the one dimension=weight parser (prefs reads it too)

    config = plugin.config_class.from_options(seed=seed, weights=parse_weights(weights) if weights else None,
                                              use_pair_weights=not no_pair_weights, **options)
    config = dataclasses.replace(config, **overrides)  # --set wins, None included
    if plugin.requires == "reward" and not getattr(config, "rater", None):
        raise InputError(f"--method {method} needs --rater DIR (a rater model from `pluralstats fit-rater`)")
    start = time.perf_counter()
    if processes > 1:
        path = train_data_parallel(method, data, base_model, config, out, processes, threads=threads or 1)
    else:
        from pluralstats.finetune.common import quiet_libraries
        from pluralstats.finetune.trl_plugin import TRLPlugin

        quiet_libraries()  # one compact line per logged step instead of raw dicts and library progress bars
        # the console, not its print: on a terminal the run gets one progress bar, in a pipe the plain lines
        compact = {} if quiet or not isinstance(plugin, TRLPlugin) else {"log": console}
        path = plugin.train(data, base_model, config, out, **compact)
    inputs += [p for p in (base_model, getattr(config, "rater", None)) if p and Path(p).exists()]
    write_manifest(path, "finetune", inputs=inputs, seed=seed,
                   options={"method": method, "base_model": base_model, "processes": processes,
                            **config.to_dict()},
                   extra={"seconds": round(time.perf_counter() - start, 2)})
    console.print(f"{method}: trained in {time.perf_counter() - start:.1f}s -> {path}")
    from pluralstats.finetune.common import LN2, training_warnings

    # the logged DPO loss is weighted by the pairs' weights: at zero margin it is ln 2 times their mean
    weighted = prefs and getattr(config, "use_pair_weights", False)
    for message in training_warnings(path, loss_at_zero_margin=LN2 * (mean_weight if weighted else 1.0)):
        err_console.print(styled("[yellow]warning:[/] ", message))


@click.command("plugins")
@click.option("--options", "method", default=None, help="List this method's config fields (what --set takes).")
def plugins_cmd(method):
    """List every installed plugin, by kind: fine-tuning methods, samplers (fit-survey --backend), rating-model
    families (--family), preference strategies (prefs --strategy) and scorers; or one method's options."""
    from pluralstats.families import describe_families
    from pluralstats.finetune.registry import describe_plugins
    from pluralstats.prefs.registry import describe_strategies
    from pluralstats.samplers import describe_samplers
    from pluralstats.scoring import REGISTRY as SCORERS

    if method:
        console.print(_options_table(method))
        return
    kinds = [("fine-tuning plugins (finetune --method)", describe_plugins(), ("name", "requires", "source")),
             ("samplers (fit-survey --backend)", describe_samplers(), ("name", "help")),
             ("rating-model families (fit-survey --family)", describe_families(), ("name", "help")),
             ("preference strategies (prefs --strategy)", describe_strategies(), ("name", "help")),
             ("scorers (evaluate --scorer)", [{"name": n, "source": SCORERS.source(n)} for n in SCORERS.available()],
              ("name", "source"))]
    for title, rows, columns in kinds:
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(row[c] for c in columns))
        console.print(table)


def _options_table(method: str) -> Table:
    """One fine-tuning method's settable config fields (what ``finetune --set`` takes)."""
    from pluralstats.finetune.config import describe_fields, settable_fields
    from pluralstats.finetune.registry import get_plugin

    config_class = get_plugin(method).config_class
    settable = settable_fields(config_class)
    table = Table(title=f"{method} options ({config_class.__name__}; --set KEY=VALUE)")
    for column in ("key", "type", "default", "help"):
        table.add_column(column)
    for row in describe_fields(config_class):
        if row["name"] in settable:
            table.add_row(row["name"], row["type"], row["default"], row["help"])
    return table


COMMANDS = [tiny_model_cmd, fit_rater_cmd, finetune_cmd, plugins_cmd]
