"""Plan the week: which story on which day, and each post's due time.

Pure: stories, settings and `now` go in, a `Plan` comes out; no clock, no files.

Rules (SPEC §3, §7, §11):
- a consent that expires before the campaign starts, or that was signed after
  today (a form cannot be signed in the future), is an error, dated or not;
- `pinned` days (from the ledger: stories a running scheduler has already
  planned or posted) come first and are kept, so a story dropped in mid-week
  never shifts another; a pinned story that is invalid for now keeps its day;
- then a story's explicit `day`; two stories on one day, or a day outside the
  campaign, is an error on the later file (or on the one that is not pinned);
- the other stories fill the free days in file-name order, each on the first
  free day on which its consent is valid and whose first post is not further
  in the past than the catch-up grace (so a reserve story never takes over a
  day that is already over); the rest are spares, each with the reason in
  plain words (which day it would have had, and which story took it);
- a day without a story is a warning;
- a story goes only to platforms that are enabled and within its consent;
- each due time is the local post time in the campaign's zone, kept as aware
  UTC (zoneinfo makes it DST-correct; a time in the spring-forward gap moves
  an hour later, as clocks do).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta

from campaign.config import CONFIG_FILE, Settings
from campaign.i18n import _, ngettext
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
    *,
    reserved: Mapping[date, str] | None = None,
) -> Plan:
    """The week. `pinned`: story id -> day from the ledger; `reserved`: days kept for
    pinned stories that are not in `stories` (invalid for now), day -> their file."""
    days = settings.days()
    problems: list[Problem] = []
    pinned = pinned or {}
    reserved = dict(reserved or {})
    today = now.astimezone(settings.tz).date()
    first = settings.campaign.start

    def error(story: Story, key: str, message: str, code: str) -> None:
        problems.append(Problem(story.file, story.lines.get(key), key, message, code=code))

    usable: list[Story] = []
    for story in stories:
        consent = story.consent
        if consent.expires is not None and consent.expires < first:
            error(story, "consent.expires",
                  _("the consent expires on {expires}, before the campaign starts "
                    "({start}): it is not posted; renew the consent (a new form, with its "
                    "date and reference) or take the story out").format(
                        expires=consent.expires, start=first), "consent.expired")
        elif consent.signed > today:
            error(story, "consent.signed",
                  _("{signed} is in the future (today is {today}): a consent form cannot "
                    "be signed in the future; write the date that is on the signed form").format(
                        signed=consent.signed, today=today), "consent.signed_in_future")
        else:
            usable.append(story)

    open_days = _open_days(settings, now)
    assigned, spares = _assign(usable, settings, pinned, reserved, error, open_days)
    spare_reasons = {
        story_id: _spare_reason(story_id, usable, settings, pinned, reserved, open_days)
        for story_id in spares
    }

    posts: list[Post] = []
    for day in days:
        if day not in assigned:
            if day in reserved:
                problems.append(Problem(
                    CONFIG_FILE, None, None,
                    _("{day} is kept for {file}, which has an error: fix that story, "
                      "or it is not posted and the day stays empty").format(
                          day=day, file=reserved[day]),
                    "warning", code="plan.day_kept_for_invalid_story",
                ))
                continue
            problems.append(Problem(
                CONFIG_FILE, None, None,
                _("{day} has no story: add a story with day: {day}, or add another story file")
                .format(day=day),
                "warning", code="plan.day_without_story",
            ))
            continue
        story = assigned[day]
        platforms = story_platforms(story, settings)
        if not platforms:
            problems.append(Problem(
                story.file, story.lines.get("consent.platforms"), "consent.platforms",
                _("the consent covers no enabled platform, so this story is not posted: "
                  "check consent.platforms against the platforms in campaign.toml"),
                "warning", code="consent.no_enabled_platform",
            ))
        for platform in platforms:
            due = due_time(day, settings.post_time(platform), settings)
            posts.append(Post(story_id=story.id, platform=platform, day=day, due=due))
    posts.sort(key=lambda p: (p.due, p.platform))
    past = [p for p in posts if p.due < now]
    if past and len(past) < len(posts) and not pinned:
        problems.append(Problem(
            CONFIG_FILE, None, None,
            ngettext("{n} post is already due (the first at {moment}): a running scheduler "
                     "posts it late only within the catch-up grace",
                     "{n} posts are already due (the first at {moment}): a running scheduler "
                     "posts them late only within the catch-up grace", len(past)).format(
                         n=len(past), moment=past[0].due.isoformat()),
            "warning", code="plan.posts_already_due",
        ))
    for story_id in spares:
        story = next(s for s in usable if s.id == story_id)
        problems.append(Problem(
            story.file, None, None,
            _("is a reserve story and is not posted: {reason}. To post it, "
              "give it a free day with day:, or take another story out").format(
                  reason=spare_reasons[story_id]),
            "warning", code="plan.reserve_story",
        ))
    return Plan(
        posts=tuple(posts),
        days={d: (assigned[d].id if d in assigned else None) for d in days},
        spares=tuple(spares),
        problems=tuple(problems),
        spare_reasons=spare_reasons,
    )


def _consent_message(story: Story, day: date, *, every_day: bool = False) -> str:
    consent = story.consent
    if consent.signed > day:
        if every_day:
            return _("consent was signed on {signed}, after every day of the campaign, e.g. "
                     "{day}: a story is only posted with consent signed before its day; "
                     "check the date on the form or choose a later day").format(
                         signed=consent.signed, day=day)
        return _("consent was signed on {signed}, after the story's day {day}: "
                 "a story is only posted with consent signed before its day; "
                 "check the date on the form or choose a later day").format(
                     signed=consent.signed, day=day)
    if every_day:
        return _("consent expires on {expires}, before every day of the campaign, e.g. {day}: "
                 "renew the consent or choose an earlier day").format(
                     expires=consent.expires, day=day)
    return _("consent expires on {expires}, before the story's day {day}: "
             "renew the consent or choose an earlier day").format(expires=consent.expires, day=day)


def _open_days(settings: Settings, now: datetime) -> set[date]:
    """The days a story without `day:` may still be given: those whose first post is not
    yet further in the past than the catch-up grace (before the week: every day)."""
    grace = timedelta(minutes=settings.campaign.catch_up_grace_minutes)
    times = [settings.post_time(p) for p in settings.enabled_platforms()] or [time(0)]
    return {d for d in settings.days() if due_time(d, min(times), settings) + grace > now}


def _assign(
    stories: Sequence[Story],
    settings: Settings,
    pinned: Mapping[str, date],
    reserved: Mapping[date, str],
    error: Callable[[Story, str, str, str], None],
    open_days: set[date],
) -> tuple[dict[date, Story], list[str]]:
    """Which story on which day, and the spares (see the module docstring for the order)."""
    days = settings.days()
    day_set = set(days)
    assigned: dict[date, Story] = {}

    def free_days() -> str:
        free = [d.isoformat() for d in days if d not in assigned and d not in reserved]
        if free:
            return _("free days: {days}").format(days=", ".join(free))
        return _("every day has a story")

    # Pinned stories first: the ledger already gave them their day.
    waiting: list[Story] = []
    dated: list[Story] = []
    for story in stories:
        day = pinned.get(story.id)
        if (day is not None and story.day in (None, day) and day in day_set
                and day not in assigned and story.consent.valid_on(day)):
            assigned[day] = story
            continue
        (dated if story.day is not None else waiting).append(story)
    for story in dated:
        wanted = story.day
        assert wanted is not None
        if wanted not in day_set:
            error(story, "day", _("{day} is outside the campaign ({start} to {end}): "
                                  "choose a day within it, or remove day: to let the planner "
                                  "choose").format(day=wanted, start=settings.campaign.start,
                                                   end=settings.campaign.end),
                  "day.outside_campaign")
        elif wanted in assigned or wanted in reserved:
            holder = assigned[wanted].file if wanted in assigned else reserved[wanted]
            error(story, "day", _("{day} already has a story ({holder}): choose another day "
                                  "({free}), or remove day: to let the planner choose").format(
                                      day=wanted, holder=holder, free=free_days()),
                  "day.taken")
        elif not story.consent.valid_on(wanted):
            key = "consent.signed" if story.consent.signed > wanted else "consent.expires"
            error(story, key, _consent_message(story, wanted),
                  "consent.signed_after_day" if key == "consent.signed"
                  else "consent.expires_before_day")
        else:
            assigned[wanted] = story

    spares: list[str] = []
    for story in waiting:
        if not any(story.consent.valid_on(d) for d in days):
            key = "consent.signed" if story.consent.signed > days[-1] else "consent.expires"
            error(story, key, _consent_message(story, days[0], every_day=True),
                  "consent.signed_after_campaign" if key == "consent.signed"
                  else "consent.expires_before_campaign")
            continue
        valid = [d for d in days if d not in assigned and d not in reserved
                 and d in open_days and story.consent.valid_on(d)]
        if valid:
            assigned[valid[0]] = story
        else:
            spares.append(story.id)
    return assigned, spares


def _spare_reason(story_id: str, stories: Sequence[Story], settings: Settings,
                  pinned: Mapping[str, date], reserved: Mapping[date, str],
                  open_days: set[date]) -> str:
    """Why a story is a spare, in plain words: which day it lost, and to which story.

    Tries the week without each story later in file-name order that asks for its
    own day (the latest first): the first without which this story has a day took it.
    """
    def ignore(_story: Story, _key: str, _message: str, _code: str) -> None:
        return None

    days = settings.days()
    ids = [s.id for s in stories]
    later = ids[ids.index(story_id) + 1:] if story_id in ids else []
    dated = [s for s in stories if s.day is not None and s.id in later
             and pinned.get(s.id) != s.day]
    for other in reversed(dated):
        assigned, _spares = _assign([s for s in stories if s is not other], settings, pinned,
                                    reserved, ignore, open_days)
        lost = next((d for d, s in assigned.items() if s.id == story_id), None)
        if lost is not None:
            return _("every day has a story; without {other}, which asks for {day} "
                     "with day:, it would have been posted on {lost}").format(
                         other=other.id, day=other.day, lost=lost)
    taken = [s for s in stories if s.day is not None or s.id in pinned]
    count = _("there are {stories} stories for the {days} days").format(
        stories=len(stories), days=len(days))
    past = [d for d in days if d not in open_days and not any(
        s.day == d or pinned.get(s.id) == d for s in stories)]
    if past:
        count = ngettext("{count} and {days} is over", "{count} and {days} are over",
                         len(past)).format(count=count,
                                           days=", ".join(d.isoformat() for d in past))
    if taken:
        names = ", ".join(f"{s.id} ({s.day or pinned.get(s.id)})" for s in taken)
        return _("every day has a story: {count}; {names} have their day, and the other days "
                 "go to the stories without day: in file-name order").format(
                     count=count, names=names)
    return _("every day has a story: {count}, and the days go to the stories in file-name "
             "order").format(count=count)
