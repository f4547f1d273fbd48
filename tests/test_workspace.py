"""`campaign serve`: the workspace under waitress on 127.0.0.1, over real HTTP, and in Debian's
chromium driven by Playwright: accounts, roles, CSRF, headers, uploads, the four-eyes rule,
pause, withdrawal against the sandbox, a live rehearsal, a phone, and axe-core on every page."""

from __future__ import annotations

import io
import json
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign.accounts import add_user
from campaign.config import load_project
from campaign.ledger import Ledger
from campaign.models import CARD_SIZES
from campaign.sandbox import Sandbox
from campaign.workspace.app import create_app, server_options
from tests.conftest import REPO
from tests.test_preview import ARTIFACTS, browser  # noqa: F401 (a fixture)

PASSWORD = "correct horse battery"
SENTINEL = "sentinel-secret-7f3a9c2e41"
AXE = REPO / "tests" / "servers" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


@dataclass
class Running:
    url: str
    root: Path
    sandbox: Sandbox

    def session(self, name: str) -> requests.Session:
        """A signed-in browser-like session (real HTTP), with the CSRF token at hand."""
        client = requests.Session()
        answer = client.post(f"{self.url}/login", data={"name": name, "password": PASSWORD},
                             allow_redirects=False, timeout=30)
        assert answer.status_code == 302, answer.text
        page = client.get(f"{self.url}/stories", timeout=30).text
        client.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[attr-defined, union-attr]
        return client


@pytest.fixture
def workspace(repo_copy: Path) -> Iterator[Running]:
    from waitress import create_server

    project = load_project(repo_copy / "campaign.toml")
    with Ledger.open(project.ledger_path) as ledger:
        now = datetime.now(UTC)
        for name, role in (("anna", "admin"), ("piet", "approver"), ("eva", "editor")):
            add_user(ledger, name, role, PASSWORD, now)
    with Sandbox(port=0) as sandbox:
        env = {**sandbox.env(), "LINKEDIN_TOKEN": SENTINEL}
        app = create_app(project, env=env)
        options = server_options("127.0.0.1", 0, threads=4)
        server = create_server(app, **options)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            yield Running(f"http://127.0.0.1:{server.effective_port}", repo_copy, sandbox)
        finally:
            _stop(server, thread)


def _stop(server: Any, thread: threading.Thread) -> None:
    """Stop waitress from its own loop thread. Closing its sockets from this thread while
    the loop waits in select() on them made the loop fail with "Bad file descriptor"
    (seen once in CI as an unhandled thread exception)."""
    def close_all() -> None:
        for dispatcher in list(server._map.values()):  # the listener, channels, the trigger
            dispatcher.close()

    server.trigger.pull_trigger(close_all)
    thread.join(10)  # the loop ends when nothing is left to watch
    assert not thread.is_alive(), "the workspace's server did not stop"
    server.task_dispatcher.shutdown()


# -- security, over real HTTP ---------------------------------------------------------------

ROUTES_GET = ["/", "/status", "/status/live", "/stories", "/stories/new", "/stories/01-marieke",
              "/stories/01-marieke/edit", "/stories/01-marieke/withdraw", "/audit", "/report",
              "/rehearsal", "/report/report.css",
              "/rehearsal/live", "/accounts", "/stories/01-marieke/card/square.jpg",
              "/cards/01-marieke-square.jpg"]
ROUTES_POST = ["/logout", "/stories/new", "/stories/01-marieke/edit", "/stories/01-marieke/approve",
               "/stories/01-marieke/withdraw", "/pause", "/rehearsal/start", "/accounts"]


def test_every_route_needs_a_session(workspace: Running) -> None:
    for path in ROUTES_GET:
        answer = requests.get(workspace.url + path, allow_redirects=False, timeout=30)
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login"), path
        assert "Marieke" not in answer.text
    for path in ROUTES_POST:
        answer = requests.post(workspace.url + path, data={"paused": "1"}, allow_redirects=False,
                               timeout=30)
        assert answer.status_code == 401, path
    with Ledger.open(workspace.root / "state" / "ledger.sqlite") as ledger:
        assert not ledger.is_paused()


