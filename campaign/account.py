"""The rehearsal's account of the week, in plain words: a few lines per day, then the end.

What a person reads while `make demo` runs: each day's story and where it went,
each fault the platforms threw and what campaign did about it, and at the end
the summary. Built from the ledger (posts and their events) by pure functions;
the detail (every attempt, with times) goes to the rehearsal's log file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta, tzinfo

from campaign.captions import PLATFORM_NAMES
from campaign.ledger import Event, PostRecord

_PREFIX = re.compile(r"^\w+ \([^)]*\): ")


def short_reason(error: str | None) -> str:
    """'x (01-a): rate limited while creating the post (429): X says ...' -> 'rate limited
    while creating the post'."""
    text = _PREFIX.sub("", error or "").strip()
    for stop in (" (", ": "):
        if stop in text:
            text = text.split(stop, 1)[0]
    return text or "an error"


def _name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)  # type: ignore[call-overload, no-any-return]


def _listed(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _after(delay: timedelta) -> str:
    minutes = round(delay.total_seconds() / 60)
    if minutes < 1:
        return "moments later"
    if minutes < 90:
        return f"{minutes} min later"
    return f"{minutes / 60:.1f} hours later"


def day_account(day: date, records: Iterable[PostRecord], events: Iterable[Event],
                titles: dict[str, str], tz: tzinfo) -> list[str]:
    """The lines that tell what happened on one campaign day."""
    mine = sorted((r for r in records if r.day == day.isoformat()), key=lambda r: r.platform)
    label = f"{day:%a} {day.day} {day:%b}"
    if not mine:
        return [f"{label}  no story"]
    lines: list[str] = []
    happened = [e for e in events if e.story_id in {r.story_id for r in mine}]
    for story_id in sorted({r.story_id for r in mine}):
        posts = [r for r in mine if r.story_id == story_id]
        posted = [_name(r.platform) for r in posts if r.state == "posted"]
        head = f"{label}  {story_id}"
        if story_id in titles:
            head += f" ({titles[story_id]})"
        others = [r for r in posts if r.state != "posted"]
        if posted and not others:
            head += f": posted on all {len(posted)} platforms" if len(posted) > 2 else \
                f": posted on {_listed(posted)}"
        elif posted:
            head += f": posted on {_listed(posted)}"
        else:
            head += ": not posted"
        lines.append(head)
        for record in posts:
            lines.extend("    " + line for line in _post_story(record, happened))
    return lines


def _post_story(record: PostRecord, events: Sequence[Event]) -> list[str]:
    """What happened to one post, when anything did besides being posted."""
    name = _name(record.platform)
    mine = [e for e in events if e.story_id == record.story_id and e.platform == record.platform]
    out: list[str] = []
    posted_at = next((e.at for e in mine if e.kind in ("posted", "posted_would_be_held",
                                                         "reconciled_posted")), None)
    for event in mine:
        if event.kind == "retry":
            later = (f"tried again {_after(posted_at - event.at)} and posted"
                     if posted_at is not None and posted_at > event.at else "tried again later")
            out.append(f"{name} answered: {short_reason(event.detail)}; {later}.")
        elif event.kind == "outcome_unknown":
            if record.state == "posted":
                out.append(f"{name}'s answer was lost after the post was sent: campaign looked "
                           f"the post up on {name}, found it, and did not post it twice.")
            else:
                out.append(f"{name}'s answer was lost after the post was sent: "
                           f"{record.state.replace('_', ' ')}.")
        elif event.kind == "reconciled_absent":
            out.append(f"{name}: looked the post up and it was not there, so it was sent again.")
    if record.state == "failed":
        out.append(f"{name} FAILED: {short_reason(record.last_error)}; not retried, and an alert "
                   "went out.")
    elif record.state == "missed":
        out.append(f"{name} MISSED: {short_reason(record.last_error)}.")
    elif record.state not in ("posted",):
        out.append(f"{name}: {record.state.replace('_', ' ')} ({short_reason(record.last_error)}).")
    return out


def lateness(records: Iterable[PostRecord]) -> timedelta:
    """How late the latest post went out after its due time (campaign time)."""
    late = [r.posted_at - r.due for r in records
            if r.state == "posted" and r.posted_at is not None and r.due is not None]
    return max(late, default=timedelta(0))


def shown_lateness(late: timedelta, day_seconds: float) -> str:
    """Lateness in the rehearsed week, and what it is in real seconds."""
    minutes = late.total_seconds() / 60
    real = late.total_seconds() * day_seconds / 86400
    when = f"{minutes:.0f} minutes" if minutes >= 1 else "less than a minute"
    return (f"every post went out within {when} of its time in the rehearsed week "
            f"({real:.2f} s of real time; a real week posts on the minute)")


def start_account(name: str, days: int, day_seconds: float, planned: int, spares: list[str],
                  unapproved: bool, faults: int, log_file: str) -> list[str]:
    lines = [f"Rehearsing {name}: {days} days, each {day_seconds:g} seconds long, on fake "
             "platforms on this machine (nothing is posted for real).",
             f"  {planned} stories planned"
             + (f", reserve: {', '.join(spares)} (not posted)" if spares else "") + "."]
    if unapproved:
        lines.append("  Not every story is approved yet: the rehearsal posts them all the same; "
                     "in the real week, those would be held.")
    if faults:
        lines.append(f"  {faults} fault(s) injected on purpose, to show what campaign does about "
                     "each.")
    lines.append(f"  Every detail goes to {log_file}")
    lines.append("")
    return lines


__all__ = ["day_account", "lateness", "short_reason", "shown_lateness", "start_account"]
