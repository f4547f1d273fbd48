"""The one publish path, used by `campaign post` and by the scheduler, and its companions:
reconciling posts whose outcome is unknown, and withdrawing a story.

For one (story, platform), `publish_post`:

1. refuses if posting is paused, the story was withdrawn, or the post is
   already posted (whatever happened on other platforms);
2. re-reads the story file (the latest valid file wins) and refuses if it is
   invalid, if its consent is not valid today or does not cover the platform,
   or, with `require_approval`, if this version is not approved (the post is
   then *held*);
3. composes the caption and renders the card;
4. commits *publishing* to the ledger, durably, before the request;
5. calls the publisher and commits the outcome: *posted*; *failed* (rejected);
   back to *planned* with a retry time (retryable); or, when the outcome is
   unknown, reconciles at once: look the post up on the platform; found is
   *posted*, proven absent is *planned* again, undecidable is
   *needs_attention*, never a blind second post.

A post found in *publishing* at start-up (a crash mid-way) goes through the
same reconciliation before anything else is sent.
"""

from __future__ import annotations

import html
import os
import re
import signal
import sys
import zlib
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import requests

from campaign.captions import compose_alt_text, compose_caption
from campaign.cards import card_format, photo_cache_dir, render_card
from campaign.config import Project
from campaign.errors import (
    CampaignError,
    OutcomeUnknown,
    PostRefused,
    PostRejected,
    PostRetryable,
    PublishError,
)
from campaign.guard import run_bounded
from campaign.i18n import _, format_day, format_moment, ngettext
from campaign.ledger import Ledger, PostRecord, publish_lock
from campaign.models import CARD_SIZES, PLATFORMS, Platform, Post, Story, post_key
from campaign.planner import story_platforms
from campaign.platforms import SPECS
from campaign.publishers import make_publisher
from campaign.publishers.base import DeleteByHand, Publisher, PublishRequest, RecentPost
from campaign.secrets import redact
from campaign.status import state_label
from campaign.stories import read_story
from campaign.storyfiles import StoryReading, find_story_file, unknown_story

# How far back a lookup looks before the claim time, for clocks that disagree.
_LOOKUP_SLACK = timedelta(minutes=10)
# How many recent posts a lookup asks for; fewer back means the list holds them all.
_LOOKUP_LIMIT = 50
# Retries of one post are spaced at least this far apart when the platform gives no time.
_BACKOFF_BASE = timedelta(seconds=30)
_BACKOFF_MAX = timedelta(minutes=30)


