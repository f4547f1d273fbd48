"""`campaign status`: every post's state, from the ledger and the plan, and the scheduler's pulse.

The ledger is the source of truth for posts it knows; planned posts it does
not know yet are shown as *planned*, or *held* when `require_approval` is on
and the story's current version is not approved (an edit after approval
holds it again). Posts of stories that left the plan (an error, a
withdrawal, a removed file) stay in the list with the reason in `reason`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from campaign.check import CheckReport, run_check
from campaign.config import Project
from campaign.i18n import N_, _, format_moment
from campaign.ledger import Heartbeat, Ledger, StoredFate
from campaign.models import Fate, Story

#: The scheduler beats every 30 seconds; older than this, it is taken to be dead.
HEARTBEAT_STALE = timedelta(minutes=2)


#: A post's state as staff read it (the ledger keeps the English key).
STATE_LABELS = {
    "planned": N_("planned"),
    "held": N_("held for approval"),
    "publishing": N_("being posted"),
    "posted": N_("posted"),
    "failed": N_("failed"),
    "missed": N_("missed"),
    "needs_attention": N_("needs attention"),
    "withdrawn": N_("withdrawn"),
    "deleted": N_("deleted"),
    "delete_by_hand": N_("to delete by hand"),
}


def state_label(state: str) -> str:
    """`needs_attention` -> "needs attention", in the active language."""
    label = STATE_LABELS.get(state)
    return _(label) if label else state.replace("_", " ")


def state_count(state: str, n: int) -> str:
    """`3 posted` / `3 geplaatst`."""
    return _("{n} {state}").format(n=n, state=state_label(state))


def scheduler_alive(beat: Heartbeat | None, now: datetime) -> bool:
    if beat is None or now - beat.at > HEARTBEAT_STALE:
        return False
    if beat.host == os.uname().nodename:
        try:
            os.kill(beat.pid, 0)  # signal 0: does the process exist?
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


def status_report(project: Project, ledger: Ledger, now: datetime,
                  report: CheckReport | None = None,
                  clock: Callable[[], datetime] | None = None) -> dict[str, Any]:
    """SPEC §10 `status --json`: every post of the week, with the reason for any that is
    not going out, and every story file's fate (SPEC §11).

    The week is `run_check` with the ledger's facts: the plan `check` and `run` show.
    `clock` gives the time again for the heartbeat's age, after the week was read (a
    rehearsal's campaign clock moves hours in the second that takes).
    """
    settings = project.settings
    tz = settings.tz
    records = {r.key: r for r in ledger.posts()}
    report = report or run_check(project, now, facts=ledger.facts())
    stories = {s.id: s for s in report.stories}
    stored = {f.story_id: f for f in ledger.fates().values()}

    posts: list[dict[str, Any]] = []
    for post in report.plan.posts:
        record = records.pop(post.key, None)
        story = stories.get(post.story_id)
        held = _held(project, ledger, story)
        if record is not None:
            state = record.state
            if state == "planned" and held:
                state = "held"
            posts.append(_entry(record.story_id, record.platform, record.due or post.due, state,
                                record.remote_id, record.url, record.attempts, record.last_error,
                                tz, _(_HELD) if state == "held" else None))
            continue
        state = "held" if held else "planned"
        posts.append(_entry(post.story_id, post.platform, post.due, state, None, None, 0, None, tz,
                            _(_HELD) if held else None))
    # Posts the plan no longer has: withdrawn, invalid, removed, or now a reserve story.
    for record in records.values():
        fate = report.fate(record.story_id)
        reason = _left_the_plan(fate, stored.get(record.story_id), tz)
        state = record.state
        if state == "planned" and fate is not None and fate.kind != "withdrawn":
            state = "held"  # not going out unless the story comes back
        posts.append(_entry(record.story_id, record.platform, record.due, state,
                            record.remote_id, record.url, record.attempts, record.last_error, tz,
                            reason))
    posts.sort(key=lambda p: (p["due"] or "", p["platform"]))

    beat = ledger.heartbeat()
    if clock is not None:
        now = clock()
    return {
        "scheduler": {
            "alive": scheduler_alive(beat, now),
            "heartbeat": beat.at.astimezone(tz).isoformat() if beat else None,
            "heartbeat_age_seconds": round((now - beat.at).total_seconds()) if beat else None,
            "pid": beat.pid if beat else None,
            # A shared database (two machines): which `campaign run` posts, which stand by.
            **_machines(ledger),
        },
        "paused": ledger.is_paused(),
        "posts": posts,
        "stories": [_story_entry(f, stored.get(f.story_id), tz) for f in report.fates],
    }


def _machines(ledger: Ledger) -> dict[str, Any]:
    if not ledger.shared:
        return {"leader": None, "standby": []}
    running = ledger.schedulers()
    leader = ledger.leader()
    return {
        "leader": {"host": leader.host, "pid": leader.pid} if leader else None,
        "standby": [{"host": s.host, "pid": s.pid} for s in running
                    if leader is None or (s.host, s.pid) != (leader.host, leader.pid)],
    }


def machines_line(document: dict[str, Any]) -> str | None:
    """`status`'s line on a shared database: who posts and who stands by; None on a file."""
    scheduler = document["scheduler"]
    leader, standby = scheduler.get("leader"), scheduler.get("standby") or []
    if leader is None and not standby:
        return None
    waiting = ", ".join(_("{host} (pid {pid})").format(**s) for s in standby) or _("none")
    if leader is None:
        return _("no machine is posting now; standing by: {standby}").format(standby=waiting)
    return _("posting from {host} (pid {pid}); standing by: {standby}").format(
        host=leader["host"], pid=leader["pid"], standby=waiting)


