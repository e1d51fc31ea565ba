"""Commands ``tiny-model``, ``fit-rater``, ``finetune`` and ``plugins`` (fine-tuning stage)."""

from __future__ import annotations

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
    from pluralstats.finetune.tiny import TinyModelConfig, build_tiny_model
    from pluralstats.finetune.trl_helpers import quiet_libraries

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


class MethodCommand(click.Command):
    """A command whose options include those of the ``--method`` it is given: the fields of that plugin's
    config class (:func:`pluralstats.options.click_options`), so a plugin's own option is a flag with its help and
    default, with no edit here. ``finetune --method M --help`` lists them."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["finetune.method"] = _peek(args, "--method")
        return super().parse_args(ctx, args)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        from pluralstats.finetune.plugin_registry import REGISTRY
        from pluralstats.finetune.train_config import TrainConfig
        from pluralstats.options import click_options

        method = ctx.meta.get("finetune.method")
        config_class = REGISTRY.get(method).config_class if method in REGISTRY.available() else TrainConfig
        *params, help_option = super().get_params(ctx)  # --help stays last
        return [*params, *click_options(config_class, skip=("seed",)), help_option]


def _peek(args: list[str], name: str) -> str | None:
    """The value of option ``name`` in raw ``args`` (``--name v`` or ``--name=v``), before parsing."""
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


@writes("folder", inputs=_finetune_inputs)
@click.command("finetune", cls=MethodCommand)
@allow_outside_option
@click.option("--method", required=True, help="Plugin name (see `pluralstats plugins`): dpo, grpo, kto, orpo, sft, "
                                               "...; `finetune --method M --help` lists M's options.")
@click.option("--prefs", type=click.Path(),
              help="Preference parquet (prompt, chosen, rejected, weight, ...); GRPO uses its prompts, SFT its "
                   "chosen responses. Needed by every method but kto.")
@click.option("--survey", "survey_path", type=click.Path(),
              help="KTO: survey bundle whose ratings label each response desirable or undesirable.")
@click.option("--model", "base_model", required=True, help="Base model: local folder or hub id.")
@click.option("--out", required=True, type=click.Path(), help="Checkpoint folder to write.")
@seed_option
@click.option("--threads", type=int, default=None, help="CPU threads for torch (1 is fastest on a busy machine).")
@click.option("--quiet", is_flag=True, help="No per-step log lines (only the summary and warnings).")
@click.option("--processes", type=int, default=1, show_default=True,
              help="Data-parallel processes (DDP: gloo on CPU, one GPU each on CUDA); the global batch is "
                   "processes x batch size x grad accum.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Any scalar field of the method's config (see `pluralstats plugins --options METHOD`), e.g. "
                   "--set desirable_weight=1.5; repeatable; wins over the options.")
def finetune_cmd(method, prefs, survey_path, base_model, out, seed, threads, quiet, processes, settings, **options):
    """Fine-tune a causal LM with a plugin (TRL DPO / GRPO / KTO / ORPO / SFT, or any installed one)."""
    from pluralstats.cli.survey import read_bundle
    from pluralstats.finetune.training import finetune

    survey = read_bundle(survey_path) if survey_path else None
    run = finetune(method, base_model, out, prefs=prefs, survey=survey, options={**options, "seed": seed},
                   settings=settings, processes=processes, threads=threads, log=None if quiet else console)
    console.print(f"{method}: trained in {run.seconds:.1f}s -> {run.path}")
    for message in run.warnings:
        err_console.print(styled("[yellow]warning:[/] ", message))


@click.command("plugins")
@click.option("--options", "method", default=None,
              help="List one fine-tuning method's or preference strategy's options (what their --set takes).")
def plugins_cmd(method):
    """List every installed plugin, by kind: fine-tuning methods, samplers (fit-survey --backend), rating-model
    families (--family), preference strategies (prefs --strategy) and scorers; or one method's options."""
    from pluralstats.families import describe_families
    from pluralstats.finetune.plugin_registry import describe_plugins
    from pluralstats.prefs.strategy_registry import describe_strategies
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


def _options_table(name: str) -> Table:
    """A fine-tuning method's config fields (``finetune`` options and ``--set`` keys) or a preference strategy's
    options (``prefs --set`` keys), by name."""
    from pluralstats.finetune.plugin_registry import REGISTRY as METHODS
    from pluralstats.options import describe_fields
    from pluralstats.prefs.strategy_registry import REGISTRY as STRATEGIES

    if name in STRATEGIES.available():
        fields_of, title = STRATEGIES.get(name).Options, f"strategy {name} options (prefs --set KEY=VALUE)"
    else:
        fields_of = METHODS.get(name).config_class  # unknown names: InputError listing the methods
        title = f"{name} options ({fields_of.__name__}; finetune --KEY VALUE or --set KEY=VALUE)"
    table = Table(title=title)
    for column in ("key", "type", "default", "help"):
        table.add_column(column)
    for row in describe_fields(fields_of):
        table.add_row(row["name"], row["type"], row["default"], row["help"])
    return table


COMMANDS = [tiny_model_cmd, fit_rater_cmd, finetune_cmd, plugins_cmd]
