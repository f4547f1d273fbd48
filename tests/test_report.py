"""report.py: the report page, CSV and JSON from the ledger's snapshots. A missing
permission, a rate limit and a deleted post each show as their reason, never as 0;
a withdrawn story leaves the report. (The whole rehearsal's report: test_rehearsal.py.)"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from campaign.config import load_project
from campaign.errors import PostRejected, PostRetryable
from campaign.metrics import collect
from campaign.publishers.base import PostMetrics
from campaign.report import make_report, report_json, write_csv, write_report
from tests.test_metrics_collect import FakePublisher, posted_ledger
from tests.test_preview import browser  # noqa: F401 (a fixture)

NOW = datetime(2027, 3, 8, 12, tzinfo=UTC)


def _publishers() -> dict[str, FakePublisher]:
    return {
        "x": FakePublisher(PostRetryable("x", "X asked to wait: too many requests (429); "
                                         "campaign asks again after 12:15",
                                         reset_at=datetime(2027, 3, 8, 12, 15, tzinfo=UTC))),
        "facebook": FakePublisher(PostRejected("facebook", "the Page token may not read the "
                                               "numbers: add the read_insights permission")),
        "mastodon": FakePublisher(lambda ids: {
            i: PostMetrics(i, values={"likes": 3, "reposts": 1, "replies": 0})
            if i.endswith("01-a") else PostMetrics(i, gone=True, detail="deleted on Mastodon")
            for i in ids}),
        "instagram": FakePublisher(lambda ids: {
            i: PostMetrics(i, values={"likes": 7}, unavailable={
                "views": ("not_yet", "not enough people have seen it yet")}) for i in ids}),
    }


@pytest.fixture
def reported(tmp_path: Path, repo_copy: Path) -> tuple[Any, Path]:
    project = load_project(repo_copy / "campaign.toml")
    publishers = _publishers()
    ledger = posted_ledger(tmp_path / "ledger.sqlite")
    collect(ledger, lambda p: publishers[p], NOW)  # type: ignore[arg-type,return-value]
    report = make_report(project, ledger, NOW, {"01-a": "Anna's <story>", "02-b": "Bart"})
    page = write_report(report, project)
    ledger.close()
    return project, page


def test_every_missing_number_says_why_and_none_is_a_zero(reported: tuple[Any, Path],
                                                          tmp_path: Path) -> None:
    project, page = reported
    html = page.read_text(encoding="utf-8")
    assert "read_insights" in html and "429" in html and "deleted on Mastodon" in html
    assert "not enough people have seen it yet" in html
    assert "Anna&#39;s &lt;story&gt;" in html and "<story>" not in html  # escaped
    from campaign.ledger import Ledger

    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        report = make_report(project, ledger, NOW)
        data = report_json(report, page, write_csv(report, tmp_path / "r.csv"))
    posts = {(p["story"], p["platform"]): p for p in data["posts"]}
    assert posts[("01-a", "x")]["metrics"]["likes"] == {
        "value": None, "status": "rate_limited", "fetched_at": NOW.isoformat(),
        "reason": "X asked to wait: too many requests (429); campaign asks again after 12:15"}
    assert posts[("01-a", "facebook")]["metrics"]["views"]["status"] == "refused"
    assert posts[("02-b", "mastodon")]["metrics"]["likes"]["status"] == "gone"
    assert posts[("01-a", "mastodon")]["metrics"]["replies"]["value"] == 0  # a real 0
    assert posts[("01-a", "instagram")]["metrics"]["views"]["status"] == "not_yet"
    # Totals add what there is, and say of how many posts.
    assert data["totals"]["likes"] == {"value": 3 + 7 + 7, "posts": 3, "of": 8,
                                       "offered": True, "reason": None}
    assert data["totals"]["views"]["value"] is None
    assert data["platforms"]["mastodon"]["views"]["offered"] is False
    with (tmp_path / "r.csv").open(encoding="utf-8") as rows:
        table = list(csv.DictReader(rows))
    assert all(r["value"] == "" for r in table if r["status"] != "ok")
    assert sum(int(r["value"]) for r in table if r["metric"] == "likes" and r["value"]) == 17


def test_a_withdrawn_story_leaves_the_report(reported: tuple[Any, Path], tmp_path: Path) -> None:
    from campaign.ledger import Ledger

    project, page = reported
    assert "Anna" in page.read_text(encoding="utf-8")
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        ledger.withdraw("01-a", "anna", NOW)
        page = write_report(make_report(project, ledger, NOW, {"01-a": "Anna", "02-b": "Bart"}),
                            project)
    html = page.read_text(encoding="utf-8")
    assert "Anna" not in html and "01-a" not in html and "Bart" in html
    assert not [p for p in (page.parent / "cards").iterdir() if p.name.startswith("01-a")]


@pytest.mark.integration
def test_the_reasons_are_on_the_page_in_chromium(browser: Any,  # noqa: F811
                                                 reported: tuple[Any, Path]) -> None:
    _project, page_file = reported
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(page_file.as_uri(), wait_until="load")
        problems = page.locator(".problems").inner_text()
        assert "X: X asked to wait" in problems and "read_insights" in problems
        post = page.locator("#post-02-b-mastodon").inner_text()
        assert "deleted on Mastodon" in post and "not available" in post
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