def crash_point(name: str) -> None:
    """Tests kill the process here, for real (SIGKILL), to prove the ledger survives it.

    Set CAMPAIGN_CRASH_AT to a point's name; nothing happens otherwise.
    """
    if os.environ.get("CAMPAIGN_CRASH_AT") == name:
        sys.stderr.write(f"crash point {name}: killing this process\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Outcome:
    """What happened to one post, for the command line, the scheduler and alerts."""

    story_id: str
    platform: Platform
    state: str
    message: str
    remote_id: str | None = None
    url: str | None = None
    retry_at: datetime | None = None
    would_be_held: bool = False
    alert: str | None = None  # text of an alert to send, when a human should know

    @property
    def key(self) -> str:
        return f"{self.story_id}/{self.platform}"


@dataclass
class Publishing:
    """What the publish path works with; built once per command or scheduler run."""

    project: Project
    ledger: Ledger
    session: requests.Session = field(default_factory=requests.Session)
    env: Mapping[str, str] | None = None
    rehearsal: bool = False  # post unapproved stories anyway, marked "would be held"
    # Extra constructor arguments per platform, e.g. {"instagram": {"poll_interval": 0.05}};
    # a rehearsal without them uses each platform's `rehearsal_options` (platforms.py).
    publisher_options: dict[str, dict[str, object]] = field(default_factory=dict)
    make: Callable[..., Publisher] = make_publisher
    # Campaign time -> the platforms' clock. The identity for the real week; a rehearsal's
    # compressed clock maps its campaign time back to the wall clock the sandbox stamps.
    platform_time: Callable[[datetime], datetime] = lambda moment: moment
    # (platform, remote id) -> the link recorded for a post; None: the platform's own.
    # A rehearsal points at its saved feed pages instead of x.com and bsky.app.
    link: Callable[[str, str], str] | None = None
    # Campaign time, read when a platform's answer comes back (the scheduler's clock): a
    # retry's wait then counts from the failure, not from when the attempt began, which a
    # slow upload, or a rehearsal's compressed clock (25 ms there are six minutes), would
    # eat into. None: the failure is taken to be at the attempt's `now`.
    clock: Callable[[], datetime] | None = None
    _publishers: dict[str, Publisher] = field(default_factory=dict)

    def use(self, project: Project) -> None:
        """Switch to new settings (campaign.toml changed): publishers are built anew from them."""
        self.project = project
        self._publishers.clear()

    def publisher(self, platform: Platform) -> Publisher:
        if platform not in self._publishers:
            options = self.publisher_options.get(
                platform, dict(SPECS[platform].rehearsal_options) if self.rehearsal else {})
            self._publishers[platform] = self.make(
                platform, self.project.settings, self.session, self.env, **options
            )
        return self._publishers[platform]


def local_day(now: datetime, project: Project) -> date:
    return now.astimezone(project.settings.tz).date()


def end_of_day(day: date, project: Project) -> datetime:
    """The deadline of a post: the end of its local day, as aware UTC."""
    tz = project.settings.tz
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz).astimezone(UTC)


def _story(project: Project, story_id: str) -> Story:
    reading = read_story_bounded(project, story_id)
    if reading.story is None:
        problems = "; ".join(p.format() for p in reading.errors)
        raise PostRefused(_("{story}: the story file is not valid, so it is not posted: "
                            "{problems}").format(story=story_id, problems=problems))
    return reading.story


@cache
def warm_up() -> None:
    """Load now what the first post would otherwise load when it is due: commands import
    these on first use (issue 19), but a scheduler must not spend a post's moment on
    twitter-text's regular expressions, markdown-it or Pillow's drawing (the emoji data
    is loaded when the plan has a story that needs it: `counting.prepare_for`).
    Once per process: `run` and the rehearsal call it before a standby waits for the lead,
    and `Scheduler.prepare` again for a scheduler made without them."""
    from campaign import counting, i18n
    from campaign.captions import hashtags_in, markdown_to_text
    from campaign.cards import draw, photo, plan  # noqa: F401

    counting.load()
    markdown_to_text("warm")
    # First uses that build something kept for good (the counting patterns, the day and
    # month names of the messages' language): a few milliseconds each, better spent here
    # than at the first post's moment.
    sample = "warm 🙂 #up https://example.org/x"
    hashtags_in(sample)
    for platform in PLATFORMS:
        counting.caption_length(sample, platform)
    i18n.format_moment(datetime.now(UTC))
    i18n.format_short_day(datetime.now(UTC).date())
    i18n.format_number(1234.5)


def read_story_bounded(project: Project, story_id: str) -> StoryReading:
    """The latest version of a story, read within the story budget (`guard.py`), so that
    a file swapped for something hostile just before its post cannot stop the scheduler.
    PostRefused when there is no such story, or it cannot be read in time."""
    path = find_story_file(project, story_id)
    if path is None:
        raise PostRefused(f"{story_id}: {unknown_story(project, story_id)}")
    try:
        return run_bounded(read_story, path, project)
    except Exception as exc:
        raise PostRefused(_("{story}: the story file could not be read ({error}), so it is "
                            "not posted: run `campaign check` to see what is wrong").format(
                                story=story_id, error=exc)) from None


