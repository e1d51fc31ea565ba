"""The package's layering: every module imports, and no module imports a layer above its own.

Layers, top to bottom (a module may import its own layer's modules and any layer below):

    cli > demo > experiments > evaluate | finetune > prefs > estimates > models > survey stage > schemas > base

``evaluate`` and ``finetune`` are peers that never import each other: what they share (chat rendering,
thinking segments, the scorer registry) lives in the base layer (``pluralstats.chat``,
``pluralstats.scoring``). The graph is read from the source (``ast``) and includes imports inside
functions, so a lazy import cannot hide a cycle.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pluralstats

ROOT = Path(pluralstats.__file__).parent

#: group -> rank (0 = top); groups of the same rank are peers and may not import each other
RANKS = {
    "cli": 0,
    "demo": 1,
    "experiments": 2,
    "evaluate": 3, "finetune": 3,
    "prefs": 4,
    "estimates": 5,
    "models": 6,
    "survey": 7,
    "schemas": 8,
    "base": 9,
}
#: top-level modules and subpackages of the survey stage and of the base layer
SURVEY_STAGE = {"survey"}
BASE = {"errors", "families", "io", "privacy", "readers", "report", "plots", "chat", "scoring", "resources", "registry",
        "options", "manifest",
        "samplers"}


def group_of(module: str) -> str:
    """The layer group of a ``pluralstats...`` module name."""
    parts = module.split(".")
    if len(parts) == 1:
        return "base"  # the package's __init__ only re-exports lazily, by name
    head = parts[1]
    if head in SURVEY_STAGE:
        return "survey"
    if head == "schemas":
        return "schemas"
    if head in BASE:
        return "base"
    return head


def module_name(path: Path) -> str:
    """``pluralstats.x.y`` of a source file."""
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``pluralstats`` module that ``path`` imports, anywhere in the file (relative imports resolved)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pluralstats"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "pluralstats":
                found.add(target)
    return found


def module_graph() -> dict[str, set[str]]:
    """Module -> the pluralstats modules it imports."""
    return {module_name(p): imports_of(p) for p in sorted(ROOT.rglob("*.py"))}


def test_every_group_is_known():
    groups = {group_of(m) for m in module_graph()}
    assert groups <= set(RANKS), f"place these in a layer: {sorted(groups - set(RANKS))}"


def test_no_module_imports_a_higher_layer_or_a_peer():
    bad = []
    for module, targets in module_graph().items():
        mine = group_of(module)
        for target in targets:
            theirs = group_of(target)
            if theirs != mine and RANKS[theirs] <= RANKS[mine]:
                bad.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert not bad, "layering broken:\n" + "\n".join(sorted(bad))


def test_the_subpackage_graph_has_no_cycle():
    edges: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        mine = group_of(module)
        edges.setdefault(mine, set()).update(group_of(t) for t in targets if group_of(t) != mine)
    try:
        order = list(TopologicalSorter(edges).static_order())
    except CycleError as exc:  # pragma: no cover - the message names the cycle
        raise AssertionError(f"import cycle between subpackages: {exc.args[1]}") from None
    assert order.index("base") < order.index("cli")


def test_every_module_imports():
    for info in pkgutil.walk_packages(pluralstats.__path__, "pluralstats."):
        importlib.import_module(info.name)


def test_the_data_contract_ships_as_table_schema_json():
    """The bundle's and the preference dataset's contract are Table Schema files in the repository's data/schemas/
    (a wheel carries them inside the package: tests/test_wheel.py), each read into a pandera schema."""
    from pluralstats.prefs.dataset import prefs_schema
    from pluralstats.prefs.strategy_registry import available_strategies
    from pluralstats.schemas import available_tables, pandera_schema, schema_dir, table_schema

    assert {"ratings", "participants", "items", "preferences", "pairs"} <= set(available_tables())
    assert schema_dir().joinpath("ratings.json").is_file()
    for name in available_tables():
        spec = table_schema(name)
        assert spec["fields"] and all({"name", "type"} <= set(f) for f in spec["fields"])
        assert list(pandera_schema(name).columns) == [f["name"] for f in spec["fields"]]
    strategy = prefs_schema().columns["strategy"].checks[-1]
    assert set(strategy.statistics["allowed_values"]) == set(available_strategies())
