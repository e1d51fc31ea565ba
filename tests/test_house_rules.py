"""The package's size rules, measured on its source: no module over 400 lines, no function over 80, and every
command a thin parse-call-print of at most 30 statements' lines (the work lives in the API)."""

from __future__ import annotations

import ast
from pathlib import Path

import pluralstats

ROOT = Path(pluralstats.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))


def _functions(tree: ast.AST):
    return [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _is_command(node: ast.FunctionDef) -> bool:
    """Decorated with ``click.command(...)`` or ``<group>.command(...)``."""
    for dec in node.decorator_list:
        call = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(call, ast.Attribute) and call.attr == "command":
            return True
    return False


def _body_lines(node: ast.FunctionDef) -> int:
    """Lines from the first statement after the docstring to the end."""
    body = node.body
    has_doc = isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant)
    start = body[1].lineno if has_doc and len(body) > 1 else body[0].lineno
    return node.end_lineno - start + 1


def test_no_module_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in FILES if (n := len(p.read_text().splitlines())) > 400}
    assert not long, long


def test_no_function_over_80_lines():
    long = {f"{p.relative_to(ROOT)}:{f.name}": f.end_lineno - f.lineno + 1 for p in FILES
            for f in _functions(ast.parse(p.read_text())) if f.end_lineno - f.lineno + 1 > 80}
    assert not long, long


def test_commands_are_thin():
    commands = {f"{p.relative_to(ROOT)}:{f.name}": _body_lines(f) for p in FILES if "cli" in p.parts
                for f in _functions(ast.parse(p.read_text())) if _is_command(f)}
    assert len(commands) >= 20  # the rule is measured on the commands, not on nothing
    fat = {name: n for name, n in commands.items() if n > 30}
    assert not fat, fat


def test_no_two_modules_share_a_name():
    names: dict[str, list[str]] = {}
    for p in FILES:
        if p.name != "__init__.py":
            names.setdefault(p.stem, []).append(str(p.relative_to(ROOT)))
    assert not {n: where for n, where in names.items() if len(where) > 1}
