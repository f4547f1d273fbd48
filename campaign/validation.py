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

from campaign.i18n import _, ngettext


class CodedError(ValueError):
    """A validator's error with the code of its kind (`consent.unknown_platform`), and
    the field it is about when that is not the one pydantic names (a model validator)."""

    def __init__(self, message: str, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field

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
    return date_problem(key, value)[0]


def date_problem(key: str, value: object) -> tuple[str, str]:
    """(message, code) for a date that is not a date: `field.date_in_quotes`,
    `field.date_day_month_year` or `field.not_a_date`."""
    import datetime

    example = (_("is not a date: write it as YYYY-MM-DD, e.g. {example}")
               .format(example="2027-03-09"), "field.not_a_date")
    if not isinstance(value, str):
        return example
    text = value.strip()
    bare = text.strip(_QUOTES).strip()
    shown: str | None = None
    with contextlib.suppress(ValueError):
        shown = datetime.date.fromisoformat(bare).isoformat()
    if shown is not None and bare != text:
        if text[0] in "“„‘‚«":
            message = _("the date is between curly quotes, which Word adds ({quotes}): write "
                        "it without quotes, like this: {key}: {date}")
        else:
            message = _("the date is between quotes ({quotes}): write it without quotes, "
                        "like this: {key}: {date}")
        return (message.format(quotes=text[0] + text[-1], key=key, date=shown),
                "field.date_in_quotes")
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
        return (_("{value!r} is day-month-year; write dates year-month-day, like this: "
                  "{key}: {date}").format(value=text, key=key, date=shown),
                "field.date_day_month_year")
    return example


def describe(error: ErrorDetails, model: type[BaseModel], example: str = "") -> str:
    """One pydantic error as a sentence that says what is wrong and the fix."""
    return describe_with_code(error, model, example)[0]


#: The code of each pydantic error type (`Problem.code`); a validator's own errors carry
#: theirs (`CodedError`), dates get `date_problem`'s.
_CODES = {
    "missing": "field.required",
    "extra_forbidden": "field.unknown",
    "int_type": "field.not_whole_number",
    "int_parsing": "field.not_whole_number",
    "int_from_float": "field.not_whole_number",
    "float_type": "field.not_a_number",
    "float_parsing": "field.not_a_number",
    "string_type": "field.not_text",
    "bool_type": "field.not_true_or_false",
    "bool_parsing": "field.not_true_or_false",
    "list_type": "field.not_a_list",
    "tuple_type": "field.not_a_list",
    "dict_type": "field.not_a_group",
    "model_type": "field.not_a_group",
    "model_attributes_type": "field.not_a_group",
    "literal_error": "field.not_one_of",
    "string_too_short": "field.empty",
    "string_too_long": "field.too_long",
    "string_pattern_mismatch": "field.wrong_form",
    "greater_than_equal": "field.too_small",
    "greater_than": "field.too_small",
    "less_than_equal": "field.too_large",
    "less_than": "field.too_large",
    "too_short": "field.too_few_items",
    "too_long": "field.too_many_items",
    "value_error": "field.invalid",
}


def error_code(error: ErrorDetails) -> str:
    """The stable code of one pydantic error (`field.required`, `consent.unknown_platform`)."""
    return describe_with_code(error, BaseModel)[1]


def error_field(error: ErrorDetails) -> str | None:
    """The field a validator's error is about when it names one (`CodedError.field`)."""
    raised = (error.get("ctx") or {}).get("error")
    return raised.field if isinstance(raised, CodedError) else None


def describe_with_code(error: ErrorDetails, model: type[BaseModel],
                       example: str = "") -> tuple[str, str]:
    """(message, code) of one pydantic error: the sentence says what is wrong and the fix."""
    kind = error["type"]
    loc = error["loc"]
    key = str(loc[-1]) if loc else ""
    ctx = error.get("ctx") or {}
    code = _CODES.get(kind, "field." + kind)
    if kind == "missing":
        if example:
            return _('is required: add it e.g. "{key}: {example}"').format(
                key=key, example=example), code
        return _("is required: add it"), code
    if kind == "extra_forbidden":
        keys = known_keys(model, loc[:-1])
        if keys:
            return _("unknown key: remove it or correct its spelling (known keys here: "
                     "{keys})").format(keys=", ".join(keys)), code
        return _("unknown key: remove it or correct its spelling"), code
    if kind.startswith("date"):
        return date_problem(key, error.get("input"))
    if kind.startswith("time"):
        return (_("is not a time of day: write it as HH:MM, e.g. {example}").format(
            example="10:00"), "field.not_a_time")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return _("must be a whole number: write digits only, e.g. {example}").format(
            example="47"), code
    if kind in ("float_type", "float_parsing"):
        return _("must be a number: write digits, e.g. {example}").format(example="0.5"), code
    if kind in ("string_type",):
        return _("must be text: put it in quotes if it looks like a number or a date"), code
    if kind in ("bool_type", "bool_parsing"):
        return _("must be true or false: write true or false without quotes"), code
    if kind in ("list_type", "tuple_type"):
        return _("must be a list: write it as [a, b]"), code
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("must be a group of keys: indent the keys under it (a [table] in TOML)"), code
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("' or '", "' " + _("or") + " '")
        return _("must be one of {expected}: use one of these").format(expected=expected), code
    if kind == "string_too_short":
        return _("must not be empty: write a value or remove the line"), code
    if kind == "string_too_long":
        return _("is longer than {limit} characters: shorten it").format(
            limit=ctx.get("max_length")), code
    if kind == "string_pattern_mismatch":
        return _("has the wrong form (expected {pattern}): correct the value").format(
            pattern=ctx.get("pattern")), code
    if kind == "value_error":
        raised = ctx.get("error")
        if isinstance(raised, CodedError):
            return str(raised), raised.code
        return str(raised if raised is not None else error["msg"]), code
    if kind == "greater_than_equal":
        return _("should be greater than or equal to {limit}: correct the value").format(
            limit=ctx.get("ge")), code
    if kind == "less_than_equal":
        return _("should be less than or equal to {limit}: correct the value").format(
            limit=ctx.get("le")), code
    if kind == "greater_than":
        return _("should be greater than {limit}: correct the value").format(
            limit=ctx.get("gt")), code
    if kind == "less_than":
        return _("should be less than {limit}: correct the value").format(
            limit=ctx.get("lt")), code
    if kind == "too_short":
        n = int(ctx.get("min_length") or 0)
        return ngettext("should have at least {n} item, not {actual}: correct the list",
                        "should have at least {n} items, not {actual}: correct the list",
                        n).format(n=n, actual=ctx.get("actual_length")), code
    if kind == "too_long":
        n = int(ctx.get("max_length") or 0)
        return ngettext("should have at most {n} item, not {actual}: correct the list",
                        "should have at most {n} items, not {actual}: correct the list",
                        n).format(n=n, actual=ctx.get("actual_length")), code
    return _("is not valid ({detail}): correct the value").format(detail=error["msg"]), code


class Strict(BaseModel):
    """Unknown keys are errors: a misspelt key must never be silently ignored."""

    # defer_build: a model's validator is made when it is first used, so the settings of
    # the platforms, the theme and the rest are built once, inside `Settings` (issue 19).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def check_url(value: str | None) -> str | None:
    """A web address setting: None when empty, else http(s)://host..., no trailing slash."""
    if value is None or value == "":
        return None
    if not re.match(r"^https?://[^\s/]+", value):
        raise CodedError(_("{value!r} is not a web address: write it as https://host/path")
                         .format(value=value), "field.not_a_web_address")
    return value.rstrip("/") if value.count("/") == 2 else value