def test_every_post_needs_the_csrf_token(workspace: Running) -> None:
    client = workspace.session("anna")
    for path in ROUTES_POST:
        answer = client.post(workspace.url + path, data={"paused": "1", "action": "remove",
                                                         "name": "eva"}, timeout=30)
        assert answer.status_code == 403, path
        wrong = client.post(workspace.url + path, data={"csrf_token": "x" * 43, "paused": "1"},
                            timeout=30)
        assert wrong.status_code == 403, path
    with Ledger.open(workspace.root / "state" / "ledger.sqlite") as ledger:
        assert not ledger.is_paused() and ledger.user("eva") is not None


def test_each_role_is_refused_what_it_may_not_do(workspace: Running) -> None:
    eva = workspace.session("eva")  # editor
    for path, data in (("/stories/01-marieke/approve", {"version": "x"}), ("/pause", {"paused": "1"}),
                       ("/stories/01-marieke/withdraw", {"confirm": "01-marieke"}),
                       ("/rehearsal/start", {}), ("/accounts", {"action": "add"})):
        answer = eva.post(workspace.url + path, data={**data, "csrf_token": eva.csrf}, timeout=30)  # type: ignore[attr-defined]
        assert answer.status_code == 403, path
    assert eva.get(workspace.url + "/accounts", timeout=30).status_code == 403
    assert eva.get(workspace.url + "/stories/01-marieke/withdraw", timeout=30).status_code == 403
    assert eva.get(workspace.url + "/stories/new", timeout=30).status_code == 200  # editors write
    piet = workspace.session("piet")  # approver: no accounts
    assert piet.get(workspace.url + "/accounts", timeout=30).status_code == 403


def test_files_are_served_by_their_names_only(workspace: Running) -> None:
    client = workspace.session("anna")
    for path in ("/cards/..%2F..%2Fcampaign.toml", "/cards/../../campaign.toml",
                 "/cards/01-marieke-square.jpg%00.png", "/cards/.hidden-square.jpg",
                 "/stories/..%2Fcampaign/card/square.jpg", "/stories/01-marieke/card/huge.jpg",
                 "/stories/../../etc/passwd/card/square.jpg",
                 "/rehearsal/20270101T000000/image/..%2F..%2Fledger.sqlite",
                 "/rehearsal/..%2F..%2F/image/x-1.img", "/static/..%2F..%2Fcli.py"):
        answer = client.get(workspace.url + path, timeout=30)
        assert answer.status_code == 404, path
        assert "[campaign]" not in answer.text and "import" not in answer.text