def publish_post(ctx: Publishing, story_id: str, platform: Platform, now: datetime, *,
                 post: Post | None = None, reopen_by: str | None = None) -> Outcome:
    """Publish one post now, exactly once. See the module docstring for the steps.

    `reopen_by` names a human who asks to post a *failed* or *missed* post again
    (`campaign post`); such a post is known not to exist on the platform. The
    scheduler never reopens a post by itself.

    Holds the ledger's publish lock of the platform throughout, so that no other process
    (or thread) decides, claims or sends a post to that platform at the same time.
    """
    with publish_lock(ctx.ledger, platform=platform):
        if reopen_by is not None:
            ctx.ledger.set_state(story_id, platform, "planned", now, event="reopened",
                                 actor=reopen_by, expect=("failed", "missed"))
        return _publish_post(ctx, story_id, platform, now, post)


def _publish_post(ctx: Publishing, story_id: str, platform: Platform, now: datetime,
                  post: Post | None) -> Outcome:
    project, ledger = ctx.project, ctx.ledger
    if ledger.is_paused():
        raise PostRefused(_("posting is paused: run `campaign resume` to post again"))
    if ledger.is_withdrawn(story_id):
        raise PostRefused(_("{story}: consent was withdrawn: this story is never posted "
                            "again").format(story=story_id))

    existing = ledger.post(story_id, platform)
    if existing is not None and existing.state == "publishing":
        # A crash or an unknown outcome: decide it first. Only a post proven absent goes on.
        decided = reconcile(ctx, existing, now)
        if decided.state != "planned":
            return decided
        existing = ledger.post(story_id, platform)
    if existing is not None and existing.state == "posted":
        return Outcome(story_id, platform, "posted", _("already posted; not sent again"),
                       existing.remote_id, existing.url)
    if existing is not None and existing.state in ("needs_attention", "withdrawn", "deleted",
                                                   "delete_by_hand"):
        if existing.state == "needs_attention":
            refusal = _("{story} on {platform} needs attention: check the account on the "
                        "platform by hand; campaign does not know whether it was posted")
        else:
            refusal = _("{story} on {platform} is {state}: it is not posted again")
        raise PostRefused(refusal.format(story=story_id, platform=platform,
                                         state=state_label(existing.state)))

    story = _story(project, story_id)
    settings = project.settings
    if platform not in settings.enabled_platforms():
        raise PostRefused(_("{platform} is not enabled in campaign.toml: enable it "
                            "first").format(platform=platform))
    if platform not in story_platforms(story, settings):
        raise PostRefused(_("{story}: the consent ({reference}) does not cover {platform}: "
                            "it is not posted there").format(
                                story=story_id, reference=story.consent.reference,
                                platform=platform))
    today = local_day(now, project)
    if not story.consent.valid_on(today):
        raise PostRefused(_("{story}: the consent ({reference}) is not valid today ({day}): "
                            "renew it before posting").format(
                                story=story_id, reference=story.consent.reference,
                                day=format_day(today)))

    day = post.day if post else (story.day or today)
    due = post.due if post else now
    ledger.ensure_post(story_id, platform, day.isoformat(), due, now)

    would_be_held = False
    if settings.campaign.require_approval and ledger.approval(story_id, story.content_hash) is None:
        if not ctx.rehearsal:
            edited = ledger.ever_approved(story_id)
            ledger.set_state(story_id, platform, "held", now, expect=("planned", "held"),
                             error=_("this version is not approved"))
            if edited:
                held = _("{story}: held: the story was edited after approval; this version "
                         "is not approved: run `campaign approve {story} --by NAME`")
            else:
                held = _("{story}: held: this version is not approved: run "
                         "`campaign approve {story} --by NAME`")
            raise PostRefused(held.format(story=story_id))
        would_be_held = True
    if ledger.shared:
        _another_version(ledger, story, platform, now)

    caption = compose_caption(story, platform, settings)
    card = render_card(story, card_format(platform, settings), project,
                       alt_text=compose_alt_text(story, platform, settings))
    request = PublishRequest(
        story_id=story_id, post_key=post_key(story_id, platform), card_path=card.path,
        caption=caption.text, alt_text=card.alt_text, card_width=card.width,
        card_height=card.height, facets=caption.facets, language=settings.campaign.language,
    )
    publisher = ctx.publisher(platform)  # before the claim: a missing secret changes nothing

    crash_point("before_claim")
    if not ledger.claim(story_id, platform, story.content_hash, caption.text, now):
        current = ledger.post(story_id, platform)
        state = current.state if current else "unknown"
        return Outcome(story_id, platform, state,
                       _("another campaign process is posting this post, or it is {state}: "
                         "not sent").format(state=state_label(state)))
    crash_point("after_claim")
    try:
        published = publisher.publish(request)
    except OutcomeUnknown as exc:
        ledger.set_state(story_id, platform, "publishing", now, error=str(exc),
                         outcome_unknown=True, event="outcome_unknown")
        record = ledger.post(story_id, platform)
        assert record is not None
        return reconcile(ctx, record, now)
    except PostRetryable as exc:
        return _retry_later(ctx, story_id, platform, day, now, exc)
    except PostRejected as exc:
        ledger.set_state(story_id, platform, "failed", now, error=str(exc), event="rejected")
        return Outcome(story_id, platform, "failed", str(exc),
                       alert=_("{story} on {platform} failed and will not be retried: "
                               "{error}").format(story=story_id, platform=platform, error=exc))
    except CampaignError:
        raise
    except Exception as exc:  # a bug of ours: the request may have gone out
        ledger.set_state(story_id, platform, "publishing", now, outcome_unknown=True,
                         error=_("internal error while publishing: {kind}: {error}").format(
                             kind=type(exc).__name__, error=exc))
        raise
    crash_point("after_publish")
    url = ctx.link(platform, published.remote_id) if ctx.link is not None else published.url
    ledger.set_state(story_id, platform, "posted", now, remote_id=published.remote_id,
                     url=url, expect=("publishing",),
                     event="posted_would_be_held" if would_be_held else "posted")
    return Outcome(story_id, platform, "posted",
                   _("posted (would be held: not approved)") if would_be_held else _("posted"),
                   published.remote_id, url, would_be_held=would_be_held)


