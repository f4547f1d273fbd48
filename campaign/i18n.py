"""Everything staff read, in the campaign's language (SPEC §14), through Babel and gettext.

Messages are marked in the code with `_("text with {name}").format(name=...)`
(brace placeholders, filled after translation) and `ngettext(singular, plural,
n)`; texts kept in tables and translated only when shown are marked with
`N_("text")`. The workspace's and the preview's templates use the same functions
through Jinja2's i18n extension (`{{ _("text %(name)s", name=...) }}`).

The catalogues live in `campaign/locale/<lang>/LC_MESSAGES/campaign.po`, made
from the template `campaign/locale/campaign.pot` that `pybabel extract` writes
(see `babel.cfg` and README, "Languages"). `make` compiles them to `.mo` files
before anything runs; a `.po` newer than its `.mo` (or a copy installed without
`make`) is read directly, so a catalogue is never stale.

One language is active per process: the CLI sets it from `--lang`,
`CAMPAIGN_LANG`, `ui_language` or the campaign's `language`, in that order
(`choose_language`). English is the language the messages are written in.
"""

from __future__ import annotations

import gettext
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from decimal import ROUND_HALF_EVEN, Decimal
from functools import cache
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "campaign"
#: The languages staff can choose; the first is the one the messages are written in.
LANGUAGES = ("en", "nl")
SOURCE_LANGUAGE = "en"
#: The environment variable that overrides `ui_language` (the tests set it to `en`).
LANG_ENV = "CAMPAIGN_LANG"

_active: gettext.NullTranslations = gettext.NullTranslations()
_language = SOURCE_LANGUAGE


def _(message: str) -> str:
    """The message in the active language."""
    return _active.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural message for `n`, in the active language."""
    return _active.ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a message for extraction without translating it yet (tables, constants):
    pass it to `_()` where it is shown."""
    return message


def language() -> str:
    """The active language's code (`nl`, `en`)."""
    return _language


def set_language(code: str) -> None:
    """Make `code` the active language for this process. Raises ValueError on an
    unknown code, with the languages there are."""
    global _active, _language
    code = normalise(code)
    _active = catalogue(code)
    _language = code


@contextmanager
def use_language(code: str) -> Iterator[None]:
    """The active language is `code` inside the block (tests, one alert in another language)."""
    before = _language
    set_language(code)
    try:
        yield
    finally:
        set_language(before)


def normalise(code: str) -> str:
    """`NL`, `nl_NL`, `nl-BE` -> `nl`. ValueError for a language without a catalogue."""
    short = code.strip().replace("-", "_").split("_")[0].lower()
    if short not in LANGUAGES:
        raise ValueError(_("{code!r} is not a language campaign speaks: use one of "
                           "{languages}").format(code=code, languages=", ".join(LANGUAGES)))
    return short


def choose_language(cli: str | None, ui_language: str | None, campaign_language: str) -> str:
    """The language staff read: `--lang`, else `CAMPAIGN_LANG`, else `ui_language`, else
    the campaign's own language if there is a catalogue for it, else English."""
    for given in (cli, os.environ.get(LANG_ENV), ui_language):
        if given:
            return normalise(given)
    try:
        return normalise(campaign_language)
    except ValueError:
        return SOURCE_LANGUAGE


@cache
def catalogue(code: str) -> gettext.NullTranslations:
    """The translations of one language: its compiled `.mo`, or its `.po` when that is
    newer (a catalogue edited since `make`) or the `.mo` is missing."""
    if code == SOURCE_LANGUAGE and not (LOCALE_DIR / code).is_dir():
        return gettext.NullTranslations()
    folder = LOCALE_DIR / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as handle:
            return gettext.GNUTranslations(handle)
    if po.is_file():
        return _from_po(po)
    if code == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    raise ValueError(f"there is no catalogue for {code!r} in {folder}")


def _from_po(po: Path) -> gettext.NullTranslations:
    from io import BytesIO

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as handle:
        catalog = read_po(handle)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translations() -> gettext.NullTranslations:
    """The active catalogue (for Jinja2's `install_gettext_translations`)."""
    return _active


# Dates, times and numbers as people write them in the active language.
#
# The names of the days and months and the number symbols are Babel's (CLDR's), copied
# once into `locale/formats.json` (`write_formats`, run by `make messages`; a test holds
# the file to Babel). Babel's locale data for one language is about 4 MiB in memory
# (9 MiB resident while it is read), which the scheduler would otherwise hold all week
# for a weekday in a message (issue 19's memory row). The formats below are the ones
# these functions always used: "EEEE d MMMM [y]", "EEE d MMM" and "#,##0.###"; the tests
# compare them with Babel's for every day of a year and for many numbers.

FORMATS_FILE = LOCALE_DIR / "formats.json"


def babel_formats(code: str) -> dict[str, Any]:
    """What `formats.json` keeps for a language, read from Babel."""
    from babel import Locale

    locale = Locale.parse(code)
    symbols = locale.number_symbols["latn"]
    return {
        "days": [locale.days["format"]["wide"][i] for i in range(7)],
        "short_days": [locale.days["format"]["abbreviated"][i] for i in range(7)],
        "months": [locale.months["format"]["wide"][i] for i in range(1, 13)],
        "short_months": [locale.months["format"]["abbreviated"][i] for i in range(1, 13)],
        "decimal": symbols["decimal"], "group": symbols["group"], "minus": symbols["minusSign"],
    }


def write_formats() -> None:
    """Write `formats.json` from Babel, for every language (`make messages`)."""
    formats = {code: babel_formats(code) for code in LANGUAGES}
    FORMATS_FILE.write_text(json.dumps(formats, ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")


@cache
def _formats(code: str) -> dict[str, Any]:
    kept: dict[str, dict[str, Any]] = json.loads(FORMATS_FILE.read_text(encoding="utf-8"))
    return kept[code] if code in kept else babel_formats(code)


def format_day(day: date, *, year: bool = False) -> str:
    """`maandag 8 maart` / `Monday 8 March` (with the year: `maandag 8 maart 2027`)."""
    names = _formats(_language)
    text = f"{names['days'][day.weekday()]} {day.day} {names['months'][day.month - 1]}"
    return f"{text} {day.year}" if year else text


def format_short_day(day: date) -> str:
    """`ma 8 mrt` / `Mon 8 Mar`: for tables and calendars."""
    names = _formats(_language)
    text = f"{names['short_days'][day.weekday()]} {day.day} {names['short_months'][day.month - 1]}"
    return text.replace(".", "")


def format_clock(moment: time | datetime) -> str:
    """`09:00` in both languages (the 24-hour clock of the Netherlands and of our English)."""
    return f"{moment.hour:02d}:{moment.minute:02d}"


def format_moment(moment: datetime) -> str:
    """`maandag 8 maart 09:00` / `Monday 8 March 09:00` (in the moment's own time zone)."""
    return f"{format_day(moment.date())} {format_clock(moment)}"


def format_number(number: int | float) -> str:
    """`1.234` / `1,234`, and `2,5` / `2.5`: at most three decimals, rounded half to even,
    as Babel's "#,##0.###"."""
    value = Decimal(number) if isinstance(number, int) else Decimal(str(number))
    if not value.is_finite():
        from babel.numbers import format_decimal

        return str(format_decimal(number, locale=_language))
    names = _formats(_language)
    value = value.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN)
    whole, _point, decimals = f"{abs(value):f}".partition(".")
    decimals = decimals.rstrip("0")
    text = f"{int(whole):,}".replace(",", names["group"])
    if decimals:
        text += names["decimal"] + decimals
    return names["minus"] + text if value.is_signed() else text
