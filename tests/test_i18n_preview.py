"""The preview page and the sandbox's feed pages in Dutch (issue 17).

`campaign --lang nl preview` writes a page whose own words are Dutch (`<html lang="nl">`,
Dutch day names, none of the English messages of the page), that hyphenates long Dutch
compounds (`hyphens: auto`) and draws emoji with the theme's own emoji font, offline. The
browser tests open the page in Debian's chromium, as tests/test_preview.py does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from babel.messages.extract import extract
from babel.messages.pofile import read_po
from typer.testing import CliRunner

from campaign import i18n
from campaign.cli import app
from campaign.i18n import use_language
from campaign.sandbox import Sandbox
from tests.conftest import REPO
from tests.test_preview import CHROMIUM_ARGS, NOW, _require_chromium

CAMPAIGN = REPO / "campaign"
DUTCH_DAYS = ["maandag 8 maart 2027", "dinsdag 9 maart 2027", "woensdag 10 maart 2027",
              "donderdag 11 maart 2027", "vrijdag 12 maart 2027", "zaterdag 13 maart 2027",
              "zondag 14 maart 2027"]
ENGLISH_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
                "March"]
COMPOUND = "bijnierschorscarcinoombehandeling"
HEART = "🧡"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
PLACEHOLDER = re.compile(r"\{[^{}]*\}|%\([a-z_]+\)[sd]")


def _msgids(*files: tuple[str, Path]) -> set[str]:
    """Every message (singular and plural) marked in `files`, as extracted for the catalogue."""
    found: set[str] = set()
    for method, path in files:
        with path.open("rb") as handle:
            for _line, message, _comments, _context in extract(method, handle, keywords=KEYWORDS):
                found.update([message] if isinstance(message, str) else message)
    return found


def english_messages(*files: tuple[str, Path]) -> list[str]:
    """The English catalogue's messages that `files` use, as the literal pieces between their
    placeholders that are long enough to be told apart from Dutch (and not the same in Dutch)."""
    with (CAMPAIGN / "locale" / "en" / "LC_MESSAGES" / "campaign.po").open("rb") as handle:
        english = {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(handle) if m.id}
    used = _msgids(*files)
    plural_ids = {p for m in english.values() if isinstance(m.id, tuple) for p in m.id}
    assert used <= set(english) | plural_ids, sorted(used - set(english) - plural_ids)
    with use_language("nl"):
        dutch = {message: i18n._(message) for message in used}
    pieces: list[str] = []
    for message in sorted(used):
        for piece in PLACEHOLDER.split(message):
            piece = piece.strip(" .,:;()'’“”…-")
            if len(piece) >= 8 and re.search(r"[a-z]{3}", piece) and piece not in dutch[message]:
                pieces.append(piece)
    return pieces


def english_left(pieces: list[str], text: str) -> list[str]:
    """The pieces that `text` shows as words of their own (`character` in charactercounter.com
    is a web address, not a message)."""
    return [p for p in pieces if re.search(rf"(?<!\w){re.escape(p)}(?!\w)", text)]


PREVIEW_MESSAGES = (("python", CAMPAIGN / "preview.py"),
                    ("jinja2.ext:babel_extract", CAMPAIGN / "templates" / "preview.html.j2"))
FEED_MESSAGES = (("python", CAMPAIGN / "sandbox" / "feed.py"),)


def _dutch_week(root: Path) -> Path:
    """The example campaign with a caption that has an emoji and a long Dutch compound."""
    marieke = root / "stories" / "01-marieke.md"
    text = marieke.read_text(encoding="utf-8")
    marieke.write_text(text.replace(
        "Haar advies aan anderen:",
        f"Over de {COMPOUND} bij anderen kan ze nu rustig praten {HEART}\n\nHaar advies aan anderen:"),
        encoding="utf-8")
    return root


def _preview_nl(root: Path, *lang: str) -> tuple[Path, str]:
    result = CliRunner().invoke(app, ["--config", str(root / "campaign.toml"), "--now", NOW,
                                      *lang, "preview"])
    assert result.exit_code == 0, result.output
    page = root / "build" / "preview" / "index.html"
    return page, page.read_text(encoding="utf-8")


def test_the_english_list_is_the_pages_messages() -> None:
    pieces = english_messages(*PREVIEW_MESSAGES)
    assert "preview of the week" in pieces and "Spare stories (not posted" in pieces
    assert "Days without a story" in pieces  # a table marked with N_()
    assert "All feeds" not in pieces and "No posts yet" in english_messages(*FEED_MESSAGES)


def test_preview_in_dutch_with_lang_nl(repo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV)  # --lang nl beats it anyway; ui_language would not
    _page, html = _preview_nl(_dutch_week(repo_copy), "--lang", "nl")
    assert '<html lang="nl">' in html
    for day in DUTCH_DAYS:
        assert day in html
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S)
    assert not [d for d in ENGLISH_DAYS if re.search(rf"\b{d}\b", text)]
    left = english_left(english_messages(*PREVIEW_MESSAGES), text)
    assert left == [], left
    assert "Voorbeeldweergave: " in html and "slaagt: elk verhaalbestand is in orde." in html
    # Check's Dutch warnings are sorted by their code, not their (English) words: a shortened
    # caption is listed with the post it concerns, not again under "campaign check" reports.
    check_group = html.split("Problemen die <code>campaign check</code> meldt", 1)[1].split("</ul>", 1)[0]
    assert "ingekort" not in check_group
    assert "01-marieke op Bluesky (" in html
    # The stories are in the campaign's language, the page's own language too: no lang= of
    # their own is needed; the emoji font is copied next to the page and referenced relatively.
    assert 'lang="nl"' not in html.replace('<html lang="nl">', "")
    assert 'src: url("fonts/NotoColorEmoji.ttf")' in html
    assert "font-src 'self'" in html


def test_preview_ui_language_nl_in_campaign_toml(repo_copy: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV)
    toml = repo_copy / "campaign.toml"
    text = toml.read_text(encoding="utf-8")
    toml.write_text(text.replace('language = "nl"\n', 'language = "nl"\nui_language = "nl"\n', 1),
                    encoding="utf-8")
    _page, html = _preview_nl(repo_copy)
    assert '<html lang="nl">' in html and "zondag 14 maart 2027" in html


def test_english_page_gives_the_dutch_stories_their_own_lang(repo_copy: Path) -> None:
    _page, html = _preview_nl(repo_copy)  # CAMPAIGN_LANG=en (conftest)
    assert '<html lang="en">' in html and "Sunday 14 March 2027" in html
    assert '<div class="caption" lang="nl">' in html


# -- in real headless Chromium --------------------------------------------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.integration
def test_dutch_preview_in_chromium(browser: Any, repo_copy: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(i18n.LANG_ENV)
    page_path, _html = _preview_nl(_dutch_week(repo_copy), "--lang", "nl")
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    console: list[str] = []
    requests_made: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("request", lambda r: requests_made.append(r.url))
    try:
        page.goto(page_path.as_uri(), wait_until="load")
        page.evaluate("document.fonts.ready.then(() => true)")
        assert console == []  # the Content-Security-Policy let the font through
        assert requests_made and all(u.startswith("file://") for u in requests_made), requests_made
        assert page.evaluate("document.documentElement.lang") == "nl"
        shown = page.inner_text("body")
        for day in DUTCH_DAYS:
            assert day in shown
        visible = "\n".join([shown, page.title(), *page.evaluate(
            """[...document.querySelectorAll('[aria-label], [title], [alt]')].flatMap(e =>
                 ['aria-label', 'title', 'alt'].map(a => e.getAttribute(a) || ''))""")])
        left = english_left(english_messages(*PREVIEW_MESSAGES), visible)
        assert left == [], left
        assert not [d for d in ENGLISH_DAYS if re.search(rf"\b{d}\b", visible)]
        # Hyphenation on the calendar and the captions (links and hashtags excepted).
        style = page.evaluate(
            """sel => { const e = document.querySelector(sel); const s = getComputedStyle(e);
                        return [s.hyphens || s.webkitHyphens, s.overflowWrap, e.lang ||
                                e.closest('[lang]').lang]; }""", "ol.calendar li")
        assert style == ["auto", "anywhere", "nl"]
        caption = page.evaluate(
            """() => { const e = [...document.querySelectorAll('.caption')].find(c =>
                         c.textContent.includes('bijnierschors'));
                       return [getComputedStyle(e).hyphens, e.closest('[lang]').lang]; }""")
        assert caption == ["auto", "nl"]
        # Without a hyphenation dictionary (Chromium fetches hyphen-data as a component, which
        # this offline CI does not), overflow-wrap still keeps the compound on the screen.
        assert page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0
        assert page.evaluate("getComputedStyle(document.querySelector('.caption .tag')).hyphens") \
            == "manual"
        # The emoji font is the page's own, loaded from the folder next to it, and draws 🧡.
        fonts = page.evaluate(
            """() => [...document.fonts].map(f => ({family: f.family, status: f.status}))""")
        assert {"family": "Campaign Emoji", "status": "loaded"} in fonts, fonts
        assert page.evaluate(f"document.fonts.check('16px \"Campaign Emoji\"', '{HEART}')")
        assert any(u.endswith("/fonts/NotoColorEmoji.ttf") for u in requests_made)
        width = page.evaluate(
            f"""() => {{ const c = document.createElement('canvas').getContext('2d');
                  c.font = '32px "Campaign Emoji"'; return c.measureText('{HEART}').width; }}""")
        assert width > 16
    finally:
        context.close()


# -- the sandbox's feed pages ------------------------------------------------------------------

@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


def _post_to_facebook(sandbox: Sandbox) -> None:
    token = sandbox.env()["FACEBOOK_PAGE_TOKEN"]
    card = REPO / "tests" / "fixtures" / "cards" / "card_portrait_1080x1350.jpg"
    answer = requests.post(
        f"{sandbox.api_url('facebook')}/v25.0/100000000000001/photos",
        headers={"Authorization": f"Bearer {token}"}, timeout=10,
        files={"source": ("card.jpg", card.read_bytes(), "image/jpeg")},
        data={"caption": f"Over de {COMPOUND} {HEART} #ZeldzameKanker",
              "alt_text_custom": "Kaart met de tekst"})
    assert answer.status_code == 200, answer.text


def test_feed_pages_in_dutch(sandbox: Sandbox) -> None:
    _post_to_facebook(sandbox)
    with use_language("nl"):
        feed = requests.get(f"{sandbox.url}/_sandbox/feed/facebook", timeout=5).text
        index = requests.get(f"{sandbox.url}/", timeout=5).text
        empty = requests.get(f"{sandbox.url}/_sandbox/feed/x", timeout=5).text
    for html in (feed, index, empty):
        assert '<html lang="nl">' in html
    assert "Alle oefenplatforms" in feed and "Alt-tekst: Kaart met de tekst" in feed
    assert "<title>Facebook (oefenplatform)</title>" in feed
    assert f"Over de {COMPOUND} {HEART} #ZeldzameKanker" in feed  # the post as posted
    assert "Nog geen berichten." in empty
    assert "1 bericht</li>" in index and "Oefenplatforms van campaign" in index
    # The post's time as staff read it (a Dutch day name), its exact moment in datetime=.
    shown = re.findall(r'<time datetime="[^"]+">([^<]+)</time>', feed)
    assert shown and re.fullmatch(r"(maan|dins|woens|donder|vrij|zater|zon)dag \d+ \w+ \d\d:\d\d",
                                  shown[0]), shown
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", feed + empty + index, flags=re.S)
    left = english_left(english_messages(*FEED_MESSAGES), text)
    assert left == [], left
    with use_language("en"):
        english = requests.get(f"{sandbox.url}/_sandbox/feed/facebook", timeout=5).text
    assert '<html lang="en">' in english and "All feeds" in english


@pytest.mark.integration
def test_dutch_feed_page_in_chromium(browser: Any, sandbox: Sandbox) -> None:
    _post_to_facebook(sandbox)
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        with use_language("nl"):
            page.goto(f"{sandbox.url}/_sandbox/feed/facebook", wait_until="load")
        assert page.evaluate("document.documentElement.lang") == "nl"
        assert "Alle oefenplatforms" in page.inner_text("nav")
        assert page.evaluate("getComputedStyle(document.querySelector('.caption')).hyphens") \
            == "auto"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
    finally:
        context.close()