def _another_version(ledger: Ledger, story: Story, platform: Platform, now: datetime) -> None:
    """Two machines (SPEC §15) whose copies of a story file differ: the version this one is
    about to send is not the one the ledger records as sent to the story's other platforms.
    It still goes out only if approved (as always), but never without a word: an alert,
    once per version."""
    other = sorted(r.platform for r in ledger.posts(story.id)
                   if r.platform != platform and r.content_hash
                   and r.content_hash != story.content_hash
                   and r.state in ("publishing", "posted", "needs_attention"))
    if other:
        ledger.add_alert(f"versions:{story.id}:{story.content_hash[:12]}", _(
            "{story}: this machine ({host}) has another version of the story file "
            "({version}) than the one already sent to {platforms}: check that every machine "
            "has the same stories folder").format(
                story=story.id, host=os.uname().nodename, version=story.content_hash[:12],
                platforms=", ".join(other)), now)


def _retry_later(ctx: Publishing, story_id: str, platform: Platform, day: date, now: datetime,
                 exc: PostRetryable) -> Outcome:
    ledger = ctx.ledger
    if ctx.clock is not None:
        now = max(now, ctx.clock())  # when the failure came back: the wait counts from it
    record = ledger.post(story_id, platform)
    attempts = record.attempts if record else 1
    retry_at = retry_time(attempts, now, exc.reset_at, key=post_key(story_id, platform))
    deadline = end_of_day(day, ctx.project)
    if retry_at >= deadline:
        ledger.set_state(story_id, platform, "failed", now, error=str(exc), event="gave_up")
        return Outcome(story_id, platform, "failed",
                       _("{error}; no time left today to retry").format(error=exc),
                       alert=ngettext(
                           "{story} on {platform} failed: {error}; tried again {n} time until "
                           "the end of its day",
                           "{story} on {platform} failed: {error}; tried again {n} times until "
                           "the end of its day", attempts).format(
                               story=story_id, platform=platform, error=exc, n=attempts))
    ledger.set_state(story_id, platform, "planned", now, error=str(exc), next_attempt=retry_at,
                     event="retry")
    return Outcome(story_id, platform, "planned", _("{error}; retrying at {moment}").format(
                       error=exc, moment=format_moment(retry_at.astimezone(ctx.project.settings.tz))),
                   retry_at=retry_at)


