"""The rehearsal as a person sees it (issue 21): the week told in a few lines, the detail in
a log file it names, and saved feed pages that work offline, on a phone, in campaign time."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from campaign.account import day_account, lateness, short_reason, shown_lateness
from campaign.ledger import Event, PostRecord
from tests.test_preview import browser  # noqa: F401 (a fixture)

DAY = date(2027, 3, 8)


def record(platform: str, state: str = "posted", error: str | None = None) -> PostRecord:
    due = datetime(2027, 3, 8, 9, tzinfo=UTC)
    return PostRecord("01-marieke", platform, DAY.isoformat(), due, state, "1", None, 1, error,
                      None, None, False, None, None, due + timedelta(minutes=3), due)  # type: ignore[arg-type]


def event(kind: str, platform: str, minute: int, detail: str | None = None,
          retry_minute: int | None = None) -> Event:
    planned = datetime(2027, 3, 8, 9, retry_minute, tzinfo=UTC) if retry_minute else None
    return Event(0, datetime(2027, 3, 8, 9, minute, tzinfo=UTC), kind, "01-marieke", platform,
                 None, detail, planned)


def test_a_day_is_told_in_plain_words_with_what_was_done_about_each_fault() -> None:
    records = [record("x"), record("mastodon"), record("facebook"),
               record("linkedin", "failed", "linkedin (01-marieke): LinkedIn refused the token "
                      "while creating the post (401: expired): create a new token")]
    events = [event("retry", "x", 0, "x (01-marieke): rate limited while creating the post (429)"),
              event("posted", "x", 24),
              event("outcome_unknown", "mastodon", 1), event("reconciled_posted", "mastodon", 1)]
    lines = day_account(DAY, records, events, {"01-marieke": "Twee jaar zoeken"}, UTC)
    assert lines == [
        "Mon 8 Mar  01-marieke (Twee jaar zoeken): posted on Facebook, Mastodon and X",
        "    LinkedIn FAILED: LinkedIn refused the token while creating the post; not retried, "
        "and an alert went out.",
        "    Mastodon's answer was lost after the post was sent: campaign looked the post up on "
        "Mastodon, found it, and did not post it twice.",
        "    X answered: rate limited while creating the post; tried again 24 min later and "
        "posted.",
    ]


def test_a_retry_is_told_with_the_wait_campaign_chose_not_the_rehearsal_s_lateness() -> None:
    """The retry was planned 12 minutes after the fault; the compressed clock's own delay
    made it go out 15 minutes after. The account tells the 12, the same on every run."""
    events = [event("retry", "x", 0, "x (01-marieke): rate limited while creating the post (429)",
                    retry_minute=12),
              event("posted", "x", 15)]
    lines = day_account(DAY, [record("x")], events, {}, UTC)
    assert lines[-1] == ("    X answered: rate limited while creating the post; tried again "
                         "12 min later and posted.")


def test_a_retried_post_s_lateness_counts_from_the_moment_chosen_for_its_retry() -> None:
    """Posted 15 minutes after its due time, 3 after the retry planned for 12: 3 minutes
    late; the 12 minutes' wait is told as the retry's (the test above)."""
    retried = dataclasses.replace(record("x"), posted_at=datetime(2027, 3, 8, 9, 15, tzinfo=UTC))
    on_time = dataclasses.replace(record("mastodon"),
                                  posted_at=datetime(2027, 3, 8, 9, 2, tzinfo=UTC))
    events = [event("retry", "x", 0, "x (01-marieke): rate limited (429)", retry_minute=5),
              event("retry", "x", 6, "x (01-marieke): rate limited (429)", retry_minute=12),
              event("posted", "x", 15)]
    assert lateness([retried, on_time], events) == timedelta(minutes=3)
    assert lateness([retried, on_time]) == timedelta(minutes=15)  # without the events


def test_a_rehearsal_s_lateness_is_shown_no_finer_than_it_can_be_measured() -> None:
    """At 6 s a day a campaign minute is 4 ms of real time: a post 0.4 or 4 minutes late
    reads the same (within 5 minutes, the 20 ms a rehearsal can tell apart); a later one
    by the minutes it stays within, rounded up."""
    within = ("every post went out within 5 minutes of its time in the rehearsed week (0.02 s "
              "of real time; a real week posts on the minute)")
    assert shown_lateness(timedelta(seconds=24), 6) == within
    assert shown_lateness(timedelta(minutes=4), 6) == within
    assert shown_lateness(timedelta(minutes=7, seconds=12), 6).startswith(
        "every post went out within 8 minutes of its time")
    # A slower rehearsal tells finer: at 600 s a day, 20 ms are 3 seconds of campaign time.
    assert shown_lateness(timedelta(seconds=24), 600) == (
        "every post went out within less than a minute of its time in the rehearsed week "
        "(0.17 s of real time; a real week posts on the minute)")


def test_reasons_and_lateness_read_as_sentences() -> None:
    assert short_reason("x (01-a): rate limited while creating the post (429): X says") == \
        "rate limited while creating the post"
    assert shown_lateness(timedelta(minutes=48), 6) == (
        "every post went out within 48 minutes of its time in the rehearsed week (0.20 s of "
        "real time; a real week posts on the minute)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`campaign run --sandbox --until-done --faults demo` on a copy of the example, for real."""
    import shutil

    from tests.conftest import REPO

    root = tmp_path_factory.mktemp("demo") / "campaign"
    root.mkdir()
    shutil.copy2(REPO / "campaign.toml", root / "campaign.toml")
    shutil.copytree(REPO / "stories", root / "stories")
    shutil.copytree(REPO / "assets", root / "assets")
    answer = subprocess.run(
        [sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"), "run",
         "--sandbox", "--day-seconds", "3", "--until-done", "--faults", "demo"],
        capture_output=True, text=True, timeout=300, check=False, cwd=root,
        # A module's fixture runs before the autouse one that makes every test English.
        env={**os.environ, "CAMPAIGN_LANG": "en"})
    return answer, root


