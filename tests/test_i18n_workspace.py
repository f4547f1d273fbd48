"""The workspace in Dutch (issue 17): every page speaks the active language, with `<html
lang>`, Dutch day names and Dutch form errors, and none of the workspace's own English
messages is left on a page. The workspace runs as in tests/test_workspace.py (waitress on
127.0.0.1, over real HTTP; one test in Chromium), and once as `campaign serve` with
CAMPAIGN_LANG=nl."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests

from campaign.accounts import add_user
from campaign.i18n import _, use_language
from campaign.ledger import Ledger
from tests.conftest import REPO
from tests.test_preview import browser  # noqa: F401 (a fixture)
from tests.test_workspace import (  # noqa: F401 (workspace is a fixture)
    AXE,
    PASSWORD,
    Running,
    _axe,
    _post_for_real,
    _sign_in,
    workspace,
)

WORKSPACE = REPO / "campaign" / "workspace"
#: The pages that are HTML, for a signed-in admin (who may see every one).
PAGES = ["/", "/status", "/status/live", "/stories", "/stories/new", "/stories/01-marieke",
         "/stories/01-marieke/edit", "/stories/01-marieke/withdraw", "/audit", "/rehearsal",
         "/rehearsal/live", "/accounts"]
#: Messages whose Dutch is the same word (a name or a loanword); every other one differs.
SAME_IN_DUTCH = {"Accounts", "Link", "Platform"}
ENGLISH_DAYS = re.compile(r"\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|"
                          r"Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (March|Mar)\b")


@cache
def workspace_messages() -> tuple[str, ...]:
    """Every message marked in campaign/workspace (Python and templates), as Babel extracts
    it: the English text staff would read if a translation were missing."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(WORKSPACE), [("**.py", "python"), ("templates/**.html", "jinja2")],
            keywords=DEFAULT_KEYWORDS):
        found.update(message if isinstance(message, tuple) else (message,))
    found.discard("")
    return tuple(sorted(found))


def test_every_workspace_message_has_its_dutch() -> None:
    messages = workspace_messages()
    assert len(messages) > 150 and "Approve this version" in messages
    assert "tried to post" in messages and "Please sign in first." in messages  # N_()
    with use_language("nl"):
        same = {m for m in messages if _(m) == m}
        assert _("Approve this version") == "Deze versie goedkeuren"
    assert same <= SAME_IN_DUTCH, f"no Dutch yet: {sorted(same - SAME_IN_DUTCH)}"


class _Texts(HTMLParser):
    """A page's text as a reader meets it: each text node, and the attributes read aloud
    or shown (alt, aria-label, title, placeholder)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("alt", "aria-label", "title", "placeholder") and value:
                self.nodes.append(" ".join(value.split()))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)

    def handle_data(self, data: str) -> None:
        text = " ".join(unescape(data).split())
        if text and not self._skip:
            self.nodes.append(text)


def english_left(html: str) -> list[str]:
    """The workspace's English messages found on a page. A message's literal parts (split at
    its placeholders) are looked for: one of three words or more anywhere in the text, a
    shorter one (a label, a state: `posted`) as a whole text node, so that a word in a
    story or in another module's text is not mistaken for it."""
    parser = _Texts()
    parser.feed(html)
    nodes = parser.nodes
    whole = {node.strip(" :·()…,.") for node in nodes}
    text = "\n".join(nodes)
    left = []
    for message in workspace_messages():
        if message in SAME_IN_DUTCH:
            continue
        for piece in re.split(r"%\(\w+\)[sd]|\{\w+(?:!r)?\}", message):
            piece = " ".join(piece.split()).strip(" :·()…,.")
            if not re.search(r"[A-Za-z]{2}", piece):
                continue
            if (len(piece.split()) >= 3 and piece in text) or piece in whole:
                left.append(message)
                break
    return left


@pytest.fixture
def dutch() -> Iterator[None]:
    """Dutch in this process: the workspace's server threads translate with it too."""
    with use_language("nl"):
        yield


def _html_lang(html: str) -> str:
    found = re.search(r"<html lang=\"([^\"]*)\"", html)
    return found.group(1) if found else ""


def test_every_page_speaks_dutch(workspace: Running, dutch: None) -> None:  # noqa: F811
    anna = workspace.session("anna")
    token = anna.csrf  # type: ignore[attr-defined]
    # Some history first, so that the pages show states, events and messages: a story
    # posted to the sandbox, a pause, a new account.
    _post_for_real(workspace, "01-marieke")
    paused = anna.post(f"{workspace.url}/pause", data={"csrf_token": token, "paused": "1",
                                                       "back": "/"}, timeout=60)
    assert paused.status_code == 200 and "Het plaatsen is gepauzeerd." in paused.text
    added = anna.post(f"{workspace.url}/accounts", data={
        "csrf_token": token, "action": "add", "name": "joke", "role": "approver",
        "password": PASSWORD}, timeout=60)
    assert "Account toegevoegd: joke." in added.text and "goedkeurder" in added.text

    login = requests.get(f"{workspace.url}/login", timeout=30).text
    assert _html_lang(login) == "nl" and ">Inloggen</button>" in login
    assert english_left(login) == []
    for path in PAGES:
        answer = anna.get(workspace.url + path, timeout=60)
        assert answer.status_code == 200, path
        if not path.endswith("/live"):
            assert _html_lang(answer.text) == "nl", path
        assert english_left(answer.text) == [], path
        assert not ENGLISH_DAYS.search(answer.text), path

    week = anna.get(workspace.url + "/", timeout=60).text
    assert "maandag 8 maart 2027" in week and "zondag 14 maart 2027" in week
    assert "Van maandag 8 maart tot en met zondag 14 maart 2027" in week
    assert "De campagneweek" in week and "Alt-tekst" in week and "Plaatsen hervatten" in week
    status = anna.get(workspace.url + "/status", timeout=60).text
    assert re.search(r"<td>ma 8 mrt 1\d:\d\d</td>", status)
    assert "<td>geplaatst</td>" in status and "<td>wacht op goedkeuring</td>" in status
    assert "Stand van zaken" in status and "Pogingen" in status
    story = anna.get(workspace.url + "/stories/01-marieke", timeout=60).text
    assert "getekend op vrijdag 30 oktober 2026" in story and "staand" in story
    audit = anna.get(workspace.url + "/audit", timeout=60).text
    assert "plaatsen gepauzeerd" in audit and "goedgekeurd" in audit and "ingelogd" in audit
    assert "account toegevoegd: joke (goedkeurder)" in audit
    withdraw = anna.get(workspace.url + "/stories/01-marieke/withdraw", timeout=60).text
    assert "geplaatst: wordt verwijderd" in withdraw


def test_form_errors_and_refusals_are_dutch(workspace: Running, dutch: None) -> None:  # noqa: F811
    eva = workspace.session("eva")
    form = {"csrf_token": eva.csrf, "title": "T", "name": "N", "quote": "Q.",  # type: ignore[attr-defined]
            "signed": "2026-10-30", "reference": "R-1", "body": "B", "photo_alt": "Foto"}
    answer = eva.post(workspace.url + "/stories/new", data=form,
                      files={"photo_file": ("notities.jpg", b"dit is tekst, geen foto")},
                      timeout=60)
    assert answer.status_code == 400
    assert "Het verhaal is niet opgeslagen: zie de gemarkeerde velden hieronder." in answer.text
    assert re.search(r'<p class="error" id="e-photo">notities\.jpg is geen foto die gelezen kan '
                     r"worden: kies een JPEG- of PNG-foto", answer.text)
    assert _html_lang(answer.text) == "nl" and english_left(answer.text) == []
    # A field the check refuses is marked, and the page around it is Dutch.
    empty = eva.post(workspace.url + "/stories/new", data={**form, "title": ""}, timeout=60)
    assert empty.status_code == 400 and 'id="e-title"' in empty.text
    assert english_left(empty.text) == []
    # The error pages: a form without its token, a page that is not there, a role's limit.
    stale = eva.post(workspace.url + "/pause", data={"paused": "1"}, timeout=30)
    assert stale.status_code == 403 and "Dit formulier is verlopen" in stale.text
    assert eva.post(workspace.url + "/pause", data={"csrf_token": eva.csrf, "paused": "1"},  # type: ignore[attr-defined]
                    timeout=30).text.count("Dit mag je niet doen.") == 1
    missing = eva.get(workspace.url + "/nergens", timeout=30)
    assert missing.status_code == 404 and "Deze pagina bestaat niet." in missing.text
    wrong = requests.post(workspace.url + "/login", data={"name": "eva", "password": "fout"},
                          timeout=30)
    assert wrong.status_code == 401 and _html_lang(wrong.text) == "nl"
    assert english_left(wrong.text) == []
    assert "de naam of het wachtwoord klopt niet: probeer het opnieuw" in unescape(wrong.text)
    assert "not right" not in wrong.text


def test_english_stays_as_written(workspace: Running) -> None:  # noqa: F811
    """The autouse fixture's English: the same helpers give English days and labels."""
    anna = workspace.session("anna")
    week = anna.get(workspace.url + "/", timeout=60).text
    assert _html_lang(week) == "en" and "Monday 8 March 2027" in week
    status = anna.get(workspace.url + "/status", timeout=60).text
    assert re.search(r"<td>Mon 8 Mar 09:00</td>", status) and "held for approval" in status
    assert "anna (administrator)" in status


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_campaign_serve_with_campaign_lang_nl(repo_copy: Path) -> None:
    """`campaign serve` itself: CAMPAIGN_LANG=nl makes the workspace Dutch."""
    with Ledger.open(repo_copy / "state" / "ledger.sqlite") as ledger:
        add_user(ledger, "anna", "admin", PASSWORD, datetime.now(UTC))
    port = _free_port()
    env = {**os.environ, "CAMPAIGN_LANG": "nl"}
    server = subprocess.Popen(
        [sys.executable, "-m", "campaign", "--config", str(repo_copy / "campaign.toml"), "serve",
         "--port", str(port)], cwd=repo_copy, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                login = requests.get(f"{url}/login", timeout=5)
                break
            except requests.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.stdout else ""
                    pytest.fail(f"campaign serve did not start: {output}")
                time.sleep(0.2)
        assert _html_lang(login.text) == "nl" and "Inloggen" in login.text
        client = requests.Session()
        assert client.post(f"{url}/login", data={"name": "anna", "password": PASSWORD},
                           allow_redirects=False, timeout=30).status_code == 302
        week = client.get(f"{url}/", timeout=60).text
        assert _html_lang(week) == "nl" and "maandag 8 maart 2027" in week
        with use_language("nl"):
            assert english_left(week) == []
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


@pytest.mark.integration
def test_the_dutch_workspace_in_chromium(browser: Any, workspace: Running, dutch: None) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="nl-NL")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{workspace.url}/login")
        assert page.get_attribute("html", "lang") == "nl"
        page.fill("#name", "piet")
        page.fill("#password", PASSWORD)
        page.click("button:has-text(\"Inloggen\")")
        page.wait_for_url(re.compile(r".*/(\?.*)?$"))
        assert page.locator("h2", has_text="maandag 8 maart 2027").count() == 1
        assert english_left(page.content()) == []
        page.goto(f"{workspace.url}/status")
        page.click("text=Alle berichten pauzeren")
        page.wait_for_selector("text=Het plaatsen is gepauzeerd.")
        page.wait_for_timeout(3500)  # one update of the live part, through htmx
        assert "ma 8 mrt 09:00" in page.inner_text("#live")
        assert "wacht op goedkeuring" in page.inner_text("#live")
        page.click("text=Plaatsen hervatten")
        page.wait_for_selector("text=Alle berichten pauzeren")
        assert english_left(page.content()) == []
        if AXE.exists():  # the Dutch pages pass axe-core too (lang, labels, names)
            checked = browser.new_context(viewport={"width": 1280, "height": 900},
                                          bypass_csp=True)
            try:
                view = checked.new_page()
                _sign_in(view, workspace.url, "anna")
                for path in ("/", "/status", "/stories/new", "/accounts"):
                    view.goto(workspace.url + path)
                    view.wait_for_load_state("networkidle")
                    assert _axe(view) == [], path
            finally:
                checked.close()
        assert errors == []
    finally:
        context.close()