def retry_time(attempts: int, now: datetime, reset_at: datetime | None, *, key: str = "") -> datetime:
    """Exponential backoff with jitter, never before the platform's reset time.

    The jitter is derived from the post's key and attempt, so it spreads posts
    apart without making the schedule unrepeatable in tests.
    """
    factor: int = 2 ** max(attempts - 1, 0)
    backoff = min(_BACKOFF_BASE * factor, _BACKOFF_MAX)
    spread = zlib.crc32(f"{key}#{attempts}".encode()) % 1000 / 1000  # 0..1, same every run
    jitter = spread * backoff.total_seconds() * 0.25
    moment = now + backoff + timedelta(seconds=jitter)
    if reset_at is not None and reset_at > moment:
        moment = reset_at + timedelta(seconds=1)
    return moment


# -- reconcile ---------------------------------------------------------------------

_URL = re.compile(r"https?://\S+")
_TAGS = re.compile(r"<[^>]+>")


def fingerprint(text: str) -> str:
    """A caption as a platform may echo it back: without HTML, links, escapes and spacing.

    Mastodon returns HTML, X shortens links, LinkedIn keeps its little-text
    escapes: compare only the words, their first 120 letters and digits.
    """
    text = html.unescape(_TAGS.sub(" ", text))
    text = _URL.sub(" ", text).replace("\\", "")
    return "".join(ch for ch in text.casefold() if ch.isalnum())[:120]


def find_post(recent: list[RecentPost], caption: str, since: datetime) -> RecentPost | None:
    wanted = fingerprint(caption)
    for candidate in recent:
        if candidate.created_at is not None and candidate.created_at < since:
            continue
        # A platform may cut or reformat the text: one fingerprint must begin the other,
        # over at least 20 letters (or the whole caption when it is shorter).
        short, long = sorted((fingerprint(candidate.text), wanted), key=len)
        if short and len(short) >= min(20, len(wanted)) and long.startswith(short):
            return candidate
    return None


def reconcile(ctx: Publishing, record: PostRecord, now: datetime) -> Outcome:
    """Decide a post left in *publishing*: look it up on the platform, never post blindly."""
    ledger = ctx.ledger
    story_id, platform = record.story_id, record.platform
    claimed = ctx.platform_time(record.claimed_at or record.updated_at)
    since = claimed - _LOOKUP_SLACK
    try:
        publisher = ctx.publisher(platform)
        recent = publisher.recent_posts(since=since, limit=_LOOKUP_LIMIT)
    except PostRetryable as exc:
        return Outcome(story_id, platform, "publishing",
                       _("not known whether it was posted; looking it up on the platform "
                         "failed for now ({error}); campaign looks again").format(error=exc))
    except PublishError as exc:
        return _needs_attention(ctx, record, now, _("the platform refused to show its recent "
                                                    "posts: {error}").format(error=exc))
    found = find_post(recent, record.caption or "", since)
    if found is not None:
        url = ctx.link(platform, found.remote_id) if ctx.link is not None else found.url
        ledger.set_state(story_id, platform, "posted", now, remote_id=found.remote_id,
                         url=url, expect=("publishing",), event="reconciled_posted")
        return Outcome(story_id, platform, "posted",
                       _("found on the platform after an unknown outcome; not sent again"),
                       found.remote_id, url)
    # Absent is proven only when the lookup reached back past the claim: the list is
    # shorter than asked (it holds everything since) or its oldest post is older.
    oldest = min((p.created_at for p in recent if p.created_at), default=None)
    complete = len(recent) < _LOOKUP_LIMIT or (oldest is not None and oldest < since)
    if not complete:
        return _needs_attention(ctx, record, now,
                                _("the platform's list of recent posts did not reach back "
                                  "far enough"))
    ledger.set_state(story_id, platform, "planned", now, expect=("publishing",),
                     error=_("not found on the platform after an unknown outcome; "
                             "campaign tries again"),
                     next_attempt=now, event="reconciled_absent")
    return Outcome(story_id, platform, "planned",
                   _("not found on the platform: safe to post again"), retry_at=now)


