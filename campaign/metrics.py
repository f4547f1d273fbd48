"""Fetching the posts' numbers for `campaign report` (SPEC §13): the collection stage.

Each fetch asks every platform once (in its batches) for the numbers of every post it
holds of ours, and stores what came back in the ledger as one snapshot per post
(`Ledger.add_metrics`), so the report can show growth over time. What did not come
back is stored too, with its reason: a permission the token lacks, a rate limit, a
post deleted on the platform, numbers the platform does not give yet. None of it is
ever a 0, and none of it is an alert: the report shows it.

When to fetch is one pure function (`next_fetch`): every `[report] every_hours`
during the week, then every `after_every_hours` for `after_days` after its last day.
The scheduler calls `collect` from a thread of its own, with its own ledger
connection and publishers, so a slow or failing fetch never holds up a post.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from campaign.config import Settings
from campaign.errors import PostRejected, PostRetryable, PublishError
from campaign.i18n import _, format_moment
from campaign.ledger import Ledger, PostRecord
from campaign.models import PLATFORMS, Platform
from campaign.publishers.base import PostMetrics, Publisher

log = logging.getLogger("campaign.metrics")

#: Why a stored row has no number (`MetricRow.status`), besides "ok".
NO_NUMBER_STATUSES = ("not_yet", "no_permission", "gone", "refused", "rate_limited",
                      "unreachable")


@dataclass
class Collected:
    """What one fetch did: posts with numbers, and per platform what went wrong."""

    at: datetime
    posts: int = 0  # posts whose numbers were stored
    problems: dict[str, str] = field(default_factory=dict)  # platform -> the reason, in words
    wait_until: dict[str, datetime] = field(default_factory=dict)  # rate limited: not before


def week_end(settings: Settings) -> datetime:
    """The moment the campaign's last day ends (local midnight after it)."""
    last = settings.campaign.end + timedelta(days=1)
    return datetime.combine(last, time(0), tzinfo=settings.tz)


def next_fetch(settings: Settings, last: datetime | None, now: datetime) -> datetime | None:
    """When the next fetch is due: `now` or later, or None once collecting is over.

    Nothing is fetched before the first campaign day; the last fetch is at most
    `after_days` after the week's end.
    """
    start = datetime.combine(settings.campaign.start, time(0), tzinfo=settings.tz)
    end = week_end(settings)
    stop = end + timedelta(days=settings.report.after_days)
    if last is None:
        return max(now, start)
    if last >= stop:
        return None
    every = timedelta(hours=settings.report.every_hours if last < end
                      else settings.report.after_every_hours)
    due = last + every
    if last < end < due:  # the week's own numbers, at its very end
        due = end
    return min(due, stop)


def fetchable(ledger: Ledger) -> dict[Platform, list[PostRecord]]:
    """The posts whose numbers can be asked for: posted, with their id on the platform,
    of stories that were not withdrawn."""
    withdrawn = ledger.withdrawn_stories()
    found: dict[Platform, list[PostRecord]] = {}
    for record in ledger.posts():
        if record.state == "posted" and record.remote_id and record.story_id not in withdrawn:
            found.setdefault(record.platform, []).append(record)
    return {p: found[p] for p in PLATFORMS if p in found}


def collect(ledger: Ledger, publisher: Callable[[Platform], Publisher], now: datetime, *,
            platforms: Iterable[Platform] | None = None,
            wait_until: dict[str, datetime] | None = None,
            platform_now: datetime | None = None) -> Collected:
    """Fetch and store the numbers of every fetchable post, platform by platform.

    `now` (campaign time) stamps the snapshot. A platform in `wait_until` whose time
    (`platform_now`, the platforms' clock; `now` when not given) has not come is
    skipped: it asked us to wait. Never raises for a platform's failure.
    """
    done = Collected(at=now)
    wait_until = wait_until or {}
    on_platform = platform_now or now
    chosen = set(platforms) if platforms is not None else None
    for platform, records in fetchable(ledger).items():
        if chosen is not None and platform not in chosen:
            continue
        if platform in wait_until and on_platform < wait_until[platform]:
            continue
        rows_by_story = _fetch(platform, records, publisher, now, done)
        for story_id, rows in rows_by_story.items():
            if ledger.add_metrics(story_id, platform, now, rows) and any(
                    status == "ok" for _m, _v, status, _d in rows):
                done.posts += 1
    return done


Row = tuple[str, int | None, str, str | None]


def _fetch(platform: Platform, records: list[PostRecord],
           publisher: Callable[[Platform], Publisher], now: datetime,
           done: Collected) -> dict[str, list[Row]]:
    ids = [r.remote_id for r in records if r.remote_id]
    try:
        answers = publisher(platform).fetch_metrics(ids)
    except NotImplementedError:
        return {}
    except PostRetryable as exc:
        status = "rate_limited" if exc.reset_at is not None or "429" in str(exc) \
            else "unreachable"
        if exc.reset_at is not None:
            done.wait_until[platform] = exc.reset_at
        return _all_failed(platform, records, status, _said(exc), done)
    except PostRejected as exc:
        return _all_failed(platform, records, "refused", _said(exc), done)
    except PublishError as exc:
        return _all_failed(platform, records, "unreachable", _said(exc), done)
    except Exception as exc:  # a publisher's bug must never stop the scheduler
        log.exception("%s: fetching the numbers failed", platform)
        return _all_failed(platform, records, "unreachable", _(
            "the numbers could not be read ({error}): this is a fault in campaign; the log has "
            "the details").format(error=type(exc).__name__), done)
    rows: dict[str, list[Row]] = {}
    for record in records:
        answer = answers.get(record.remote_id or "")
        rows[record.story_id] = _rows(answer, now)
    return rows


def _rows(answer: PostMetrics | None, now: datetime) -> list[Row]:
    if answer is None:
        return [("", None, "unreachable", _("the platform did not answer for this post; it is "
                                            "asked again at the next fetch"))]
    if answer.gone:
        return [("", None, "gone", answer.detail or _(
            "the post is no longer on the platform (deleted there) since about {moment}").format(
                moment=format_moment(now)))]
    rows: list[Row] = [(metric, int(value), "ok", None) for metric, value in answer.values.items()]
    rows += [(metric, None, status, detail)
             for metric, (status, detail) in answer.unavailable.items()]
    return rows or [("", None, "not_yet", _("the platform gave no numbers for it yet"))]


def _all_failed(platform: str, records: list[PostRecord], status: str, reason: str,
                done: Collected) -> dict[str, list[Row]]:
    done.problems[platform] = reason
    log.warning("%s: numbers not fetched: %s", platform, reason)
    return {r.story_id: [("", None, status, reason)] for r in records}


def _said(exc: PublishError) -> str:
    """The error's words without the leading "<platform>: " (the report names it)."""
    text = str(exc)
    prefix = f"{exc.platform}: "
    return text[len(prefix):] if text.startswith(prefix) else text
