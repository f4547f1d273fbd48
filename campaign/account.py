"""The rehearsal's account of the week, in plain words: a few lines per day, then the end.

What a person reads while `make demo` runs: each day's story and where it went,
each fault the platforms threw and what campaign did about it, and at the end
the summary. Built from the ledger (posts and their events) by pure functions;
the detail (every attempt, with times) goes to the rehearsal's log file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import date, timedelta, tzinfo

from campaign.captions import PLATFORM_NAMES
from campaign.i18n import _, format_number, format_short_day, language, ngettext
from campaign.ledger import Event, PostRecord
from campaign.status import state_label

_PREFIX = re.compile(r"^\w+ \([^)]*\): ")


def short_reason(error: str | None) -> str:
    """'x (01-a): rate limited while creating the post (429): X says ...' -> 'rate limited
    while creating the post'."""
    text = _PREFIX.sub("", error or "").strip()
    for stop in (" (", ": "):
        if stop in text:
            text = text.split(stop, 1)[0]
    return text or _("an error")


def _name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)  # type: ignore[call-overload, no-any-return]


def _listed(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return _("{names} and {last}").format(names=", ".join(names[:-1]), last=names[-1])


def _after(delay: timedelta) -> str:
    minutes = round(delay.total_seconds() / 60)
    if minutes < 1:
        return _("moments later")
    if minutes < 90:
        return _("{minutes} min later").format(minutes=minutes)
    return _("{hours} hours later").format(hours=f"{minutes / 60:.1f}")


def day_account(day: date, records: Iterable[PostRecord], events: Iterable[Event],
                titles: dict[str, str], tz: tzinfo) -> list[str]:
    """The lines that tell what happened on one campaign day."""
    mine = sorted((r for r in records if r.day == day.isoformat()), key=lambda r: r.platform)
    label = format_short_day(day)
    if not mine:
        return [_("{day}  no story").format(day=label)]
    lines: list[str] = []
    happened = [e for e in events if e.story_id in {r.story_id for r in mine}]
    for story_id in sorted({r.story_id for r in mine}):
        posts = [r for r in mine if r.story_id == story_id]
        posted = [_name(r.platform) for r in posts if r.state == "posted"]
        story = f"{story_id} ({titles[story_id]})" if story_id in titles else story_id
        others = [r for r in posts if r.state != "posted"]
        if posted and not others and len(posted) > 2:
            head = _("{day}  {story}: posted on all {n} platforms").format(
                day=label, story=story, n=len(posted))
        elif posted:
            head = _("{day}  {story}: posted on {platforms}").format(
                day=label, story=story, platforms=_listed(posted))
        else:
            head = _("{day}  {story}: not posted").format(day=label, story=story)
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
            # The wait campaign chose: a rehearsal's compressed clock makes each millisecond
            # of its own lateness seconds of campaign time, so the posting time would tell
            # a longer wait, and a different one on every run.
            retried = event.next_attempt or posted_at
            later = (_("tried again {later} and posted").format(later=_after(retried - event.at))
                     if posted_at is not None and retried is not None and retried > event.at
                     else _("tried again later"))
            out.append(_("{platform} answered: {reason}; {later}.").format(
                platform=name, reason=short_reason(event.detail), later=later))
        elif event.kind == "outcome_unknown":
            if record.state == "posted":
                out.append(_("{platform}'s answer was lost after the post was sent: campaign "
                             "looked the post up on {platform}, found it, and did not post it "
                             "twice.").format(platform=name))
            else:
                out.append(_("{platform}'s answer was lost after the post was sent: "
                             "{state}.").format(platform=name, state=state_label(record.state)))
        elif event.kind == "reconciled_absent":
            out.append(_("{platform}: looked the post up and it was not there, so it was sent "
                         "again.").format(platform=name))
    if record.state == "failed":
        out.append(_("{platform} FAILED: {reason}; not retried, and an alert went out.").format(
            platform=name, reason=short_reason(record.last_error)))
    elif record.state == "missed":
        out.append(_("{platform} MISSED: {reason}.").format(
            platform=name, reason=short_reason(record.last_error)))
    elif record.state not in ("posted",):
        out.append(_("{platform}: {state} ({reason}).").format(
            platform=name, state=state_label(record.state),
            reason=short_reason(record.last_error)))
    return out


def lateness(records: Iterable[PostRecord], events: Iterable[Event] = ()) -> timedelta:
    """How late the latest post went out after the moment it was planned for (campaign
    time): its due time, or for a post tried again, the moment campaign chose for the
    attempt that posted it (its last retry's, from `events`). The wait before a retry is
    told apart, as campaign chose it (`_post_story`); a rehearsal's compressed clock would
    otherwise add the failed attempt's milliseconds as minutes, different on every run."""
    planned = {(e.story_id, e.platform): e.next_attempt for e in events
               if e.kind == "retry" and e.next_attempt is not None}  # in order: the last wins
    late = [r.posted_at - planned.get((r.story_id, r.platform), r.due) for r in records
            if r.state == "posted" and r.posted_at is not None and r.due is not None]
    return max(late, default=timedelta(0))


# How precisely a rehearsal tells when a post went out, in real time. Its machine's own
# milliseconds (a thread waking up, another thread's work) are minutes of a compressed week:
# at 6 s a day these 20 ms are about five minutes. A lateness is shown no finer than that,
# so the line says the same on every run unless a post was really later.
REHEARSAL_PRECISION_SECONDS = 0.02


def shown_lateness(late: timedelta, day_seconds: float) -> str:
    """Lateness in the rehearsed week, and what it is in real seconds: a bound it stays
    within, rounded up to whole minutes and to `REHEARSAL_PRECISION_SECONDS`."""
    precision = timedelta(seconds=REHEARSAL_PRECISION_SECONDS * 86400 / day_seconds)
    bound = max(late, precision)
    minutes = math.ceil(bound.total_seconds() / 60)
    real = bound.total_seconds() * day_seconds / 86400
    if minutes > 1:
        return _("every post went out within {minutes} minutes of its time in the rehearsed "
                 "week ({real} s of real time; a real week posts on the minute)").format(
                     minutes=minutes, real=_two_places(real))
    return _("every post went out within less than a minute of its time in the rehearsed week "
             "({real} s of real time; a real week posts on the minute)").format(
                 real=_two_places(real))


def _two_places(number: float) -> str:
    """`0.20` / `0,20`."""
    from babel.numbers import format_decimal

    return str(format_decimal(number, format="0.00", locale=language()))


def start_account(name: str, days: int, day_seconds: float, planned: int, spares: list[str],
                  unapproved: bool, faults: int, log_file: str) -> list[str]:
    lines = [_("Rehearsing {name}: {days} days, each {seconds} seconds long, on fake "
               "platforms on this machine (nothing is posted for real).").format(
                   name=name, days=days, seconds=format_number(day_seconds))]
    if spares:
        lines.append("  " + ngettext(
            "{n} story planned, reserve: {spares} (not posted).",
            "{n} stories planned, reserve: {spares} (not posted).", planned).format(
                n=planned, spares=", ".join(spares)))
    else:
        lines.append("  " + ngettext("{n} story planned.", "{n} stories planned.",
                                     planned).format(n=planned))
    if unapproved:
        lines.append("  " + _("Not every story is approved yet: the rehearsal posts them all "
                              "the same; in the real week, those would be held."))
    if faults:
        lines.append("  " + ngettext(
            "{n} fault injected on purpose, to show what campaign does about it.",
            "{n} faults injected on purpose, to show what campaign does about each.",
            faults).format(n=faults))
    lines.append("  " + _("Every detail goes to {log}").format(log=log_file))
    lines.append("")
    return lines


__all__ = ["day_account", "lateness", "short_reason", "shown_lateness", "start_account"]
