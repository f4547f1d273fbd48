"""metrics.py: when the numbers are fetched (pure), and what a fetch stores, whatever the
platform answers (the platforms' real answers are turned into these errors by each
publisher: tests/publishers/test_metrics.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from campaign.config import load_project
from campaign.errors import PostRejected, PostRetryable
from campaign.ledger import Ledger
from campaign.metrics import collect, next_fetch, week_end
from campaign.publishers.base import PostMetrics
from tests.conftest import REPO

SETTINGS = load_project(REPO / "campaign.toml").settings
START = datetime(2027, 3, 8, 0, 0, tzinfo=SETTINGS.tz)


def test_every_six_hours_in_the_week_then_daily_for_two_weeks_then_never() -> None:
    assert next_fetch(SETTINGS, None, START - timedelta(days=3)) == START  # not before day 1
    monday = START + timedelta(hours=10)
    assert next_fetch(SETTINGS, None, monday) == monday
    assert next_fetch(SETTINGS, monday, monday) == monday + timedelta(hours=6)
    end = week_end(SETTINGS)
    assert end == datetime(2027, 3, 15, 0, 0, tzinfo=SETTINGS.tz)
    # The last fetch of the week is at its very end, then one a day.
    assert next_fetch(SETTINGS, end - timedelta(hours=2), end) == end
    assert next_fetch(SETTINGS, end, end) == end + timedelta(hours=24)
    stop = end + timedelta(days=14)
    assert next_fetch(SETTINGS, stop - timedelta(hours=3), stop) == stop
    assert next_fetch(SETTINGS, stop, stop + timedelta(days=1)) is None


class FakePublisher:
    """Answers as a platform would, after its publisher turned the answer into our terms."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[list[str]] = []

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        self.asked.append(list(remote_ids))
        if isinstance(self.answer, Exception):
            raise self.answer
        result: dict[str, PostMetrics] = self.answer(remote_ids)
        return result


def posted_ledger(path: Path) -> Ledger:
    ledger = Ledger.open(path)
    now = datetime(2027, 3, 8, 9, tzinfo=UTC)
    for story in ("01-a", "02-b"):
        for platform in ("x", "facebook", "mastodon", "instagram"):
            ledger.ensure_post(story, platform, "2027-03-08", now, now)
            assert ledger.claim(story, platform, "h", "caption", now)
            ledger.set_state(story, platform, "posted", now, remote_id=f"{platform}-{story}",
                             url=f"https://example.org/{platform}/{story}")
    return ledger


def test_each_kind_of_answer_is_stored_with_its_reason_never_as_a_zero(tmp_path: Path) -> None:
    reset = datetime(2027, 3, 8, 12, 15, tzinfo=UTC)
    publishers = {
        "x": FakePublisher(PostRetryable("x", "X asked to wait (429: Too Many Requests)",
                                         reset_at=reset)),
        "facebook": FakePublisher(PostRejected("facebook", "the token may not read the numbers: "
                                               "add the read_insights permission")),
        "mastodon": FakePublisher(lambda ids: {
            i: PostMetrics(i, values={"likes": 3, "reposts": 1}) if i.endswith("01-a")
            else PostMetrics(i, gone=True, detail="deleted on Mastodon") for i in ids}),
        "instagram": FakePublisher(lambda ids: {
            i: PostMetrics(i, unavailable={m: ("not_yet", "not enough viewers yet")
                                           for m in ("views", "reach")},
                           values={"likes": 0}) for i in ids}),
    }
    now = datetime(2027, 3, 8, 12, tzinfo=UTC)
    with posted_ledger(tmp_path / "ledger.sqlite") as ledger:
        done = collect(ledger, lambda p: publishers[p], now)  # type: ignore[arg-type,return-value]
        assert done.posts == 3  # mastodon 01-a, instagram twice; a 0 the platform gave is a number
        assert done.wait_until == {"x": reset}
        assert set(done.problems) == {"x", "facebook"}
        rows = {(r.story_id, r.platform, r.metric): r for r in ledger.metrics()}
        assert rows[("01-a", "x", "")].status == "rate_limited"
        assert "429" in (rows[("01-a", "x", "")].detail or "")
        assert rows[("02-b", "facebook", "")].status == "refused"
        assert "read_insights" in (rows[("02-b", "facebook", "")].detail or "")
        assert rows[("01-a", "mastodon", "likes")].value == 3
        assert rows[("02-b", "mastodon", "")].status == "gone"
        assert rows[("01-a", "instagram", "views")].status == "not_yet"
        assert rows[("01-a", "instagram", "likes")].value == 0
        assert all(r.value is None for r in rows.values() if r.status != "ok")
        # X asked to wait: it is not asked again before its reset time.
        collect(ledger, lambda p: publishers[p], now + timedelta(minutes=5),  # type: ignore[arg-type,return-value]
                wait_until=done.wait_until)
        assert len(publishers["x"].asked) == 1
        collect(ledger, lambda p: publishers[p], reset, wait_until=done.wait_until)  # type: ignore[arg-type,return-value]
        assert len(publishers["x"].asked) == 2
        # A withdrawn story is not asked for, and its numbers are gone from the ledger.
        ledger.withdraw("01-a", "anna", now)
        collect(ledger, lambda p: publishers[p], reset)  # type: ignore[arg-type,return-value]
        assert publishers["mastodon"].asked[-1] == ["mastodon-02-b"]
        assert {r.story_id for r in ledger.metrics()} == {"02-b"}


def test_a_publisher_that_breaks_never_stops_the_fetch(tmp_path: Path) -> None:
    def broken(ids: Sequence[str]) -> dict[str, PostMetrics]:
        raise KeyError("a bug")

    publishers = {p: FakePublisher(broken) for p in ("x", "facebook", "mastodon", "instagram")}
    with posted_ledger(tmp_path / "ledger.sqlite") as ledger:
        done = collect(ledger, lambda p: publishers[p],  # type: ignore[arg-type,return-value]
                       datetime(2027, 3, 8, 12, tzinfo=UTC))
        assert done.posts == 0 and len(done.problems) == 4
        assert {r.status for r in ledger.metrics()} == {"unreachable"}
