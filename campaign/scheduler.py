"""`campaign run`: the unattended week.

APScheduler 3.x fires each due post at its time. Its jobs live in memory only
and are rebuilt from the plan and the ledger (the single source of truth) at
start-up and whenever `stories/`, `campaign.toml` or the ledger's events
change. A watch job polls for those changes every few seconds (well within the
minute SPEC §7 asks for, with no extra dependency, and it sees approvals,
pauses and withdrawals made by other `campaign` commands in the ledger too).

All jobs run on one worker thread, one after another: the ledger connection and
the publishers are never used by two threads at once, and a post never races a
rebuild.

Time comes from a `Clock`, passed in: `RealClock` for the real week, and
`CompressedClock` for a rehearsal, where each campaign day lasts a few seconds
of wall time. The scheduler works in campaign time and converts to wall time
only when it hands a run time to APScheduler.
"""

from __future__ import annotations

import hashlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from campaign.alerts import Alerter
from campaign.check import StageCache, run_check
from campaign.config import Project, load_project
from campaign.errors import CampaignError, ConfigError, PostRefused
from campaign.ledger import Ledger
from campaign.models import Post
from campaign.planner import build_plan
from campaign.publish import Outcome, Publishing, end_of_day, publish_post, reconcile_all
from campaign.stories import read_story

log = logging.getLogger("campaign.scheduler")


