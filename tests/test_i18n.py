"""The catalogues (SPEC §14): every marked message has Dutch, the placeholders agree, and
the catalogues in the repository are what the code marks today.

The messages are extracted from the code with Babel's own extractor (babel.cfg), the
same one `make messages` runs, so a message marked since the last `make messages`
fails here until it is in the catalogues and translated.
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from hypothesis import given, settings
from hypothesis import strategies as st

from campaign import i18n
from campaign.i18n import LOCALE_DIR, _, use_language

REPO = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), "gettext": None}


def _read(language: str) -> Catalog:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "campaign.po").open("rb") as handle:
        return read_po(handle)


def _marked_in_code() -> set[str]:
    method_map = [("campaign/**.py", "python"), ("campaign/**/templates/**.html", "jinja2"),
                  ("campaign/templates/**.j2", "jinja2")]
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _placeholders(text: str) -> set[str]:
    """`{name}`/`{name!r}` (Python) and `%(name)s` (templates) in a message."""
    names = {f"%({m})" for m in re.findall(r"%\((\w+)\)[sdfr]", text)}
    try:
        for _literal, field, spec, conversion in string.Formatter().parse(text):
            if field is not None:
                names.add("{" + field + (f"!{conversion}" if conversion else "")
                          + (f":{spec}" if spec else "") + "}")
    except ValueError:  # a template message with a lone brace: only %-placeholders count
        pass
    return names


def _strings(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


def _ids(message: Message) -> list[str]:
    return list(message.id) if isinstance(message.id, tuple) else [message.id]


def test_every_marked_message_is_in_both_catalogues() -> None:
    marked = _marked_in_code()
    assert len(marked) > 100
    for language in ("nl", "en"):
        catalogue = {(_ids(m)[0]) for m in _read(language) if m.id}
        missing = sorted(marked - catalogue)
        assert not missing, (f"{len(missing)} marked messages are not in the {language} "
                             f"catalogue: run `make messages`; first: {missing[:5]}")


def test_every_message_has_dutch_that_is_not_fuzzy() -> None:
    untranslated = [_ids(m)[0] for m in _read("nl") if m.id and not all(_strings(m))]
    fuzzy = [_ids(m)[0] for m in _read("nl") if m.id and m.fuzzy]
    assert not untranslated, f"{len(untranslated)} without Dutch, first: {untranslated[:5]}"
    assert not fuzzy, f"fuzzy entries (check and remove the flag): {fuzzy[:5]}"
    assert not _read("nl").fuzzy, "the Dutch catalogue's header is marked fuzzy"


@pytest.mark.parametrize("language", ["nl", "en"])
def test_the_placeholders_are_the_same_in_every_translation(language: str) -> None:
    wrong = []
    for message in _read(language):
        if not message.id:
            continue
        wanted = _placeholders(_ids(message)[-1])
        for translated in _strings(message):
            if translated and _placeholders(translated) != wanted:
                wrong.append((_ids(message)[0], translated))
    assert not wrong, wrong[:5]


def test_the_dutch_uses_no_jargon() -> None:
    """Plain Dutch for people who are not programmers (issue 17): none of the words the
    team does not use. Field names written as syntax (`consent.signed`) are allowed."""
    jargon = re.compile(r"\b(ledger|spare|campaign time|scheduler|sandbox|front matter)\b", re.I)
    # What people type or read as a name stays: `code`, {placeholders}, paths, file and
    # option names (paths.ledger, .env.sandbox, --sandbox, docs/sandbox.md).
    syntax = re.compile(r"`[^`]*`|\{[^}]*\}|\S*[./_-]\S*")
    found = [s for m in _read("nl") if m.id for s in _strings(m)
             if jargon.search(syntax.sub(" ", s))]
    assert not found, found[:5]


def test_the_pot_template_lists_what_the_catalogues_list() -> None:
    with (LOCALE_DIR / "campaign.pot").open("rb") as handle:
        template = {_ids(m)[0] for m in read_po(handle) if m.id}
    assert template == {_ids(m)[0] for m in _read("nl") if m.id}


def test_compiled_catalogue_and_po_give_the_same_dutch(tmp_path: Path) -> None:
    """The .mo that setup.py and make write and the .po read directly agree."""
    message = next(m for m in _read("nl") if m.id and not m.pluralizable)
    with use_language("nl"):
        assert _(message.id) == message.string
    i18n.catalogue.cache_clear()
    try:
        compiled = i18n._from_po(LOCALE_DIR / "nl" / "LC_MESSAGES" / "campaign.po")
        assert compiled.gettext(message.id) == message.string
    finally:
        i18n.catalogue.cache_clear()


def test_building_the_package_compiles_the_catalogues_into_it(tmp_path: Path) -> None:
    """`pip install` and `pip wheel` run setup.py's build_py, which writes every .mo from
    its .po: the wheel carries compiled catalogues that nobody made by hand."""
    import shutil
    import zipfile

    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, source / name)
    shutil.copytree(REPO / "campaign", source / "campaign",
                    ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(tmp_path), str(source)],
                   check=True, capture_output=True, cwd=tmp_path)
    wheel = next(tmp_path.glob("campaign-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for language in ("nl", "en"):
        assert f"campaign/locale/{language}/LC_MESSAGES/campaign.mo" in names
    with zipfile.ZipFile(wheel).open("campaign/locale/nl/LC_MESSAGES/campaign.mo") as mo:
        import gettext

        compiled = gettext.GNUTranslations(mo)
    message = next(m for m in _read("nl") if m.id and not m.pluralizable and m.string)
    assert compiled.gettext(message.id) == message.string


def test_dates_times_and_numbers_are_written_as_each_language_writes_them() -> None:
    with use_language("nl"):
        assert i18n.format_day(date(2027, 3, 8)) == "maandag 8 maart"
        assert i18n.format_day(date(2027, 3, 14), year=True) == "zondag 14 maart 2027"
        assert i18n.format_short_day(date(2027, 3, 8)) == "ma 8 mrt"
        assert i18n.format_clock(time(9, 0)) == "09:00"
        assert i18n.format_moment(datetime(2027, 3, 9, 10, 5)) == "dinsdag 9 maart 10:05"
        assert i18n.format_number(1234) == "1.234"
    with use_language("en"):
        assert i18n.format_day(date(2027, 3, 8)) == "Monday 8 March"
        assert i18n.format_number(1234) == "1,234"


def test_the_kept_day_and_month_names_are_babels() -> None:
    # locale/formats.json is copied from Babel by `make messages` (write_formats).
    kept = json.loads(i18n.FORMATS_FILE.read_text(encoding="utf-8"))
    assert kept == {code: i18n.babel_formats(code) for code in i18n.LANGUAGES}, (
        "campaign/locale/formats.json differs from Babel's data: run `make messages`")


@pytest.mark.parametrize("code", i18n.LANGUAGES)
def test_every_day_of_a_year_is_written_as_babel_writes_it(code: str) -> None:
    from babel.dates import format_date

    with use_language(code):
        for offset in range(366):
            day = date(2028, 1, 1) + timedelta(days=offset)
            assert i18n.format_day(day) == format_date(day, "EEEE d MMMM", locale=code)
            assert i18n.format_day(day, year=True) == format_date(day, "EEEE d MMMM y", locale=code)
            assert i18n.format_short_day(day) == format_date(
                day, "EEE d MMM", locale=code).replace(".", "")


@pytest.mark.parametrize("code", i18n.LANGUAGES)
@settings(max_examples=300, deadline=None)
@given(number=st.one_of(
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.sampled_from([0.0, -0.0, 0.0005, 0.0015, 2.675, 1234.5, 0.1, 999.9995, -0.0001]),
))
def test_numbers_are_written_as_babel_writes_them(code: str, number: int | float) -> None:
    from babel.numbers import format_decimal

    with use_language(code):
        assert i18n.format_number(number) == format_decimal(number, locale=code)


def test_a_scheduler_writes_days_and_numbers_without_babels_locale_data() -> None:
    # The scheduler's messages name days and numbers all week; Babel's locale data
    # would stay in its memory for that (issue 19).
    script = ("import sys\nfrom datetime import date\nfrom campaign import i18n\n"
              "i18n.set_language('nl')\n"
              "print(i18n.format_moment(__import__('datetime').datetime(2027, 3, 8, 9)),"
              " i18n.format_short_day(date(2027, 3, 9)), i18n.format_number(1234.5))\n"
              "print(sorted(m for m in sys.modules if m.startswith('babel')))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert done.stdout.splitlines() == ["maandag 8 maart 09:00 di 9 mrt 1.234,5", "[]"]


def test_the_language_is_chosen_by_lang_then_environment_then_settings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV)
    assert i18n.choose_language(None, None, "nl") == "nl"
    assert i18n.choose_language(None, "en", "nl") == "en"
    assert i18n.choose_language("nl", "en", "nl") == "nl"
    assert i18n.choose_language(None, None, "fr") == "en"  # no catalogue: the source language
    monkeypatch.setenv(i18n.LANG_ENV, "nl_NL")
    assert i18n.choose_language(None, "en", "en") == "nl"
    assert i18n.choose_language("EN", None, "nl") == "en"
    with pytest.raises(ValueError, match="use one of en, nl"):
        i18n.normalise("de")
