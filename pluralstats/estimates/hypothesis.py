"""Posterior probabilities of statements about groups, in the spirit of brms ``hypothesis()``.

A statement is a linear expression of group quantities, compared with a number::

    political:conservative - political:liberal > 0.2
    0.5 * (gender:female + gender:male) - gender:non_binary <= 0
    gender:female&political:conservative - gender:male&political:liberal > 0

``attribute:level`` is the adjusted quantity of a new rater of that level (expected rating by default,
or P(rating >= k) in percent) on one dimension, the other attributes standardised to the sample (or to
other ``weights``), exactly as the contrasts compute it; ``&`` joins levels into an intersectional group.
The expression may use numbers, ``+``, ``-``, ``*`` (by a number) and parentheses; the comparison is one of
``> < >= <=``. It is evaluated per posterior draw: the report is the posterior mean and central interval of
the left-hand side and the share of draws in which the statement holds.

The statement is parsed by a small tokenizer and recursive-descent parser, never ``eval``. Level names may
contain ``-`` or ``+`` (``age_group:18-29``, ``age_group:60+``): after ``attribute:`` the longest known level
is taken.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pluralstats.errors import InputError
from pluralstats.models.composition import Composition
from pluralstats.models.data import ModelMeta, meta_of
from pluralstats.models.groups import (
    composition,
    group_draws,
    group_name,
    group_size,
    match_attribute,
    parse_group,
    quantity_label,
)
from pluralstats.privacy import mask_rows

COMPARISONS = (">=", "<=", ">", "<")
HYPOTHESIS_COLUMNS = ["hypothesis", "dimension", "quantity", "standardisation", "estimate", "lo", "hi",
                      "probability"]
_NUMBER = re.compile(r"\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][\w.]*")


@dataclass
class Linear:
    """``const + sum coef * group``: groups keyed by their (attribute label, level label)."""

    const: float = 0.0
    terms: dict[tuple[str, str], float] = field(default_factory=dict)

    def scaled(self, c: float) -> Linear:
        """This expression times ``c``."""
        return Linear(self.const * c, {k: v * c for k, v in self.terms.items()})

    def plus(self, other: Linear, sign: float = 1.0) -> Linear:
        """This expression plus ``sign`` times ``other``."""
        terms = dict(self.terms)
        for k, v in other.terms.items():
            terms[k] = terms.get(k, 0.0) + sign * v
        return Linear(self.const + sign * other.const, terms)


class _Parser:
    """Recursive descent over the statement text: expr := term (('+'|'-') term)*, term := factor ('*' factor)*,
    factor := ('+'|'-') factor | number | group | '(' expr ')'; group := attribute ':' level ('&' group)?."""

    def __init__(self, text: str, meta: ModelMeta):
        self.text, self.meta, self.pos = text, meta, 0
        self.groups: dict[tuple[str, str], dict[str, str]] = {}

    def error(self, what: str) -> InputError:
        return InputError(f"Cannot read the hypothesis at position {self.pos + 1} ({what}): "
                          f"{self.text[:self.pos]} >>> {self.text[self.pos:]}")

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def take(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def expr(self) -> Linear:
        value = self.term()
        while True:
            if self.take("+"):
                value = value.plus(self.term())
            elif self.take("-"):
                value = value.plus(self.term(), -1.0)
            else:
                return value

    def term(self) -> Linear:
        value = self.factor()
        while self.take("*"):
            other = self.factor()
            if value.terms and other.terms:
                raise self.error("a product of two group terms is not linear")
            value = value.scaled(other.const) if not other.terms else other.scaled(value.const)
        return value

    def factor(self) -> Linear:
        if self.take("+"):
            return self.factor()
        if self.take("-"):
            return self.factor().scaled(-1.0)
        if self.take("("):
            value = self.expr()
            if not self.take(")"):
                raise self.error("expected ')'")
            return value
        self.skip()
        number = _NUMBER.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            return Linear(float(number.group()))
        return self.group()

    def group(self) -> Linear:
        parts = {}
        while True:
            self.skip()
            name = _NAME.match(self.text, self.pos)
            if not name:
                raise self.error("expected a number, '(' or attribute:level")
            self.pos = name.end()
            if not self.take(":"):
                raise self.error(f"expected ':' after '{name.group()}' (write attribute:level)")
            attribute = match_attribute(self.meta, name.group())
            parts[attribute] = self._level(attribute)
            if not self.take("&"):
                break
        group = parse_group(self.meta, parts)
        key = group_name(group)
        self.groups[key] = group
        return Linear(0.0, {key: 1.0})

    def _level(self, attribute: str) -> str:
        rest = self.text[self.pos:]
        known = sorted(self.meta.attributes[attribute], key=len, reverse=True)
        for level in known:  # the longest level the text starts with (levels may hold '-' or '+')
            if rest[:len(level)].casefold() == level.casefold():
                self.pos += len(level)
                return rest[:len(level)]
        word = re.match(r"[^\s()*&<>=]*", rest).group()
        raise InputError(f"Unknown level '{word}' of '{attribute}' in the hypothesis; known: "
                         f"{', '.join(self.meta.attributes[attribute])}")

    def statement(self) -> tuple[Linear, str, float]:
        left = self.expr()
        op = next((c for c in COMPARISONS if self.take(c)), None)
        if op is None:
            raise self.error(f"expected one of {' '.join(COMPARISONS)}")
        right = self.expr()
        self.skip()
        if self.pos != len(self.text):
            raise self.error("unexpected text")
        if right.terms:
            raise InputError("The right-hand side of a hypothesis must be a number (move group terms to the left)")
        if not left.terms:
            raise InputError("The hypothesis names no group (write attribute:level, e.g. political:liberal)")
        return left, op, right.const


def parse_hypothesis(idata_or_meta, text: str) -> tuple[Linear, str, float, dict[tuple[str, str], dict[str, str]]]:
    """(left-hand side, comparison, number, groups by key) of a statement; InputError when it is not one."""
    meta = idata_or_meta if isinstance(idata_or_meta, ModelMeta) else meta_of(idata_or_meta)
    parser = _Parser(text, meta)
    left, op, number = parser.statement()
    return left, op, number, parser.groups


def hypothesis(idata, expr: str, dimension: str, *, quantity: str = "mean",
               weights: str | Path | pd.DataFrame | Composition = "sample", prob: float = 0.95,
               suppress_small: bool = True) -> pd.Series:
    """Posterior mean and central ``prob`` interval of the statement's left-hand side, and the posterior
    probability that the statement holds, on ``dimension`` (columns :data:`HYPOTHESIS_COLUMNS`).

    Each ``attribute:level`` is, per posterior draw, the adjusted expected rating (``quantity="mean"``) or
    P(rating >= k) in percent (``"share"``) of a new rater of the group, other attributes standardised to
    ``weights``. When a group has fewer than k raters (privacy rule) the estimates are blanked and
    ``suppressed`` is set, unless not ``suppress_small``.
    """
    left, op, number, groups = parse_hypothesis(idata, expr)
    comp = composition(idata, weights)
    keys = list(left.terms)
    values = group_draws(idata, dimension, [groups[k] for k in keys], comp, quantity)
    lhs = left.const + values @ np.array([left.terms[k] for k in keys])
    holds = {">": lhs > number, "<": lhs < number, ">=": lhs >= number, "<=": lhs <= number}[op]
    lo, hi = np.quantile(lhs, [(1 - prob) / 2, (1 + prob) / 2])
    row = pd.DataFrame([{
        "hypothesis": expr.strip(), "dimension": dimension,
        "quantity": quantity_label(meta_of(idata), dimension, quantity),
        "standardisation": comp.label, "estimate": float(lhs.mean()), "lo": float(lo), "hi": float(hi),
        "probability": float(holds.mean()),
    }], columns=HYPOTHESIS_COLUMNS)
    k = meta_of(idata).min_group_size
    small = any(group_size(idata, g, dimension) < k for g in groups.values())
    return mask_rows(row, [small and suppress_small], HYPOTHESIS_COLUMNS[4:]).assign(small_cell=small).iloc[0]


def hypotheses(idata, exprs: Sequence[str], dimensions: Sequence[str] | None = None, **options) -> pd.DataFrame:
    """:func:`hypothesis` of every statement on every dimension (default: all of the posterior's), one row each."""
    dims = list(dimensions) if dimensions else meta_of(idata).dimensions
    return pd.DataFrame([hypothesis(idata, e, d, **options) for e in exprs for d in dims]).reset_index(drop=True)
