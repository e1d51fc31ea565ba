"""The Ray backend on a two-node cluster started on this machine (a head and a worker, separate processes).

The grid runs through the command line (``pluralstats experiment run --backend ray --address ...``), as a
user would against a real cluster. Each node offers one CPU and each cell takes one, so two cells run at
once, one per node. The worker node is killed while it runs a cell: that cell is reported failed (a Ray
error), the rest finish on the head, and the rerun finishes only the missing cell, leaving the finished
cells' files untouched. Everything runs for real at the smallest sizes; hence ``slow``.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

GRID = """
name = "cluster"
seeds = [0, 1]

[data]
simulate = { participants = 80, prompts_per_language = 5, responses_per_prompt = 3, seed = 0 }
eval_fraction = 0.4

[base_model]
steps = 30

[grid]
objective = ["toxicity", "multi"]

[train]
max_steps = 20  # long enough that a cell is still running when the test sees both nodes busy
batch_size = 4
progress = false

[evaluate]
completions = 2
max_new_tokens = 8
draws = 200
tune = 200
bootstrap = 200
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manifests(out: Path) -> dict[str, dict]:
    """Every cell folder's manifest (finished or failed), by ``<condition>/seed-<n>``."""
    found = {}
    for path in (out / "cells").glob("*/seed-*/manifest.json"):
        try:
            found[f"{path.parent.parent.name}/{path.parent.name}"] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):  # being written: read on the next poll
            continue
    return found


def _fingerprint(cell_dir: Path) -> dict[str, tuple[int, str]]:
    """(mtime_ns, sha256) of every file of a finished cell."""
    return {str(p.relative_to(cell_dir)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(cell_dir.rglob("*")) if p.is_file()}


def _run(config: Path, out: Path, address: str) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "pluralstats"), "experiment", "run", str(config), "--out", str(out),
           "--backend", "ray", "--address", address, "--threads", "1"]
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


@pytest.mark.slow
def test_grid_spreads_over_two_nodes_and_resumes_after_the_worker_dies(tmp_path):
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    config = tmp_path / "cluster.toml"
    config.write_text(GRID)
    out = tmp_path / "run"
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "gcs_server_port": _free_port(),
                                                           "include_dashboard": False})
    try:
        worker = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        head_id, worker_id = cluster.head_node.node_id, worker.node_id
        assert head_id != worker_id

        first = _run(config, out, cluster.address)
        deadline = time.monotonic() + 900
        killed_after: set[str] = set()
        while first.poll() is None and time.monotonic() < deadline:
            manifests = _manifests(out)
            done = {k for k, m in manifests.items() if m.get("status") == "done"}
            # a cell folder is made when its cell starts; one CPU per node: two open folders = both nodes busy
            running = [p for p in (out / "cells").glob("*/seed-*")
                       if f"{p.parent.name}/{p.name}" not in manifests] if (out / "cells").exists() else []
            if any(manifests[k]["worker"].get("ray_node") == worker_id for k in done) and len(running) == 2:
                cluster.remove_node(worker, allow_graceful=False)  # mid-grid, mid-cell: it has taken its next one
                killed_after = done
                break
            time.sleep(0.2)
        log = first.communicate(timeout=900)[0]
        assert killed_after, f"the worker node never finished a cell before the run ended:\n{log[-3000:]}"
        assert first.returncode == 1, log[-3000:]  # a lost cell is a failed cell: exit 1 after writing the rest

        cells = pd.read_csv(out / "cells.csv")
        assert len(cells) == 6
        lost = cells[cells.status != "done"]
        assert len(lost) >= 1 and lost.error.str.startswith("ray:").all(), cells.to_string()
        manifests = _manifests(out)
        finished = {k for k, m in manifests.items() if m.get("status") == "done"}
        nodes = {manifests[k]["worker"]["ray_node"] for k in finished}
        assert nodes == {head_id, worker_id}  # cells ran on both nodes
        assert killed_after <= finished and len(finished) + len(lost) == 6
        before = {k: _fingerprint(out / "cells" / k) for k in finished}

        second = _run(config, out, cluster.address)  # the head alone now
        log = second.communicate(timeout=900)[0]
        assert second.returncode == 0, log[-3000:]
        again = pd.read_csv(out / "cells.csv")
        assert (again.status == "done").all(), again.to_string()
        assert set(again[again.skipped].folder) == {f"cells/{k}" for k in finished}  # only the missing cells ran
        for key, files in before.items():
            assert _fingerprint(out / "cells" / key) == files, key
        rerun = {k: m for k, m in _manifests(out).items() if k not in finished}
        assert {f"cells/{k}" for k in rerun} == set(lost.folder)
        assert all(m["status"] == "done" and m["worker"]["ray_node"] == head_id for m in rerun.values())
        assert (out / "results.parquet").exists()
    finally:
        cluster.shutdown()