def _needs_attention(ctx: Publishing, record: PostRecord, now: datetime, why: str) -> Outcome:
    ctx.ledger.set_state(record.story_id, record.platform, "needs_attention", now,
                         error=_("not known whether it was posted, and {why}").format(why=why),
                         expect=("publishing",))
    text = _("{story} on {platform} needs attention: it may or may not have been posted "
             "({why}). Check the account by hand; campaign will not post it again by "
             "itself.").format(story=record.story_id, platform=record.platform, why=why)
    return Outcome(record.story_id, record.platform, "needs_attention", text,
                   alert=text)


def reconcile_all(ctx: Publishing, now: datetime) -> list[Outcome]:
    """At start-up: every post left in *publishing* is decided before anything is sent."""
    with publish_lock(ctx.ledger):
        return [reconcile(ctx, r, now) for r in ctx.ledger.posts() if r.state == "publishing"]


# -- withdraw ----------------------------------------------------------------------

@dataclass
class WithdrawReport:
    story_id: str
    cancelled: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    by_hand: list[tuple[str, str | None]] = field(default_factory=list)  # platform, url
    failed: list[tuple[str, str]] = field(default_factory=list)  # platform, error
    removed_files: int = 0

    def text(self) -> str:
        """The alert a human gets: what was done, and what is left for them to do."""
        lines = [_("{story}: consent withdrawn; it will never be posted again.").format(
            story=self.story_id)]
        if self.cancelled:
            lines.append(_("Cancelled before posting: {platforms}.").format(
                platforms=", ".join(self.cancelled)))
        if self.deleted:
            lines.append(_("Deleted: {platforms}.").format(platforms=", ".join(self.deleted)))
        for platform, url in self.by_hand:
            if url:
                lines.append(_("DELETE BY HAND on {platform}: {url}").format(
                    platform=platform, url=url))
            else:
                lines.append(_("DELETE BY HAND on {platform}: find the post on the "
                               "account").format(platform=platform))
        for platform, error in self.failed:
            lines.append(_("NOT DELETED on {platform} ({error}): run "
                           "`campaign withdraw {story}` again").format(
                               platform=platform, error=error, story=self.story_id))
        return "\n".join(lines)


def withdraw_story(ctx: Publishing, story_id: str, by: str | None, now: datetime) -> WithdrawReport:
    """Consent withdrawn: cancel pending posts, delete published ones where the API allows,
    remove cached cards, and never post this story again."""
    ledger = ctx.ledger
    ledger.withdraw(story_id, by, now)  # first: no publish starts after this line
    with publish_lock(ledger):
        report = _withdraw_posts(ctx, story_id, by, now)
    report.removed_files += remove_story_files(ctx.project, story_id, ledger, now)
    return report


