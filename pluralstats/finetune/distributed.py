"""Data-parallel fine-tuning: one plugin run in N processes (``pluralstats finetune --processes N``).

Each process is spawned with the ``torch.distributed`` environment (``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and runs the plugin's ``train`` unchanged: TRL /
transformers / accelerate see a distributed run and use DDP (gloo on CPU, NCCL on CUDA with one GPU
per process). Each process gets ``batch_size`` rows per step, so the global batch is
``processes * batch_size * grad_accum``: the same optimisation as one process with ``grad_accum``
multiplied by ``processes`` (same seed, same data, same batches per step). Only the main process saves
(:func:`pluralstats.finetune.trl_helpers.save_final`).

For multi-node or DeepSpeed runs use ``accelerate launch`` on the ``pluralstats`` script instead (see
``docs/finetune.md``); it sets the same environment.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

from pluralstats.errors import InputError

from .train_config import TrainConfig, resolve_device


def available_workers(device: str) -> tuple[int, str]:
    """How many processes this machine can run for ``device``, and what they are counted in."""
    import torch

    resolved, _ = resolve_device(device)
    if resolved.startswith("cuda"):
        return torch.cuda.device_count(), "CUDA devices"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores, "CPU cores"


def check_processes(processes: int, device: str) -> None:
    """Refuse fewer than 1 process or more than the machine's cores (CPU) or visible GPUs (CUDA)."""
    if processes < 1:
        raise InputError(f"--processes must be at least 1, got {processes}")
    if processes == 1:
        return
    count, unit = available_workers(device)
    if processes > count:
        raise InputError(f"--processes {processes} exceeds the {count} {unit} available")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, method: str, data: Any, base_model: str, config: TrainConfig,
            out_dir: str, threads: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    import torch

    from .plugin_registry import get_plugin

    torch.set_num_threads(threads)
    get_plugin(method)().train(data, base_model, config, out_dir)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def train_data_parallel(method: str, data: Any, base_model: str, config: TrainConfig, out_dir: str | Path,
                        processes: int, *, threads: int = 1) -> Path:
    """Run plugin ``method`` in ``processes`` spawned processes (1: in this process); returns ``out_dir``.

    ``method`` must be findable by name in a fresh process (an entry point, not a run-time registration).
    ``data`` is sent to each process, so it must pickle (a path, a DataFrame, a Survey).
    """
    from .plugin_registry import REGISTRY, get_plugin

    check_processes(processes, config.device)
    if processes == 1:
        return get_plugin(method)().train(data, base_model, config, out_dir)
    if REGISTRY.is_runtime(method):
        raise InputError(f"Plugin '{method}' is registered at run time only; data-parallel workers find "
                         "plugins by entry point")
    import torch.multiprocessing as mp

    from pluralstats.io import claimed_output_dir

    from .trl_helpers import checkpoint_dir

    with claimed_output_dir(checkpoint_dir(out_dir), "finetune"):  # once, here: the workers find it claimed
        mp.start_processes(_worker, nprocs=processes, start_method="spawn", join=True,
                           args=(processes, _free_port(), method, data, base_model, config, str(out_dir), threads))
    return Path(out_dir)
