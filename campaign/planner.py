"""Plan the week: which story on which day, and each post's due time.

Pure: stories, settings and `now` go in, a `Plan` comes out; no clock, no files.

Rules (SPEC §3, §7):
- a story's explicit `day` wins; two stories on one day, or a day outside the
  campaign, is an error on the later file;
- `pinned` days (from the ledger, for stories already posted or planned by a
  running scheduler) come next, so a story dropped in mid-week never shifts
  the others;
- the other stories fill the free days in file-name order, each on the first
  free day on which its consent is valid; the rest are spares;
- a day without a story is a warning;
- a story goes only to platforms that are enabled and within its consent;
- each due time is the local post time in the campaign's zone, kept as aware
  UTC (zoneinfo makes it DST-correct; a time in the spring-forward gap moves
  an hour later, as clocks do).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time

from campaign.config import CONFIG_FILE, Settings
from campaign.models import Plan, Platform, Post, Problem, Story


def due_time(day: date, local: time, settings: Settings) -> datetime:
    """The aware UTC instant of a local wall-clock time on a campaign day."""
    aware = datetime.combine(day, local, tzinfo=settings.tz)
    # Round-trip through UTC so a time in the DST gap becomes the real instant.
    return aware.astimezone(UTC)


def story_platforms(story: Story, settings: Settings) -> list[Platform]:
    enabled = settings.enabled_platforms()
    if story.consent.platforms is None:
        return enabled
    return [p for p in enabled if p in story.consent.platforms]


def build_plan(
    stories: Sequence[Story],
    settings: Settings,
    now: datetime,
    pinned: Mapping[str, date] | None = None,
) -> Plan:
    days = settings.days()
    day_set = set(days)
    assigned: dict[date, Story] = {}
    problems: list[Problem] = []
    pinned = pinned or {}

    def error(story: Story, key: str, message: str) -> None:
        problems.append(Problem(story.file, story.lines.get(key), key, message))

    def consent_message(story: Story, day: date) -> str:
        consent = story.consent
        if consent.signed > day:
            return (f"consent was signed on {consent.signed}, after the story's day {day}: "
                    "a story is only posted with consent signed before its day; "
                    "check the date on the form or choose a later day")
        return (f"consent expires on {consent.expires}, before the story's day {day}: "
                "renew the consent or choose an earlier day")

    waiting: list[Story] = []
    for story in stories:
        wanted = story.day or pinned.get(story.id)
        if wanted is None:
            waiting.append(story)
            continue
        if wanted not in day_set:
            error(story, "day", f"{wanted} is outside the campaign "
                  f"({settings.campaign.start} to {settings.campaign.end}): "
                  "choose a day within it, or remove day: to let the planner choose")
        elif wanted in assigned:
            error(story, "day", f"{wanted} already has a story ({assigned[wanted].file}): "
                  "choose another day, or remove day: to let the planner choose")
        elif not story.consent.valid_on(wanted):
            key = "consent.signed" if story.consent.signed > wanted else "consent.expires"
            error(story, key, consent_message(story, wanted))
        else:
            assigned[wanted] = story

    spares: list[str] = []
    for story in waiting:
        free = [d for d in days if d not in assigned]
        if not free:
            spares.append(story.id)
            continue
        valid = [d for d in free if story.consent.valid_on(d)]
        if valid:
            assigned[valid[0]] = story
        else:
            key = "consent.signed" if story.consent.signed > free[-1] else "consent.expires"
            error(story, key, consent_message(story, free[0])
                  .replace("the story's day", "every free day of the campaign, e.g."))

    posts: list[Post] = []
    for day in days:
        if day not in assigned:
            problems.append(Problem(
                CONFIG_FILE, None, None,
                f"{day} has no story: add a story with day: {day}, or add another story file",
                "warning",
            ))
            continue
        story = assigned[day]
        platforms = story_platforms(story, settings)
        if not platforms:
            problems.append(Problem(
                story.file, story.lines.get("consent.platforms"), "consent.platforms",
                "the consent covers no enabled platform, so this story is not posted: "
                "check consent.platforms against the platforms in campaign.toml",
                "warning",
            ))
        for platform in platforms:
            due = due_time(day, settings.post_time(platform), settings)
            posts.append(Post(story_id=story.id, platform=platform, day=day, due=due))
    posts.sort(key=lambda p: (p.due, p.platform))
    past = [p for p in posts if p.due < now]
    if past and len(past) < len(posts):
        problems.append(Problem(
            CONFIG_FILE, None, None,
            f"{len(past)} post(s) are already due (the first at {past[0].due.isoformat()}): "
            "a running scheduler posts them late only within the catch-up grace",
            "warning",
        ))
    return Plan(
        posts=tuple(posts),
        days={d: (assigned[d].id if d in assigned else None) for d in days},
        spares=tuple(spares),
        problems=tuple(problems),
    )