def remove_story_files(project: Project, story_id: str, ledger: Ledger, now: datetime) -> int:
    """A withdrawn story vanishes from every card folder and page (SPEC, patient data):
    its cards (and their cache notes) and cropped photos in the build folder and in every
    rehearsal's, the preview written again without it, and the saved feeds of rehearsals
    that showed it.
    Returns how many files went."""
    import shutil

    from campaign.check import run_check
    from campaign.preview import write_preview

    names = {f"{story_id}-{fmt}{suffix}" for fmt in CARD_SIZES for suffix in (".jpg", ".png", ".json")}
    builds = [project.build_dir]
    rehearsals = project.root / "state" / "rehearsals"
    workdirs = sorted(p for p in rehearsals.iterdir() if p.is_dir()) if rehearsals.is_dir() else []
    builds += [w / "build" for w in workdirs]
    removed = 0
    for build in builds:
        note = build / "cache" / "check" / f"{story_id}.json"  # what checking it found
        if note.is_file():
            note.unlink()
            removed += 1
        for folder in (build / "cards", build / "preview" / "cards"):
            for name in names:
                if (folder / name).is_file():
                    (folder / name).unlink()
                    removed += 1
        photos = photo_cache_dir(build, story_id)  # its cropped photos and the faces in them
        if photos.is_dir():
            removed += sum(1 for f in photos.rglob("*") if f.is_file())
            shutil.rmtree(photos, ignore_errors=True)
    title = None
    path = find_story_file(project, story_id)
    if path is not None:
        with suppress(Exception):
            reading = run_bounded(read_story, path, project)
            title = reading.story.title if reading.story else None
    for workdir in workdirs:
        feeds = workdir / "feeds"
        if title and feeds.is_dir() and any(
            html.escape(title) in page.read_text(encoding="utf-8", errors="replace")
            for page in feeds.glob("*.html")
        ):
            removed += sum(1 for _ in feeds.rglob("*") if _.is_file())
            shutil.rmtree(feeds, ignore_errors=True)
    page = project.build_dir / "preview" / "index.html"
    if page.is_file():  # written again without the story; its cards go with it
        write_preview(run_check(project, now, facts=ledger.facts()), now)
    removed += _remove_from_reports(project, story_id, ledger, now, builds)
    return removed


def _remove_from_reports(project: Project, story_id: str, ledger: Ledger, now: datetime,
                         builds: list[Path]) -> int:
    """The story's numbers left the ledger with the withdrawal: the real report is written
    again without it (a rehearsal's report, whose ledger is another, is removed)."""
    import shutil

    from campaign.report import make_report, write_report

    removed = 0
    for build in builds:
        folder = build / "report"
        if not folder.is_dir():
            continue
        if build == project.build_dir:
            with suppress(Exception):
                write_report(make_report(project, ledger, now), project)
                continue
        if any(story_id in page.read_text(encoding="utf-8", errors="replace")
               for page in folder.glob("*.html")) or any(
                   p.name.startswith(f"{story_id}-") for p in (folder / "cards").glob("*")):
            removed += sum(1 for f in folder.rglob("*") if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def _withdraw_posts(ctx: Publishing, story_id: str, by: str | None, now: datetime) -> WithdrawReport:
    ledger = ctx.ledger
    report = WithdrawReport(story_id)
    for record in ledger.posts(story_id):
        if record.state == "publishing":
            reconcile(ctx, record, now)
            record = ledger.post(story_id, record.platform) or record
        if record.state in ("planned", "held", "failed", "missed"):
            ledger.set_state(story_id, record.platform, "withdrawn", now, actor=by)
            report.cancelled.append(record.platform)
        elif record.state in ("posted", "needs_attention") and record.remote_id:
            try:
                ctx.publisher(record.platform).delete(record.remote_id, story=story_id)
            except DeleteByHand as exc:
                ledger.set_state(story_id, record.platform, "delete_by_hand", now,
                                 error=str(exc), actor=by)
                report.by_hand.append((record.platform, exc.url or record.url))
            except PublishError as exc:
                ledger.set_state(story_id, record.platform, record.state, now,
                                 error=_("delete failed: {error}").format(error=exc),
                                 event="delete_failed")
                report.failed.append((record.platform, redact(str(exc))))
            else:
                ledger.set_state(story_id, record.platform, "deleted", now, actor=by)
                report.deleted.append(record.platform)
        elif record.state == "needs_attention":
            ledger.set_state(story_id, record.platform, "delete_by_hand", now, actor=by,
                             error=_("it is not known whether it was posted: check the "
                                     "account and delete it by hand"))
            report.by_hand.append((record.platform, record.url))
    return report
