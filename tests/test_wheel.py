"""The wheel carries the Table Schema files (``data/schemas/`` in the repository) inside the package, with the rest
of the package's data, and a copy installed from it validates a bundle with its own files, not the source tree's.

The wheel is built without build isolation (hatchling comes with the ``dev`` extra) and installed into a bare
venv; that venv borrows this one's dependencies through a ``.pth`` line, which adds this site-packages to the path
without running its ``.pth`` files, so this checkout's editable install does not shadow the wheel.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO

SCHEMAS = sorted(p.name for p in (REPO / "data" / "schemas").glob("*.json"))

# run in the installed copy: which pluralstats, where schema_dir points, and every JSON file opened while a
# bundle is loaded and validated
PROBE = """
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
import pluralstats
from pluralstats.schemas import schema_dir
from pluralstats.survey import load_survey
survey = load_survey(sys.argv[1])
print(json.dumps({"package": pluralstats.__file__, "schema_dir": str(schema_dir()), "ratings": len(survey.ratings),
                  "opened": [p for p in opened if p.endswith(".json")]}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="builds with hatchling: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-q", "-w", str(out)], check=True)
    (built,) = out.glob("pluralstats-*.whl")
    return built


def test_the_wheel_carries_the_schemas_and_the_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert SCHEMAS and {f"pluralstats/schemas/json/{name}" for name in SCHEMAS} <= names
    assert not any(n.startswith("data/") for n in names)
    source = {p.relative_to(REPO).as_posix() for p in (REPO / "pluralstats").rglob("*")
              if p.is_file() and "__pycache__" not in p.parts}
    assert {"pluralstats/py.typed", "pluralstats/resources/phrases.toml"} <= source
    assert source - names == set()
    entry_points = zipfile.ZipFile(wheel).read("pluralstats-0.1.0.dist-info/entry_points.txt").decode()
    assert "pluralstats = pluralstats.cli:main" in entry_points and "[pluralstats.strategies]" in entry_points


def test_an_installed_wheel_validates_a_bundle_with_its_own_schemas(wheel, tmp_path):
    bundle = tmp_path / "bundle"
    subprocess.run([str(Path(sys.executable).parent / "pluralstats"), "simulate", "--out", str(bundle),
                    "--participants", "20", "--prompts-per-language", "2", "--prompts-per-participant", "2"],
                   check=True, capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # installed before this venv's packages are on its path, so pip sees no pluralstats there to skip or remove
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", "install",
                    "-q", "--no-deps", "--no-index", str(wheel)], check=True)
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip())
    (purelib / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}

    # -I: neither the working directory (this checkout, when pytest runs from it) nor PYTHONPATH on the path
    probe = subprocess.run([str(python), "-I", "-c", PROBE, str(bundle)], capture_output=True, text=True,
                           cwd=tmp_path, env=env)
    assert probe.returncode == 0, probe.stderr[-4000:]
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    installed = purelib / "pluralstats"
    assert Path(seen["package"]).is_relative_to(installed), seen["package"]
    assert Path(seen["schema_dir"]) == installed / "schemas" / "json"
    assert seen["ratings"] > 0
    read = [Path(p) for p in seen["opened"] if Path(p).name in SCHEMAS]
    assert {p.name for p in read} >= {"ratings.json", "participants.json", "items.json"}
    assert all(p.parent == installed / "schemas" / "json" for p in read), read

    cli = subprocess.run([str(venv / "bin" / "pluralstats"), "validate", str(bundle)], capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "OK " in cli.stdout
