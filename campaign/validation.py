"""Turn pydantic's validation errors into plain-language messages that say the fix.

Shared by `config.py` (campaign.toml) and `stories.py` (front matter): both
report `file:line: dotted.key: what is wrong and what to do`.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import ErrorDetails

# Control characters (C0, C1 except tab/newline, DEL) and the bidirectional
# embedding, override and isolate characters that can make text read in a
# different order than it is stored ("Trojan source").
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_STRIP_SINGLE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f" + _BIDI_CONTROLS + "\ufeff]"
)
_STRIP_MULTI_LINE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + _BIDI_CONTROLS + "\ufeff]"
)


def clean_text(text: str, *, multiline: bool = False) -> str:
    """Remove control and bidi-override characters; NFC-normalise.

    Single-line fields lose newlines and tabs too (YAML folded text keeps them
    out anyway); multi-line text (story bodies) keeps newline and tab.
    """
    text = unicodedata.normalize("NFC", text)
    if multiline:
        return _STRIP_MULTI_LINE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _STRIP_SINGLE_LINE.sub(" ", text).strip()


def dotted(loc: Sequence[int | str]) -> str:
    """('consent', 'signed') -> 'consent.signed'; list indexes as [0]."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The field names a model accepts at `loc` (the parent of an unknown key)."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or current is None:
            continue
        field = current.model_fields.get(part)
        if field is None:
            return []
        annotation = field.annotation
        current = _model_in(annotation)
    if current is None:
        return []
    return sorted(current.model_fields)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_QUOTES = "“”„‘’‚\"'«»"
_DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_MONTHS = {name: number for number, names in enumerate([
    ("januari", "jan", "january"), ("februari", "feb", "february"), ("maart", "mrt", "march", "mar"),
    ("april", "apr"), ("mei", "may"), ("juni", "jun", "june"), ("juli", "jul", "july"),
    ("augustus", "aug", "august"), ("september", "sep", "sept"), ("oktober", "okt", "october", "oct"),
    ("november", "nov"), ("december", "dec"),
], start=1) for name in names}
_WORDS_DATE = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?\s+(\d{4})$")


def date_hint(key: str, value: object) -> str:
    """What to say about a date that is not a date, showing the date in the form it needs."""
    import datetime

    example = "is not a date: write it as YYYY-MM-DD, e.g. 2027-03-09"
    if not isinstance(value, str):
        return example
    text = value.strip()
    bare = text.strip(_QUOTES).strip()
    shown: str | None = None
    with contextlib.suppress(ValueError):
        shown = datetime.date.fromisoformat(bare).isoformat()
    if shown is not None and bare != text:
        which = "curly quotes, which Word adds" if text[0] in "“„‘‚«" else "quotes"
        return (f"the date is between {which} ({text[0]}{text[-1]}): write it without quotes, "
                f"like this: {key}: {shown}")
    numbers = _DAY_MONTH_YEAR.match(bare)
    words = _WORDS_DATE.match(bare.lower())
    try:
        if numbers:
            day, month, year = (int(g) for g in numbers.groups())
            shown = datetime.date(year, month, day).isoformat()
        elif words and words.group(2) in _MONTHS:
            shown = datetime.date(int(words.group(3)), _MONTHS[words.group(2)],
                                  int(words.group(1))).isoformat()
    except ValueError:
        shown = None
    if shown is not None:
        return (f"{text!r} is day-month-year; write dates year-month-day, like this: "
                f"{key}: {shown}")
    return example


def describe(error: ErrorDetails, model: type[BaseModel], example: str = "") -> str:
    """One pydantic error as a sentence that says what is wrong and the fix."""
    kind = error["type"]
    loc = error["loc"]
    key = str(loc[-1]) if loc else ""
    ctx = error.get("ctx") or {}
    if kind == "missing":
        hint = f' e.g. "{key}: {example}"' if example else ""
        return f"is required: add it{hint}"
    if kind == "extra_forbidden":
        keys = known_keys(model, loc[:-1])
        return (
            "unknown key: remove it or correct its spelling"
            + (f" (known keys here: {', '.join(keys)})" if keys else "")
        )
    if kind.startswith("date"):
        return date_hint(key, error.get("input"))
    if kind.startswith("time"):
        return "is not a time of day: write it as HH:MM, e.g. 10:00"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "must be a whole number: write digits only, e.g. 47"
    if kind in ("float_type", "float_parsing"):
        return "must be a number: write digits, e.g. 0.5"
    if kind in ("string_type",):
        return "must be text: put it in quotes if it looks like a number or a date"
    if kind in ("bool_type", "bool_parsing"):
        return "must be true or false: write true or false without quotes"
    if kind in ("list_type", "tuple_type"):
        return "must be a list: write it as [a, b]"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "must be a group of keys: indent the keys under it (a [table] in TOML)"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '')}: use one of these"
    if kind == "string_too_short":
        return "must not be empty: write a value or remove the line"
    if kind == "string_too_long":
        return f"is longer than {ctx.get('max_length')} characters: shorten it"
    if kind == "string_pattern_mismatch":
        return f"has the wrong form (expected {ctx.get('pattern')}): correct the value"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return error["msg"].lower().replace("input ", "") + ": correct the value"
    if kind in ("too_short", "too_long"):
        return error["msg"].lower().replace("list ", "") + ": correct the list"
    return f"{error['msg']}: correct the value"


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_url(value: str | None) -> str | None:
    """A web address setting: None when empty, else http(s)://host..., no trailing slash."""
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not a web address: write it as https://host/path")
    return value.rstrip("/") if value.count("/") == 2 else value
