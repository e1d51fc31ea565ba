"""Validating the canonical tables of a bundle: each against its schema, the demographic attributes (reference
levels present, no id-like column) and the keys between ratings, raters and items."""

from __future__ import annotations

import pandas as pd

from pluralstats.errors import Problem, shorten
from pluralstats.schemas import validate_frame
from pluralstats.schemas.survey_tables import (
    ITEM_DEFAULTS,
    ITEM_REQUIRED,
    PARTICIPANT_REQUIRED,
    items_schema,
    participants_schema,
    ratings_schema,
)

from .reading import _report_rows, _require, _Table
from .survey_config import SurveyConfig


def _validate(config: SurveyConfig, rating_parts: list[_Table], participants: _Table, items: _Table,
              problems: list[Problem]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check the tables and the keys between them; return them without ``_row`` when nothing is wrong."""
    for part in rating_parts:
        schema = ratings_schema(config.dimensions, config.scale_max)
        _, found = validate_frame(schema, part.frame, part.file, part.frame["_row"])
        problems += part.located(found)
    ratings = pd.concat([part.frame for part in rating_parts], ignore_index=True)
    people = participants.frame
    if _require(people, PARTICIPANT_REQUIRED, participants.file, problems):
        for attr in config.attributes:
            if attr not in people.columns:
                problems.append(Problem(participants.file, "demographic attribute named in survey.toml is missing",
                                        column=participants.names.get(attr, attr)))
        schema = participants_schema(config.attributes, list(people.columns))
        _, found = validate_frame(schema, people, participants.file, people["_row"])
        problems += participants.located(found)
        ids = set(people["participant_id"].dropna().astype(str))
        for attr, reference in config.attributes.items():
            levels = set(people[attr].dropna().astype(str)) if attr in people.columns else set()
            column = participants.names.get(attr, attr)
            if _looks_like_ids(people, attr, config.min_group_size):
                problems.append(Problem(participants.file, "every rater has a value of their own: the column looks "
                                        "like an id, not a demographic attribute (its values are never shown)",
                                        column=column, private=True))
            elif levels and reference not in levels:
                # a level that is some rater's id is left out of the listing, whatever the column holds
                problems.append(Problem(participants.file, f"reference level '{reference}' (survey.toml "
                                        f"[attributes]) does not occur; levels: {_levels(levels - ids)}",
                                        column=column))
    texts = items.frame
    if _require(texts, ITEM_REQUIRED, items.file, problems):
        texts = texts.copy()
        for col, default in ITEM_DEFAULTS.items():
            if col not in texts.columns:
                texts[col] = texts["item_id"] if col == "prompt_id" else default
        texts["prompt"] = texts["prompt"].fillna("")
        _, found = validate_frame(items_schema(), texts, items.file, texts["_row"])
        problems += items.located(found)
    first = rating_parts[0]
    for table, col, label in ((participants, "participant_id", "participant"), (items, "item_id", "item")):
        if col not in table.frame.columns:
            continue
        unknown = ratings[col].notna() & ~ratings[col].isin(table.frame[col].unique())
        unknown_rows = ratings.loc[unknown].drop_duplicates("_row")
        _report_rows(problems, first.file, f"rating for an unknown {label} (not in {table.file})",
                     first.names.get(col, col), unknown_rows["_row"], unknown_rows[col],
                     private=col == "participant_id")
    if problems:
        return ratings, people, texts
    ratings = ratings.drop(columns="_row").reset_index(drop=True)
    ratings["rating"] = pd.to_numeric(ratings["rating"]).astype("int64")
    return (ratings, people.drop(columns="_row").reset_index(drop=True),
            texts.drop(columns="_row").reset_index(drop=True))


def _looks_like_ids(people: pd.DataFrame, attribute: str, k: int) -> bool:
    """Whether an attribute column holds the raters' ids (or something as identifying): its value is the rater's
    own id on every row, or, where groups must have k > 1 raters, every rater has a level of their own (such an
    attribute has nothing but small groups to show, and its listing would be a list of identifiers)."""
    if attribute not in people.columns or len(people) < 2:
        return False
    values = people[attribute]
    if values.isna().any():
        return False
    own = (values.astype(str) == people["participant_id"].astype(str)).all()
    return bool(own or (k > 1 and values.nunique() == len(people)))


def _levels(levels: set[str]) -> str:
    return shorten(", ".join(sorted(map(repr, levels))), 300)
