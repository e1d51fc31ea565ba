"""A base class for plugins that wrap one TRL trainer: subclasses say how to build it, the run is shared.

``train`` = build the trainer in ``<out>.checkpoints`` -> ``trainer.train`` (resuming with ``--resume``)
-> :func:`~pluralstats.finetune.trl_helpers.save_final` (LoRA merged, atomic, training log). A subclass sets
``name``, ``requires``, ``config_class`` and implements ``build_trainer``; the benchmark and the tests
call ``build_trainer`` directly to time or inspect the TRL trainer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pluralstats.io import claimed_output_dir

from .train_config import TrainConfig
from .trl_helpers import checkpoint_dir, log_lines_callback, resume_from, save_final, training_progress_callback

if TYPE_CHECKING:
    from rich.console import Console


class TRLPlugin:
    """Shared ``train`` of the TRL-based plugins (see the module docstring)."""

    name: ClassVar[str]
    requires: ClassVar[str]
    config_class: ClassVar[type[TrainConfig]]

    def build_trainer(self, data: Any, base_model: str, config: Any, work_dir: Path, **options: Any):
        """The configured (not yet run) TRL trainer and the tokenizer to save with the model."""
        raise NotImplementedError

    def log_extra(self, config: Any) -> dict[str, Any]:
        """What ``training_log.json`` records besides TRL's log history (method and base model always)."""
        return {}

    def train(self, data: Any, base_model: str, config: Any, out_dir: str | Path, *,
              log: Callable[[str], Any] | Console | None = None, **options: Any) -> Path:
        """Train and save (see the module docstring); ``options`` go to ``build_trainer`` (GRPO: ``rater``).

        ``log``: a callable that receives one compact line per logged step (loss, reward accuracy, margin), or
        a rich ``Console``: on a terminal one progress bar for the run with compact lines above it, elsewhere
        the same plain lines (:func:`~pluralstats.finetune.trl_helpers.training_progress_callback`). Given, it
        replaces TRL's own printing of raw log dicts and its progress bar; not given, nothing is printed.
        """
        # claimed (marked as this run's) before TRL writes into it: save_final removes it afterwards, which must
        # never take a folder of the user's that happens to sit at <out>.checkpoints
        with claimed_output_dir(checkpoint_dir(out_dir), "finetune") as work:
            trainer, tokenizer = self.build_trainer(data, base_model, config, work, **options)
            callback = None
            from transformers.trainer_callback import PrinterCallback, ProgressCallback

            # TRL prints raw log dicts whenever its bar is off: without ``log``, nothing is printed at all
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
            if log is not None:
                from rich.console import Console as RichConsole

                callback = training_progress_callback(log) if isinstance(log, RichConsole) else log_lines_callback(log)
                trainer.add_callback(callback)
            try:
                trainer.train(resume_from_checkpoint=resume_from(config, work))
            finally:
                if hasattr(callback, "close"):
                    callback.close()  # on an exception too: the terminal must not stay inside the live bar
            return save_final(trainer, tokenizer, out_dir,
                              extra={"method": self.name, "base_model": base_model, **self.log_extra(config)})
