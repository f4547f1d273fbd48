"""`campaign status`: every post's state, from the ledger and the plan, and the scheduler's pulse.

The ledger is the source of truth for posts it knows; planned posts it does
not know yet are shown as *planned*, or *held* when `require_approval` is on
and the story's current version is not approved (an edit after approval
holds it again).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from campaign.check import run_check
from campaign.config import Project
from campaign.ledger import Heartbeat, Ledger
from campaign.models import Story
from campaign.planner import build_plan

#: The scheduler beats every 30 seconds; older than this, it is taken to be dead.
HEARTBEAT_STALE = timedelta(minutes=2)


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


def status_report(project: Project, ledger: Ledger, now: datetime) -> dict[str, Any]:
    """SPEC §10 `status --json`."""
    settings = project.settings
    tz = settings.tz
    records = {r.key: r for r in ledger.posts()}
    report = run_check(project, now)
    pinned = {r.story_id: datetime.fromisoformat(r.day).date() for r in records.values() if r.day}
    plan = build_plan(report.stories, settings, now, pinned=pinned)
    stories = {s.id: s for s in report.stories}
    withdrawn = ledger.withdrawn_stories()

    posts: list[dict[str, Any]] = []
    for post in plan.posts:
        record = records.pop(post.key, None)
        if record is not None:
            state = record.state
            if state == "planned" and _held(project, ledger, stories.get(post.story_id)):
                state = "held"
            posts.append(_entry(record.story_id, record.platform, record.due or post.due, state,
                                record.remote_id, record.url, record.attempts, record.last_error,
                                tz))
            continue
        if post.story_id in withdrawn:
            continue
        state = "held" if _held(project, ledger, stories.get(post.story_id)) else "planned"
        posts.append(_entry(post.story_id, post.platform, post.due, state, None, None, 0, None, tz))
    for record in records.values():  # posts the plan no longer has (withdrawn, removed files)
        posts.append(_entry(record.story_id, record.platform, record.due, record.state,
                            record.remote_id, record.url, record.attempts, record.last_error, tz))
    posts.sort(key=lambda p: (p["due"] or "", p["platform"]))

    beat = ledger.heartbeat()
    return {
        "scheduler": {
            "alive": scheduler_alive(beat, now),
            "heartbeat": beat.at.astimezone(tz).isoformat() if beat else None,
            "heartbeat_age_seconds": round((now - beat.at).total_seconds()) if beat else None,
            "pid": beat.pid if beat else None,
        },
        "paused": ledger.is_paused(),
        "posts": posts,
    }


def _held(project: Project, ledger: Ledger, story: Story | None) -> bool:
    if story is None or not project.settings.campaign.require_approval:
        return False
    return ledger.approval(story.id, story.content_hash) is None


def _entry(story: str, platform: str, due: datetime | None, state: str, remote_id: str | None,
           url: str | None, attempts: int, last_error: str | None, tz: Any) -> dict[str, Any]:
    return {
        "story": story,
        "platform": platform,
        "due": due.astimezone(tz).isoformat() if due else None,
        "state": state,
        "remote_id": remote_id,
        "url": url,
        "attempts": attempts,
        "last_error": last_error,
    }