def digest(text: str) -> str:
    """A short stable digest (unlike hash(), the same in every process) for alert keys."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Clock(Protocol):
    """Campaign time, and when on the wall clock a campaign moment happens."""

    def now(self) -> datetime: ...

    def wall(self, moment: datetime) -> datetime: ...

    def wall_seconds(self, campaign: timedelta) -> float: ...


class RealClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def wall(self, moment: datetime) -> datetime:
        return moment

    def wall_seconds(self, campaign: timedelta) -> float:
        return campaign.total_seconds()


@dataclass
class CompressedClock:
    """A rehearsal's clock: campaign time runs `86400 / day_seconds` times faster than the wall.

    `origin` (campaign time) is when the rehearsal starts, `wall_origin` the
    real moment it maps to.
    """

    origin: datetime
    day_seconds: float
    wall_origin: datetime = field(default_factory=lambda: datetime.now(UTC))
    _real: Callable[[], datetime] = field(default=lambda: datetime.now(UTC), repr=False)

    @property
    def speed(self) -> float:
        return 86400.0 / self.day_seconds

    def now(self) -> datetime:
        return self.origin + (self._real() - self.wall_origin) * self.speed

    def wall(self, moment: datetime) -> datetime:
        return self.wall_origin + (moment - self.origin) / self.speed

    def wall_seconds(self, campaign: timedelta) -> float:
        return campaign.total_seconds() / self.speed


class Scheduler:
    """Runs the campaign until stopped (SIGTERM, SIGINT) or, with `until_done`, until every
    planned post is final."""

    def __init__(
        self,
        project: Project,
        ledger: Ledger,
        publishing: Publishing,
        alerter: Alerter,
        clock: Clock,
        *,
        until_done: bool = False,
        poll_seconds: float = 5.0,
        heartbeat_seconds: float = 30.0,
        check_cache: StageCache | None = None,
    ) -> None:
        self.project = project
        self.ledger = ledger
        self.publishing = publishing
        self.alerter = alerter
        self.clock = clock
        self.until_done = until_done
        self.poll_seconds = poll_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.retries = 0  # retries scheduled in this run, for the rehearsal's summary
        self.posts: dict[str, Post] = {}
        self.done = threading.Event()
        # Held by every job while it runs. stop() takes it to wait for the job in flight
        # (its outcome is recorded) before shutting APScheduler down: APScheduler's own
        # shutdown(wait=True) deadlocks with a job that is adding a job.
        self._running = threading.Lock()
        self._stopping = False
        self._signature: tuple[Any, ...] | None = None
        # Posts that have had a job in this run: only the others (missed while the scheduler
        # was down, or skipped while paused) are subject to the catch-up grace.
        self._scheduled: set[str] = set()
        # Caption and card problems per story version (a rehearsal hands in a warm one).
        self._check_cache: StageCache = check_cache if check_cache is not None else {}
        # One worker: a watch or heartbeat tick due while a post is sent is skipped, by design.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    # -- life cycle --------------------------------------------------------------
    def start(self) -> None:
        now = self.clock.now()
        self.ledger.beat(now)
        for outcome in reconcile_all(self.publishing, now):
            self._after(outcome)
        self._scheduler.add_job(self._job, "interval", args=[self._watch],
                                seconds=self.poll_seconds, id="watch",
                                next_run_time=datetime.now(UTC))
        self._scheduler.add_job(self._job, "interval", args=[self._heartbeat],
                                seconds=self.heartbeat_seconds, id="heartbeat")
        self._scheduler.start()

    def stop(self) -> None:
        """Finish the job in flight (its outcome is recorded), then stop."""
        self.done.set()
        self._stopping = True
        with self._running:
            if self._scheduler.running:
                self._scheduler.shutdown(wait=False)

    def _job(self, work: Callable[..., None], *args: Any) -> None:
        """Every job runs through here: one at a time, and never once stopping began."""
        with self._running:
            if not self._stopping:
                work(*args)

    def run(self, install_signals: bool = True) -> None:
        """Start, then block until SIGTERM/SIGINT or until every post is final."""
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.done.set())
        self.start()
        try:
            self.done.wait()
        finally:
            self.stop()

    # -- jobs ----------------------------------------------------------------------
    def _heartbeat(self) -> None:
        self.ledger.beat(self.clock.now())

    def _watch(self) -> None:
        """Rebuild when files or the ledger changed; sweep deadlines; retry alerts."""
        try:
            signature = self._current_signature()
            now = self.clock.now()
            if signature != self._signature:
                self._signature = signature
                self.rebuild(now)
            self._sweep(now)
            self.alerter.deliver_pending(now)
            if self.until_done and self.posts and self._all_final():
                self.done.set()
        except Exception:  # the scheduler never dies of one bad tick
            log.exception("the watch job failed; it runs again in %s s", self.poll_seconds)

    def _current_signature(self) -> tuple[Any, ...]:
        files: list[tuple[str, int, int]] = []
        folder = self.project.stories_dir
        paths = [self.project.config_file, *sorted(folder.glob("*"))] if folder.is_dir() else [
            self.project.config_file]
        for path in paths:
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((path.name, stat.st_mtime_ns, stat.st_size))
        return (tuple(files), self.ledger.last_control_event_id())

    def rebuild(self, now: datetime) -> None:
        """Plan again from the files and the ledger, and make the jobs match."""
        self._reload_settings(now)
        report = run_check(self.project, now, self._check_cache)
        pinned = {r.story_id: date.fromisoformat(r.day) for r in self.ledger.posts() if r.day}
        plan = build_plan(report.stories, self.project.settings, now, pinned=pinned)
        self._alert_invalid(report, now)
        withdrawn = self.ledger.withdrawn_stories()
        self.posts = {p.key: p for p in plan.posts if p.story_id not in withdrawn}
        wanted: set[str] = set()
        for key, post in self.posts.items():
            record = self.ledger.ensure_post(post.story_id, post.platform, post.day.isoformat(),
                                             post.due, now)
            if record.final or record.state == "publishing":
                continue
            when = record.next_attempt or post.due
            if key not in self._scheduled and record.attempts == 0 and record.next_attempt is None:
                late = now - post.due
                grace = timedelta(minutes=self.project.settings.campaign.catch_up_grace_minutes)
                if late > grace:
                    self._missed(post, now, late)
                    continue
            self._warn_unapproved(post, now)
            self._schedule(key, max(when, now))
            wanted.add(key)
        for job in self._scheduler.get_jobs():
            if job.id.startswith("post:") and job.id[5:] not in wanted:
                job.remove()
        self._schedule_summaries(now)

    def _reload_settings(self, now: datetime) -> None:
        try:
            fresh = load_project(self.project.config_file)
        except ConfigError as exc:
            self.alerter.alert(f"config:{digest(str(exc))}", "campaign.toml became invalid; the "
                               f"scheduler keeps the last valid settings:\n{exc}", now)
            return
        if fresh.settings != self.project.settings and not self.publishing.rehearsal:
            self.project = fresh
            self.publishing.use(fresh)

    def _schedule(self, key: str, moment: datetime) -> None:
        run_at = self.clock.wall(moment)
        self._scheduled.add(key)
        self._scheduler.add_job(self._job, "date", run_date=run_at, args=[self._fire, key],
                                id=f"post:{key}", replace_existing=True)

    def _fire(self, key: str) -> None:
        post = self.posts.get(key)
        if post is None:
            return
        now = self.clock.now()
        if self.ledger.is_paused():
            log.info("paused: %s waits", key)
            self._scheduled.discard(key)  # on resume, the catch-up grace decides
            return
        try:
            outcome = publish_post(self.publishing, post.story_id, post.platform, now, post=post)
        except PostRefused as exc:
            log.info("not posted: %s", exc)
            return
        except CampaignError as exc:
            self.ledger.set_state(post.story_id, post.platform, "failed", now, error=str(exc),
                                  expect=("planned", "held"))
            self._alert(f"failed:{key}", f"{key} was not posted: {exc}", now)
            return
        except Exception as exc:
            log.exception("posting %s failed unexpectedly", key)
            self._alert(f"error:{key}", f"{key}: internal error while posting ({type(exc).__name__}): "
                        "the post is reconciled before any retry", now)
            return
        self._after(outcome)

    def _after(self, outcome: Outcome) -> None:
        if outcome.retry_at is not None:
            self.retries += 1
            self._schedule(outcome.key, outcome.retry_at)
        if outcome.alert:
            self._alert(f"{outcome.state}:{outcome.key}", outcome.alert, self.clock.now())
        log.info("%s: %s", outcome.key, outcome.message)

    def _alert(self, key: str, text: str, now: datetime) -> None:
        self.alerter.alert(key, text, now)

    # -- deadlines, missed posts, approvals, invalid stories -------------------------
    def _sweep(self, now: datetime) -> None:
        """Posts still pending after the end of their day are missed."""
        for key, post in self.posts.items():
            if now < end_of_day(post.day, self.project):
                continue
            record = self.ledger.post(post.story_id, post.platform)
            if record is not None and record.state in ("planned", "held"):
                self._missed(post, now, now - post.due)
                job = self._scheduler.get_job(f"post:{key}")
                if job is not None:
                    job.remove()

    def _missed(self, post: Post, now: datetime, late: timedelta) -> None:
        hours = late.total_seconds() / 3600
        reason = (f"{post.key} was due {post.due.astimezone(self.project.settings.tz):%a %d %b %H:%M} "
                  f"and is {hours:.1f} h late")
        record = self.ledger.post(post.story_id, post.platform)
        if record is not None and record.state == "held":
            reason += " (it was held: not approved)"
        if self.ledger.set_state(post.story_id, post.platform, "missed", now,
                                 error=reason + ": not posted", expect=("planned", "held")):
            self._alert(f"missed:{post.key}", f"MISSED: {reason}; it was not posted. Post it by "
                        f"hand with `campaign post {post.story_id} --platform {post.platform}` "
                        "if it should still go out.", now)

    def _warn_unapproved(self, post: Post, now: datetime) -> None:
        settings = self.project.settings
        if not settings.campaign.require_approval or self.publishing.rehearsal:
            return
        eve = datetime.combine(post.day - timedelta(days=1), time(0), tzinfo=settings.tz)
        if now < eve:
            return
        path = self.project.stories_dir / f"{post.story_id}.md"
        story = read_story(path, self.project).story
        if story is None or self.ledger.approval(story.id, story.content_hash) is not None:
            return
        self._alert(f"unapproved:{story.id}:{story.content_hash[:12]}",
                    f"{story.id} is due on {post.day} but this version is not approved: run "
                    f"`campaign approve {story.id} --by NAME`, or it will not be posted", now)

    def _alert_invalid(self, report: Any, now: datetime) -> None:
        """A story that had posts planned and became invalid: not posted, and a human is told."""
        known = {r.story_id for r in self.ledger.posts() if not r.final}
        bad: dict[str, list[str]] = {}
        for problem in report.errors:
            story_id = Path(problem.file).stem
            if problem.file.startswith(self.project.settings.paths.stories) and story_id in known:
                bad.setdefault(story_id, []).append(problem.format())
        for story_id, problems in bad.items():
            text = "\n".join(problems)
            self._alert(f"invalid:{story_id}:{digest(text)}",
                        f"{story_id} became invalid and will not be posted until it is fixed:\n{text}",
                        now)

    def _all_final(self) -> bool:
        final = {r.key for r in self.ledger.posts() if r.final}  # one query per tick
        return all(key in final for key in self.posts)

    def _schedule_summaries(self, now: datetime) -> None:
        at = self.project.settings.alerts.daily_summary_time
        if at is None:
            return
        for day in self.project.settings.days():
            moment = datetime.combine(day, at, tzinfo=self.project.settings.tz).astimezone(UTC)
            if moment > now:
                self._scheduler.add_job(self._job, "date", run_date=self.clock.wall(moment),
                                        args=[self._summary, day], id=f"summary:{day}",
                                        replace_existing=True)

    def _summary(self, day: date) -> None:
        records = [r for r in self.ledger.posts() if r.day == day.isoformat()]
        if not records:
            return
        counts: dict[str, int] = {}
        for record in records:
            counts[record.state] = counts.get(record.state, 0) + 1
        text = f"Daily summary {day}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        self.alerter.alert(f"summary:{day}", text, self.clock.now())
