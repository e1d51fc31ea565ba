"""Options declared once, on a dataclass: each field's type, default and ``metadata["help"]`` make the
``--set KEY=VALUE`` parser, the generated command-line options, the ``plugins --options`` table and the
experiment configs' keys. Fine-tuning configs (:class:`pluralstats.finetune.train_config.TrainConfig`) and
preference strategies' ``Options`` (:class:`pluralstats.prefs.strategy_registry.Strategy`) are such dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import MISSING, field, fields
from typing import Any

from pluralstats.errors import InputError


def option(default: Any, text: str, *, flags: tuple[str, ...] = (), parse: Callable[[str], Any] | None = None,
           factory: Callable[[], Any] | None = None) -> Any:
    """A dataclass field with its ``help``; ``flags``: extra command-line names (e.g. ``--lr``); ``parse``:
    how a command-line string becomes the value, for types a flag cannot take directly (a mapping)."""
    metadata = {"help": text, "flags": flags, "parse": parse}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _choices(hint: Any) -> tuple[Any, ...]:
    """The alternatives of a (possibly optional) union hint, or the hint alone."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


def convert(name: str, text: str, hint: Any) -> Any:
    """``text`` as a value of the type ``hint`` (int, float, bool, str, or a union of them with None)."""
    options = _choices(hint)
    if type(None) in options and text.strip().lower() in ("none", "null", ""):
        return None
    for choice in options:
        if typing.get_origin(choice) in (list, tuple):  # a comma-separated list
            return typing.get_origin(choice)(part.strip() for part in text.split(",") if part.strip())
        if choice is bool:
            low = text.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
        elif choice in (int, float):
            try:
                return choice(text)
            except ValueError:
                continue
        elif choice is str:
            return text
    kinds = " or ".join(getattr(o, "__name__", str(o)) for o in options)
    raise InputError(f"--set {name}={text}: expected {kinds}")


def parse_weights(text: str) -> dict[str, float]:
    """``"toxicity=1,emotional_awareness=0.5"`` -> dict: the one parser of ``dimension=weight`` lists (prefs
    ``--weights``, finetune ``--weights``); a bare name is refused, not given weight 1."""
    out = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"Weight '{part}' must be 'dimension=number'") from None
        if not sep:
            raise InputError(f"Weight '{part}' must be 'dimension=number'")
    return out


def settable_fields(cls: type) -> dict[str, Any]:
    """The fields of an options dataclass that ``--set`` can give (not mappings), name -> type hint."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls) if typing.get_origin(hints[f.name]) is not dict}


def parse_settings(cls: type, items: Iterable[str], *, owner: str | None = None) -> dict[str, Any]:
    """``["desirable_weight=1.5", ...]`` -> typed values for ``cls``'s fields (``-`` may stand for ``_``).

    An unknown key is an :class:`InputError` naming it and every valid key (``owner`` names whose options
    they are in the message; default the class name).
    """
    valid = settable_fields(cls)
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise InputError(f"--set '{item}' must be key=value")
        if key not in valid:
            keys = ", ".join(sorted(valid)) or "none"
            raise InputError(f"--set: unknown key '{key}' for {owner or cls.__name__}; valid keys: {keys}")
        out[key] = convert(key, value, valid[key])
    return out


def check_values(cls: type, values: Mapping[str, Any], owner: str) -> dict[str, Any]:
    """``values`` (keyword options; None: not given) checked against ``cls``'s fields: an unknown key is an
    :class:`InputError` naming ``owner`` and its valid keys."""
    known = {f.name for f in fields(cls)}
    given = {k: v for k, v in values.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InputError(f"{owner} has no option {', '.join(repr(k) for k in unknown)}; "
                         f"its options: {', '.join(sorted(known)) or 'none'}")
    return given


def default_of(f: dataclasses.Field) -> Any:
    """A field's default value (its factory called)."""
    return f.default_factory() if f.default_factory is not MISSING else f.default  # type: ignore[misc]


def describe_fields(cls: type) -> list[dict[str, str]]:
    """One row per field: name, type, default, help."""
    hints = typing.get_type_hints(cls)
    rows = []
    for f in fields(cls):
        hint = hints[f.name]
        shown = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
        rows.append({"name": f.name, "type": shown, "default": repr(default_of(f)),
                     "help": f.metadata.get("help", "")})
    return rows


def click_options(cls: type, skip: Iterable[str] = ()) -> list:
    """One ``click.Option`` per field of ``cls`` (less ``skip``): ``--name-with-dashes`` plus the field's extra
    ``flags``, its help with the default shown, a ``--x/--no-x`` pair for booleans. Every option defaults to
    None, so an option not given leaves the dataclass default (and ``--set`` can still give it)."""
    import click

    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        if f.name in skip:
            continue
        hint, name = hints[f.name], f.name.replace("_", "-")
        kinds = [c for c in _choices(hint) if c is not type(None)]
        text = f"{f.metadata.get('help', '')} [default: {default_of(f)!r}]".strip()
        flags = tuple(f.metadata.get("flags") or ())
        if kinds == [bool]:
            decl = [f"--{name}/--no-{name}", *flags, f.name]
            out.append(click.Option(decl, default=None, help=text))
            continue
        parse = f.metadata.get("parse")
        kind = click.STRING if parse or len(kinds) != 1 or kinds[0] not in (int, float, str) else kinds[0]
        callback = (lambda _ctx, _param, value, parse=parse: None if value is None else parse(value)) if parse \
            else None
        out.append(click.Option([f"--{name}", *flags, f.name], type=kind, default=None, help=text,
                                callback=callback))
    return out
