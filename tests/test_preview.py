"""`campaign preview`: the page's content, and the page itself in real headless Chromium.

The browser tests drive Debian's chromium through Playwright for Python (never a
downloaded browser). Without chromium they skip with the install command, unless
CAMPAIGN_REQUIRE_REAL_SERVERS=1 (CI), where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from markupsafe import escape
from typer.testing import CliRunner

from campaign.check import run_check
from campaign.cli import app
from campaign.config import load_project
from campaign.ledger import Ledger
from campaign.preview import (
    FOLDS,
    caption_segments,
    fold_index,
    split_segments,
    write_preview,
)
from tests.conftest import REPO, STORY_FIXTURES

NOW = "2027-02-01T10:00:00+01:00"
CHROMIUM = Path("/usr/bin/chromium")
# The flags this closed network needs (no sandbox for root in CI, no calls home).
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = REPO / "test-artifacts"
INSTALL = "sudo bash .ci/install-system-deps.sh && .venv/bin/pip install -e '.[test]'"
XSS_STORY = "story_html_in_every_field.md"


def _now() -> datetime:
    return datetime.fromisoformat(NOW)


@pytest.fixture
def week(repo_copy: Path) -> Path:
    """The example campaign, with 06-ahmed replaced by a story that has HTML in every field."""
    (repo_copy / "stories" / "06-ahmed.md").unlink()
    shutil.copy2(STORY_FIXTURES / XSS_STORY, repo_copy / "stories" / "06-html.md")
    return repo_copy


def _preview(root: Path) -> tuple[Path, str]:
    result = CliRunner().invoke(app, ["--config", str(root / "campaign.toml"), "--now", NOW, "preview"])
    assert result.exit_code == 0, result.output
    page = Path(result.output.strip().splitlines()[-1])
    assert page == root / "build" / "preview" / "index.html"
    return page, page.read_text(encoding="utf-8")


# -- the page's content ------------------------------------------------------------------

def test_preview_prints_the_page_path_and_loads_nothing_from_outside(week: Path) -> None:
    page, html = _preview(week)
    assert "campaign check</code> passes" in html
    # Every image is a card copied next to the page, the only font the theme's emoji font
    # copied next to it too; no stylesheet or script is fetched.
    sources = re.findall(r'\ssrc="([^"]*)"', html)
    assert sources and all(s.startswith("cards/") for s in sources)
    for source in sources:
        assert (page.parent / source).is_file()
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert re.findall(r"url\(([^)]*)\)", html) == ['"fonts/NotoColorEmoji.ttf"']
    assert (page.parent / "fonts" / "NotoColorEmoji.ttf").is_file()
    # The only absolute links are the stories' own links, as anchors (never loaded).
    for tag in re.findall(r"<[^>]+https?://[^>]*>", html):
        assert tag.startswith('<a class="link" href="https://'), tag


def test_story_html_is_text_on_the_page(week: Path) -> None:
    _page, html = _preview(week)
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;Kwaad in de titel" in html
    assert "onerror=" not in html.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
    assert "<img src=x" not in html and "<svg" not in html


def test_every_post_has_its_card_caption_count_and_alt_text(week: Path) -> None:
    project = load_project(week / "campaign.toml")
    report = run_check(project, _now())
    _page, html = _preview(week)
    assert html.count('<article class="post"') == len(report.plan.posts)
    assert html.count("<img ") == len(report.plan.posts)
    marieke_x = next(p for p in report.plan.posts if p.story_id == "01-marieke" and p.platform == "x")
    entry = report.post_json(marieke_x)
    assert f"{entry['caption_length']} of 280 weighted characters" in html
    # alt="..." carries the alt text the platform receives, escaped.
    assert f'alt="{escape(entry["alt_text"])}"' in html
    assert 'class="tag">#WeekVanDeZeldzameKanker</span>' in html
    assert "… meer" in html


def test_warnings_shortened_held_spare_empty_and_consent(week: Path) -> None:
    stories = week / "stories"
    (stories / "03-fatima.md").unlink()  # with the spare gone too: an empty day
    (stories / "08-ingrid.md").unlink()
    henk = stories / "04-henk.md"
    henk.write_text(henk.read_text(encoding="utf-8").replace("expires: 2027-06-30", "expires: 2027-04-01"),
                    encoding="utf-8")
    project = load_project(week / "campaign.toml")
    with Ledger.open(project.ledger_path) as ledger:
        story = run_check(project, _now()).story("01-marieke")
        assert story is not None
        ledger.approve("01-marieke", story.content_hash, "Anna", _now())
    _page, html = _preview(week)
    assert "Held for approval" in html
    assert "02-joost is held for approval" in html
    assert "01-marieke is held for approval" not in html  # approved in this version
    assert "Captions shortened to fit" in html and "02-joost on X (" in html
    assert "expires on Thursday 1 April 2027, 18 days after the campaign ends" in html
    assert "Days without a story" in html
    assert re.search(r"2027-03-1\d has no story: add a story", html)
    assert "Spare stories" not in html


def test_spare_story_is_listed(week: Path) -> None:
    _page, html = _preview(week)
    assert "Spare stories" in html and "08-ingrid" in html


def test_page_says_when_check_fails_and_exits_1(week: Path) -> None:
    shutil.copy2(STORY_FIXTURES / "story_missing_title.md", week / "stories" / "09-bad.md")
    result = CliRunner().invoke(app, ["--config", str(week / "campaign.toml"), "--now", NOW, "preview"])
    assert result.exit_code == 1
    html = (week / "build" / "preview" / "index.html").read_text(encoding="utf-8")
    assert "campaign check</code> fails: 1 error." in html
    assert "stories/09-bad.md" in html


def test_stale_cards_are_removed_from_the_preview_folder(week: Path) -> None:
    project = load_project(week / "campaign.toml")
    page = write_preview(run_check(project, _now()), _now())
    stale = page.parent / "cards" / "gone-square.jpg"
    stale.write_bytes(b"x")
    write_preview(run_check(project, _now()), _now())
    assert not stale.exists()


# -- captions as the platform shows them --------------------------------------------------

def test_caption_segments_mark_hashtags_and_links_not_inside_urls() -> None:
    text = "Lees https://example.org/a#b en meer.\n\n#ZeldzameKanker #GIST"
    segments = caption_segments(text, links_clickable=True)
    assert "".join(s.text for s in segments) == text
    assert [(s.kind, s.text) for s in segments if s.kind != "text"] == [
        ("link", "https://example.org/a#b"), ("hashtag", "#ZeldzameKanker"), ("hashtag", "#GIST"),
    ]
    assert segments[1].href == "https://example.org/a#b"
    assert all(s.href is None for s in caption_segments(text, links_clickable=False))


def test_fold_cuts_at_a_space_within_the_platform_fold() -> None:
    fold = FOLDS["instagram"]
    assert fold is not None
    text = ("woord " * 40).strip()
    cut = fold_index(text, fold)
    assert cut is not None and cut <= fold.chars and text[cut] == " "
    above, below = split_segments(caption_segments(text, False), cut)
    assert "".join(s.text for s in above) + " " + "".join(s.text for s in below) == text
    # Lines count too: the third line is below the fold.
    assert fold_index("een\ntwee\ndrie", fold) == len("een\ntwee")
    assert fold_index("kort", fold) is None
    assert fold_index(text, FOLDS["x"]) is None


# -- the page in real headless Chromium ----------------------------------------------------

def _require_chromium() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.exists():
        message = f"needs Debian's chromium and Playwright for Python: run {INSTALL}"
        if os.environ.get("CAMPAIGN_REQUIRE_REAL_SERVERS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return sync_playwright


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_playwright = _require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.mark.integration
@pytest.mark.parametrize("width", [1280, 390])
def test_preview_in_chromium(browser: Any, week: Path, width: int) -> None:
    page_path, _html = _preview(week)
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    console: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(page_path.as_uri(), wait_until="load")
        page.wait_for_load_state("networkidle")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"preview-{width}.png"), full_page=False)
        page.screenshot(path=str(ARTIFACTS / f"preview-{width}-full.png"), full_page=True)

        assert console == []
        assert dialogs == []
        assert requests and all(url.startswith("file://") for url in requests), requests
        # No horizontal overflow: nothing is wider than the window.
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than {width}px"
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                 .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                 .map(e => e.tagName + '.' + e.className).slice(0, 5)"""
        )
        assert wide == []
        # Every card image loaded and has its alt text.
        images = page.evaluate(
            "[...document.images].map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"
        )
        assert len(images) == page.evaluate("document.querySelectorAll('article.post').length") >= 6 * 6
        assert all(i["ok"] for i in images), [i["src"] for i in images if not i["ok"]]
        assert all(i["alt"].strip() for i in images)
        # The story with HTML in every field: shown as text, and nothing ran.
        assert page.title().startswith("Preview: ")
        assert page.evaluate("document.body.dataset.pwned") is None
        body = page.inner_text("body")
        assert "<script>document.title='pwned'</script>Kwaad in de titel" in body
        assert "<img src=x onerror=" in body
        assert page.evaluate("document.querySelectorAll('script, svg, iframe, object').length") == 0
        # Semantics: one h1, a heading per day, a visible focus ring on the skip link.
        assert page.evaluate("document.querySelectorAll('h1').length") == 1
        assert page.evaluate("document.querySelectorAll('main h2[id^=day-]').length") == 7
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert page.evaluate("document.activeElement.className") == "skip"
        assert outline == "solid"
    finally:
        context.close()


def test_text_in_backticks_is_shown_as_code_and_stays_escaped() -> None:
    from markupsafe import Markup

    from campaign.preview import backticks_as_code

    assert backticks_as_code("run `campaign check` now") == "run <code>campaign check</code> now"
    assert backticks_as_code("`<script>alert(1)</script>` & co") == (
        "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code> &amp; co")
    # A translated message (Markup, its values escaped once already) is not escaped twice.
    assert backticks_as_code(Markup("add `&lt;platform&gt;: text`")) == (
        "add <code>&lt;platform&gt;: text</code>")