def test_the_demo_reads_like_a_story(demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    answer, root = demo
    assert answer.returncode == 0, answer.stderr
    assert answer.stderr == ""  # the detail goes to the log file, not the terminal
    lines = answer.stdout.splitlines()
    assert len(lines) <= 35, len(lines)  # was about 280
    text = answer.stdout
    assert lines[0].startswith("Rehearsing Week van de Zeldzame Kanker 2027: 7 days, each 3 "
                               "seconds long, on fake platforms on this machine")
    for day in ("Mon 8 Mar  01-marieke", "Tue 9 Mar  02-joost", "Sun 14 Mar  07-els"):
        assert any(line.startswith(day) for line in lines), day
    assert "X answered: rate limited while creating the post; tried again" in text
    assert "Facebook answered: temporary error while posting the photo; tried again" in text
    assert "did not post it twice" in text
    assert "LinkedIn FAILED: LinkedIn refused the token" in text
    assert "Rehearsal finished: 39 posts, 38 posted, 1 failed." in text
    assert "each post is on its platform once" in text
    assert "ALERT" not in text and "WARNING" not in text and "+00:00" not in text
    assert "(would be held: not approved)" not in text
    [log_line] = [line for line in lines if line.startswith("  Every detail goes to ")]
    log_file = root / log_line.removeprefix("  Every detail goes to ")
    detail = log_file.read_text(encoding="utf-8")
    assert "INFO campaign.scheduler: 01-marieke/x:" in detail
    assert "INFO campaign.alerts: summary sent: Daily summary for Monday 8 March" in detail  # not WARNING
    assert "WARNING campaign.alerts: ALERT 01-marieke on linkedin failed" in detail


def test_the_saved_feeds_work_offline_in_campaign_time_with_their_own_links(
        demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    from campaign.ledger import Ledger

    _answer, root = demo
    [workdir] = (root / "state" / "rehearsals").iterdir()
    feeds = workdir / "feeds"
    index = (feeds / "index.html").read_text(encoding="utf-8")
    assert 'href="posts.json"' in index and "/_sandbox/posts" not in index.replace(
        ">/_sandbox/posts<", "")
    assert json.loads((feeds / "posts.json").read_text(encoding="utf-8"))
    x_page = (feeds / "x.html").read_text(encoding="utf-8")
    shown = re.findall(r"<time [^>]*>([^<]+)</time>", x_page)
    # Each post's time is its day and hour in the rehearsed week, not the wall clock's.
    assert shown and all(re.fullmatch(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d? Mar \d\d:\d\d "
                                      r"\(in the rehearsed week\)", s) for s in shown), shown
    assert any(s.startswith("Mon 8 Mar") for s in shown)
    with Ledger.open(workdir / "ledger.sqlite") as ledger:
        urls = [r.url for r in ledger.posts() if r.state == "posted"]
    assert urls and all(u and u.startswith((feeds / "x.html").as_uri().rsplit("/", 1)[0])
                        for u in urls)
    assert not [u for u in urls if "x.com" in u or "bsky.app" in u or "linkedin.com" in u]
    for url in urls:  # each link leads to its post in the saved page
        page, anchor = url.removeprefix("file://").split("#", 1)
        assert f'id="{unquote(anchor)}"' in Path(page).read_text(encoding="utf-8")


@pytest.mark.integration
def test_the_saved_feed_fits_a_phone(browser: Any, demo: tuple[Any, Path]) -> None:  # noqa: F811
    _answer, root = demo
    [workdir] = (root / "state" / "rehearsals").iterdir()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        for name in ("index", "x", "bluesky", "linkedin"):
            page.goto((workdir / "feeds" / f"{name}.html").as_uri(), wait_until="load")
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name}.html is {overflow}px wider than a phone"
    finally:
        context.close()


def _report_json(root: Path, *extra: str) -> dict[str, Any]:
    answer = subprocess.run(
        [sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"), "report",
         "--rehearsal", "--json", *extra], capture_output=True, text=True, timeout=120,
        check=False, cwd=root, env={**os.environ, "CAMPAIGN_LANG": "en"})
    assert answer.returncode == 0, answer.stderr
    document: dict[str, Any] = json.loads(answer.stdout)
    return document


def test_the_rehearsal_ends_with_the_report_and_every_posted_post_has_its_numbers(
        demo: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    import csv

    from campaign.ledger import Ledger
    from campaign.platforms import SPECS

    answer, root = demo
    [line] = [x for x in answer.stdout.splitlines() if x.startswith("  The results (")]
    page = Path(line.rsplit(": ", 1)[1].removeprefix("file://"))
    assert page.is_file() and page.parent.name == "report"
    [workdir] = (root / "state" / "rehearsals").iterdir()
    with Ledger.open(workdir / "ledger.sqlite") as ledger:
        posted = {(r.story_id, r.platform) for r in ledger.posts() if r.state == "posted"}
    document = _report_json(root, "--csv", str(root / "results.csv"))
    assert {(p["story"], p["platform"]) for p in document["posts"]} == posted
    for post in document["posts"]:
        offered = SPECS[post["platform"]].metrics
        numbers = {m: n for m, n in post["metrics"].items() if n["status"] == "ok"}
        assert set(numbers) == set(offered), post  # the sandbox gives every number it offers
        assert post["history"], post
        # Numbers never fall between fetches.
        for metric in offered:
            seen = [h["metrics"][metric] for h in post["history"] if metric in h["metrics"]]
            assert seen == sorted(seen), (post["story"], post["platform"], metric)
        for metric, number in post["metrics"].items():
            if metric not in offered:
                assert number["value"] is None and number["status"] == "not_offered"
                assert number["reason"].endswith("does not give this number")
    # Fetched during the week and at its end (the last day's last posts only at its end).
    grown = [p for p in document["posts"] if len(p["history"]) >= 2]
    assert len(grown) >= len(posted) - 6
    assert document["posts"][0]["title"] and document["best"]
    # The CSV has one row per post and number, and adds up to the totals.
    with (root / "results.csv").open(encoding="utf-8") as rows:
        table = list(csv.DictReader(rows))
    assert len(table) == len(posted) * 10
    for metric, total in document["totals"].items():
        values = [int(r["value"]) for r in table if r["metric"] == metric and r["value"]]
        assert (total["value"] if total["value"] is not None else 0) == sum(values), metric
    for platform, totals in document["platforms"].items():
        for metric, total in totals.items():
            values = [int(r["value"]) for r in table
                      if r["platform"] == platform and r["metric"] == metric and r["value"]]
            assert (total["value"] or 0) == sum(values), (platform, metric)
    views = [r for r in table if r["platform"] == "bluesky" and r["metric"] == "views"]
    assert views and all(r["value"] == "" and r["status"] == "not_offered" for r in views)


@pytest.mark.integration
def test_the_report_works_offline_in_chromium_with_text_for_every_chart(
        browser: Any, demo: tuple[Any, Path]) -> None:  # noqa: F811
    _answer, root = demo
    document = _report_json(root)
    page_file = Path(document["report"])
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        assert all(url.startswith(page_file.parent.as_uri()) for url in asked), asked
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the report is {overflow}px wider than a phone"
        charts = page.locator("figure.chart")
        assert charts.count() == 4
        for i in range(charts.count()):
            chart = charts.nth(i)
            image = chart.locator("img")
            assert image.evaluate("i => i.complete && i.naturalWidth > 0")
            assert len(image.get_attribute("alt") or "") > 40
            assert chart.locator("details table tbody tr").count() >= 1
        # The headline on the page is the totals of the CSV and --json.
        tiles = page.locator(".tile")
        shown = {tiles.nth(i).locator(".label").inner_text():
                 tiles.nth(i).locator(".value").inner_text() for i in range(tiles.count())}
        assert shown["Views"] == f"{document['totals']['views']['value']:,}"
        assert shown["Likes"] == f"{document['totals']['likes']['value']:,}"
        assert page.locator("article.post img.thumb").count() == len(document["posts"])
        assert "Bluesky does not give: Views" in page.locator("#platform-bluesky").inner_text()
        page.emulate_media(media="print")
        assert page.locator("details > summary").first.is_hidden()
    finally:
        context.close()