def test_a_story_s_three_cards_asked_for_at_once_all_come(workspace: Running) -> None:
    """A story's page asks for its three cards at once, and the server draws them on three
    of its threads: 02-joost has no photo_focus, so his faces are looked for as well."""
    client = workspace.session("eva")
    sizes = {fmt: CARD_SIZES[fmt] for fmt in ("portrait", "square", "landscape")}
    for story_id in ("02-joost", "01-marieke"):
        answers: dict[str, requests.Response] = {}

        def ask(fmt: str, story_id: str = story_id,
                answers: dict[str, requests.Response] = answers) -> None:
            answers[fmt] = client.get(f"{workspace.url}/stories/{story_id}/card/{fmt}.jpg",
                                      timeout=60)

        threads = [threading.Thread(target=ask, args=(fmt,)) for fmt in sizes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        for fmt, size in sizes.items():
            answer = answers[fmt]
            assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/jpeg"
            with Image.open(io.BytesIO(answer.content)) as card:
                assert card.size == size, (story_id, fmt)


def _bomb_png() -> bytes:
    """A tiny PNG that says it is 60,000 x 60,000 pixels (3.6 gigapixels)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + chunk(b"IEND", b""))


def test_uploads_that_are_not_photos_are_clear_errors_and_nothing_is_stored(workspace: Running) -> None:
    client = workspace.session("eva")
    photos = workspace.root / "assets" / "photos"
    before = sorted(p.name for p in photos.iterdir())
    form = {"csrf_token": client.csrf, "title": "T", "name": "N", "quote": "Q.",  # type: ignore[attr-defined]
            "signed": "2026-10-30", "reference": "R-1", "body": "B", "photo_alt": "Foto"}
    cases = [
        ("notes.jpg", b"this is text, not a photo", 400, "is not a photo that can be read"),
        ("bomb.png", _bomb_png(), 400, "enormous"),
        ("huge.jpg", b"\xff\xd8" + b"\x00" * (100 * 1024 * 1024), 413, "too large"),
    ]
    for name, data, code, words in cases:
        answer = client.post(workspace.url + "/stories/new", data=form,
                             files={"photo_file": (name, data)}, timeout=120)
        assert answer.status_code == code, name
        assert words in answer.text, name
    assert sorted(p.name for p in photos.iterdir()) == before
    assert not [p for p in (workspace.root / "stories").iterdir() if p.name.startswith("1")]


def test_the_lockout_after_five_failed_sign_ins(workspace: Running) -> None:
    for _ in range(5):
        answer = requests.post(workspace.url + "/login", data={"name": "eva", "password": "wrong"},
                               timeout=30)
        assert answer.status_code == 401 and "is not right" in answer.text
    right = requests.post(workspace.url + "/login", data={"name": "eva", "password": PASSWORD},
                          allow_redirects=False, timeout=30)
    assert right.status_code == 401 and "too many failed sign-ins" in right.text
    assert "campaign_session" not in right.headers.get("Set-Cookie", "")
    # Another name is not locked out by eva's failures.
    assert requests.post(workspace.url + "/login", data={"name": "piet", "password": PASSWORD},
                         allow_redirects=False, timeout=30).status_code == 302


def test_cookie_flags_and_headers(workspace: Running) -> None:
    answer = requests.post(workspace.url + "/login", data={"name": "anna", "password": PASSWORD},
                           allow_redirects=False, timeout=30)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    proxied = requests.post(workspace.url + "/login", data={"name": "anna", "password": PASSWORD},
                            headers={"X-Forwarded-Proto": "https"}, allow_redirects=False,
                            timeout=30)
    assert "Secure" in proxied.headers["Set-Cookie"]  # behind the HTTPS proxy on this machine
    page = requests.get(workspace.url + "/login", timeout=30)
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in page.text  # no inline script anywhere
    client = workspace.session("anna")
    answer = client.post(workspace.url + "/logout", data={"csrf_token": client.csrf},  # type: ignore[attr-defined]
                         allow_redirects=False, timeout=30)
    assert answer.status_code == 302
    assert client.get(workspace.url + "/", allow_redirects=False, timeout=30).status_code == 302


def test_a_secret_never_reaches_a_page_and_story_text_stays_text(workspace: Running) -> None:
    hostile = workspace.root / "stories" / "09-html.md"
    hostile.write_text("---\ntitle: <script>alert(1)</script> kop\nname: <b>Naam</b>\n"
                       "quote: \"<img src=x onerror=alert(2)>\"\nconsent:\n  signed: 2026-10-30\n"
                       "  reference: R-9\n---\n<script>alert(3)</script> tekst\n",
                       encoding="utf-8")
    client = workspace.session("anna")
    for path in [p for p in ROUTES_GET if not p.endswith(".jpg")] + ["/stories/09-html"]:
        answer = client.get(workspace.url + path, timeout=60)
        assert answer.status_code == 200, path
        assert SENTINEL not in answer.text, path
        assert "<script>alert" not in answer.text and "onerror=alert" not in answer.text, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt; kop" in client.get(
        workspace.url + "/stories/09-html", timeout=60).text


def test_the_four_eyes_rule_and_the_exact_version(workspace: Running) -> None:
    piet = workspace.session("piet")
    form = {"csrf_token": piet.csrf, "title": "Samen sterk", "name": "Sanne", "quote": "Samen.",  # type: ignore[attr-defined]
            "signed": "2026-10-30", "reference": "R-10", "body": "Een verhaal."}
    saved = piet.post(workspace.url + "/stories/new", data=form, allow_redirects=False, timeout=60)
    assert saved.status_code == 302
    story_id = saved.headers["Location"].rsplit("/", 1)[-1]
    page = piet.get(workspace.url + f"/stories/{story_id}", timeout=60).text
    assert "You saved this version yourself" in page
    version = json.dumps(None)
    with Ledger.open(workspace.root / "state" / "ledger.sqlite") as ledger:
        [saved_event] = [e for e in ledger.events(story_id) if e.kind == "saved"]
        version = saved_event.detail or ""
    refused = piet.post(workspace.url + f"/stories/{story_id}/approve",
                        data={"csrf_token": piet.csrf, "version": version}, timeout=60)  # type: ignore[attr-defined]
    assert refused.status_code == 400 and "another approver" in refused.text
    anna = workspace.session("anna")
    stale = anna.post(workspace.url + f"/stories/{story_id}/approve",
                      data={"csrf_token": anna.csrf, "version": "0" * 64}, timeout=60)  # type: ignore[attr-defined]
    assert stale.status_code == 400 and "changed after you opened it" in stale.text
    done = anna.post(workspace.url + f"/stories/{story_id}/approve",
                     data={"csrf_token": anna.csrf, "version": version}, timeout=60)  # type: ignore[attr-defined]
    assert done.status_code == 200 and "is approved by anna" in done.text
    with Ledger.open(workspace.root / "state" / "ledger.sqlite") as ledger:
        assert ledger.approval(story_id, version) is not None


# -- in the browser -------------------------------------------------------------------------

def _sign_in(page: Any, url: str, name: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/(\?.*)?$"))


def _no_overflow(page: Any) -> int:
    return int(page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def _axe(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: {type: "tag", values:
            ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}});
        return result.violations.map(v => v.id + ": " + v.help + " (" +
            v.nodes.slice(0, 2).map(n => n.target.join(" ")).join(", ") + ")");
    }""")
    return list(found)