_HELD = N_("this version of the story is not approved: run `campaign approve STORY --by NAME`")


def _left_the_plan(fate: Fate | None, stored: StoredFate | None, tz: Any) -> str | None:
    if fate is None:
        return _("the story file was removed from stories/")
    if fate.kind == "withdrawn":
        return _("consent withdrawn")
    if fate.kind == "invalid":
        if stored:
            return _("the story file has an error since {moment}: {reason}").format(
                moment=format_moment(stored.since.astimezone(tz)), reason=fate.reason)
        return _("the story file has an error: {reason}").format(reason=fate.reason)
    if fate.kind == "spare":
        return _("now a reserve story: {reason}").format(reason=fate.reason)
    if fate.kind == "ignored":
        return _("the file is not read: {reason}").format(reason=fate.reason)
    return None


def _story_entry(fate: Fate, stored: StoredFate | None, tz: Any) -> dict[str, Any]:
    return {
        "file": fate.file,
        "id": fate.story_id,
        "fate": fate.kind,
        "day": fate.day.isoformat() if fate.day else None,
        "reason": fate.reason,
        # Someone should look: an error, a reserve story, a file that looks like a story.
        "attention": fate.kind in ("spare", "invalid") or fate.severity is not None,
        "since": stored.since.astimezone(tz).isoformat()
        if stored is not None and stored.kind == fate.kind else None,
    }


def _held(project: Project, ledger: Ledger, story: Story | None) -> bool:
    if story is None or not project.settings.campaign.require_approval:
        return False
    return ledger.approval(story.id, story.content_hash) is None


def _entry(story: str, platform: str, due: datetime | None, state: str, remote_id: str | None,
           url: str | None, attempts: int, last_error: str | None, tz: Any,
           reason: str | None = None) -> dict[str, Any]:
    return {
        "story": story,
        "platform": platform,
        "due": due.astimezone(tz).isoformat() if due else None,
        "state": state,
        "remote_id": remote_id,
        "url": url,
        "attempts": attempts,
        "last_error": last_error,
        "reason": reason,
    }