@pytest.mark.integration
def test_the_whole_workspace_in_chromium(browser: Any, workspace: Running, tmp_path: Path) -> None:  # noqa: F811
    if not AXE.exists():
        pytest.fail("axe-core is missing: run bash tests/servers/axe/install.sh (.ci/ does)")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=False)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    try:
        _sign_in(page, workspace.url, "eva")
        assert page.locator("h1").first.inner_text() == "Week van de Zeldzame Kanker 2027"
        # Write a story with a photo, and see its cards.
        photo = tmp_path / "portret.jpg"
        Image.new("RGB", (1600, 1200), (200, 120, 60)).save(photo)
        page.goto(f"{workspace.url}/stories/new")
        page.fill("#f-title", "Een nieuw begin")
        page.fill("#f-quote", "Nu weet ik: luister naar je lijf.")
        page.fill("#f-name", "Lotte")
        page.fill("#f-signed", "2026-10-30")
        page.fill("#f-reference", "R-11")
        page.fill("#f-photo_alt", "Lotte in de tuin")
        page.fill("#f-body", "Het verhaal van Lotte.")
        page.set_input_files("#f-photo_file", str(photo))
        page.click("text=Check and save")
        page.wait_for_url(re.compile(r".*/stories/\d\d-lotte$"))
        story_id = page.url.rsplit("/", 1)[-1]
        images = page.locator(".cards img")
        assert images.count() >= 1
        page.wait_for_function("() => [...document.querySelectorAll('.cards img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        text = (workspace.root / "stories" / f"{story_id}.md").read_text(encoding="utf-8")
        assert "quote: 'Nu weet ik: luister naar je lijf.'" in text or \
            'quote: "Nu weet ik: luister naar je lijf."' in text
        [stored] = re.findall(r"photo: (assets/photos/[0-9a-f]{24}\.jpg)", text)
        with Image.open(workspace.root / stored) as kept:
            assert not kept.getexif() and "icc_profile" not in kept.info
        # An editor cannot approve; an approver can, as a second pair of eyes.
        assert page.locator("text=Approve this version").count() == 0
        page.click("text=Sign out")
        _sign_in(page, workspace.url, "piet")
        page.goto(f"{workspace.url}/stories/{story_id}")
        page.click("text=Approve this version")
        page.wait_for_selector("text=This version is approved by piet.")
        # Pause and resume.
        page.goto(f"{workspace.url}/status")
        page.click("text=Pause all posting")
        page.wait_for_selector("text=Posting is paused.")
        page.click("text=Resume posting")
        page.wait_for_selector("text=Pause all posting")
        # Withdraw a posted story: its posts on the sandbox go.
        _post_for_real(workspace, "01-marieke")
        assert [p for p in workspace.sandbox.posts() if "Marieke" in p["caption"]]
        page.goto(f"{workspace.url}/stories/01-marieke/withdraw")
        assert "Marieke" in page.inner_text("main")
        page.fill("#confirm", "01-marieke")
        page.click("text=Withdraw and delete")
        page.wait_for_selector("text=01-marieke is withdrawn")
        assert not [p for p in workspace.sandbox.posts() if "Marieke" in p["caption"]]
        assert "Deleted: facebook, instagram, mastodon, x" in page.inner_text("main")
        # Every page: no console error (a CSP violation would be one) in this context; then
        # axe-core (injected, so those contexts let it past the CSP), and no overflow on a phone.
        pages = ["/", "/status", "/stories", f"/stories/{story_id}", f"/stories/{story_id}/edit",
                 "/stories/new", "/audit", "/report", "/rehearsal", "/stories/02-joost/withdraw"]
        _sign_in(page, workspace.url, "anna")
        for path in [*pages, "/accounts"]:
            page.goto(workspace.url + path)
            page.wait_for_load_state("networkidle")
        desktop = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
        ARTIFACTS.mkdir(exist_ok=True)
        try:
            for view in (desktop.new_page(), phone.new_page()):
                view.goto(workspace.url + "/login")
                assert _axe(view) == [], "/login"
                _sign_in(view, workspace.url, "anna")
                for path in [*pages, "/accounts"]:
                    view.goto(workspace.url + path)
                    view.wait_for_load_state("networkidle")
                    violations = _axe(view)
                    assert violations == [], f"{path} at {view.viewport_size}: {violations}"
                    if view.viewport_size["width"] == 390:
                        assert _no_overflow(view) <= 0, f"{path} is wider than a phone"
                        if path in ("/", "/status", "/stories/new"):
                            name = path.strip("/").replace("/", "-") or "week"
                            view.screenshot(path=str(ARTIFACTS / f"workspace-{name}-390.png"),
                                            full_page=True)
        finally:
            desktop.close()
            phone.close()
        assert errors == []
    finally:
        context.close()


def _post_for_real(workspace: Running, story_id: str) -> None:
    """Post a story to the sandbox through the real publish path (approved first)."""
    from campaign.publish import Publishing, publish_post, read_story_bounded

    project = load_project(workspace.root / "campaign.toml")
    story = read_story_bounded(project, story_id).story
    assert story is not None
    now = datetime(2027, 3, 8, 10, tzinfo=UTC)
    with Ledger.open(project.ledger_path) as ledger:
        ledger.approve(story_id, story.content_hash, "piet", now)
        publishing = Publishing(project=project, ledger=ledger, env=workspace.sandbox.env(),
                                publisher_options={"instagram": {"poll_interval": 0.01}})
        for platform in ("x", "facebook", "instagram", "mastodon"):
            publish_post(publishing, story_id, platform, now)  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_rehearsal_started_in_the_workspace_updates_live(browser: Any, workspace: Running) -> None:  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        _sign_in(page, workspace.url, "piet")
        page.goto(f"{workspace.url}/rehearsal")
        page.fill("#day_seconds", "2")
        page.click("text=Start a rehearsal")
        page.wait_for_selector("text=running", timeout=60_000)
        page.evaluate("window.stillThePage = true")  # gone if the page reloads
        page.wait_for_selector("#rehearsal-live tr.state-posted", timeout=120_000)
        page.wait_for_selector(".feed-post img", timeout=120_000)  # the feeds fill
        assert page.evaluate("window.stillThePage") is True  # updated without a reload
    finally:
        context.close()
        _stop_rehearsals(workspace.root)


def _stop_rehearsals(root: Path) -> None:
    import os
    import signal

    from campaign.rehearsal import running_rehearsals

    project = load_project(root / "campaign.toml")
    for _workdir, pid in running_rehearsals(project):
        if pid.isdigit():
            os.kill(int(pid), signal.SIGTERM)
    deadline = time.monotonic() + 30
    while running_rehearsals(project) and time.monotonic() < deadline:
        time.sleep(0.2)


def test_users_commands(tmp_path: Path, repo_copy: Path) -> None:
    from typer.testing import CliRunner

    from campaign.cli import app

    def run(*args: str, stdin: str | None = None) -> Any:
        return CliRunner().invoke(app, ["--config", str(repo_copy / "campaign.toml"), "users",
                                        *args], input=stdin)

    assert run("add", "anna", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n").stdout == "account added: anna (admin)\n"
    short = run("add", "eva", "--password-stdin", stdin="kort\n")
    assert short.exit_code == 1 and "too short" in short.stderr
    bad = run("add", "eva", "--role", "boss", "--password-stdin", stdin=PASSWORD + "\n")
    assert bad.exit_code == 1 and "is not a role" in bad.stderr
    assert run("list").stdout.startswith("anna\tadmin\tsince ")
    assert run("reset-password", "anna", "--password-stdin",
               stdin="another long password\n").exit_code == 0
    assert run("remove", "anna").stdout == "account removed: anna\n"
    assert run("remove", "anna").exit_code == 1
    with Ledger.open(repo_copy / "state" / "ledger.sqlite") as ledger:
        assert ledger.users() == []
        assert SENTINEL not in json.dumps([e.detail for e in ledger.events()])

