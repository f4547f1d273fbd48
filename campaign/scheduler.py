"""`campaign run`: the unattended week.

APScheduler 3.x fires each due post at its time. Its jobs live in memory only
and are rebuilt from the plan and the ledger (the single source of truth) at
start-up and whenever `stories/`, `campaign.toml` or the ledger's events
change. A watch job polls for those changes every few seconds (well within the
minute SPEC §7 asks for, with no extra dependency, and it sees approvals,
pauses and withdrawals made by other `campaign` commands in the ledger too).

All jobs run on one worker thread, one after another, so a post never races a
rebuild or a sweep. When a post's time comes, that job hands every post due by
then to its platform's lane, a thread of its own: each platform's posts one
after another, the platforms in parallel (posts of one moment are on their
platforms at once, not one after another). Each platform has its own ledger
connection, HTTP session and publishers, and `publish_post` holds that
platform's publish lock, so no platform ever has two posts in flight. The job
does not wait for them: a platform that is free takes the next moment's post
even while another is still sending a slow one (a compressed rehearsal's
09:30 and 10:00 are 62 ms apart). A post being sent counts as having a job
(`_in_flight`), so no rebuild schedules it again and no sweep takes it for
missed; when its lane is done, its outcome is recorded and alerted on the
worker thread, with the scheduler's own connection (`_record_finished`), and
a day's story waits for the posts still being sent (`_settle`).

The post jobs are indexed by post (`_jobs`: key -> job id and time), so that
scheduling or unscheduling one post never walks every job. A post keeps its entry
until the job that sends it runs: the sweep never takes a post whose time came
but that still waits for the worker for missed (the cause of the missed posts of
issue 19: a long first rebuild let the watch tick run between posts that were
already due, and it swept them as missed).

Nothing is lost without a word (SPEC §11): the week comes from `run_check`
with the ledger's facts, the same plan `check` and `status` show; every change
of a story's fate (planned, spare, invalid, ignored, removed) is an alert,
once, recorded in the ledger; every attempt of a post gets a job id of its own
(`post:<story>/<platform>#<n>`), so a retry that falls due while the attempt
before it is still returning is never dropped by APScheduler's one-instance
rule; and every watch tick checks that each retry the ledger expects has a
job, and says so if one had none.

Time comes from a `Clock`, passed in: `RealClock` for the real week, and
`CompressedClock` for a rehearsal, where each campaign day lasts a few seconds
of wall time. The scheduler works in campaign time and converts to wall time
only when it hands a run time to APScheduler.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import hashlib
import logging
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor as Threads
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from queue import Empty, SimpleQueue
from typing import Any, Protocol

import requests
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler

from campaign import counting, metrics
from campaign.alerts import Alerter
from campaign.check import CheckCache, CheckReport, run_check
from campaign.config import Project, load_project
from campaign.errors import CampaignError, ConfigError, PostRefused
from campaign.i18n import _, format_day, format_moment, format_number
from campaign.ledger import Ledger, PostRecord, StoredFate
from campaign.models import PLATFORMS, Fate, Platform, Post
from campaign.publish import (
    Outcome,
    Publishing,
    end_of_day,
    publish_post,
    reconcile_all,
    warm_up,
)
from campaign.status import state_count

log = logging.getLogger("campaign.scheduler")
#: Wall-clock seconds after its time that a retry without a job counts as lost.
LOST_RETRY_SECONDS = 10.0


# -- memory (issue 19) ----------------------------------------------------------------
# glibc gives each thread that allocates its own malloc arena (up to 8 per core) and keeps
# the memory freed in each: the scheduler's threads (APScheduler's worker, one poster per
# platform, the numbers' thread) then hold tens of MiB they no longer use. Two arenas, and
# handing back what is free after each round of posts, keep it near its working size
# (bench/bench_scheduler.py, line 4). One arena held 3-4 MiB less, but with it the
# failover test (test_the_leader_killed_at_random_moments...[2-6]) failed in two CI runs
# in a row, and it was put back to two (docs/performance.md). Elsewhere than glibc both
# do nothing.
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def fewer_malloc_arenas() -> None:
    """At most two malloc arenas for this process's threads; call before they start."""
    libc = _libc()
    if libc is not None:
        libc.mallopt(_M_ARENA_MAX, 2)


def give_back_free_memory() -> None:
    """Return the heap's free pages to the system (a millisecond or so)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


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

    def start(self) -> None:
        """Campaign time `origin` is now: a rehearsal calls this once everything is ready
        (sandbox, renders, sessions, publishers), so that its day one starts with nothing
        left to do."""
        self.wall_origin = self._real()


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
        check_cache: CheckCache | None = None,
        on_day_end: Callable[[date], None] | None = None,
        collect_metrics: bool = True,
    ) -> None:
        fewer_malloc_arenas()
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
        # Checked story files per version (a rehearsal hands in a warm one).
        self._check_cache = check_cache if check_cache is not None else CheckCache()
        self.report: CheckReport | None = None  # the week as last planned
        self._attempt = 0  # numbers the job ids of post attempts
        # The post jobs by post: (job id, campaign time). APScheduler only lists all its
        # jobs; with this index one post is (un)scheduled in O(log n), not O(n).
        self._jobs: dict[str, tuple[str, datetime]] = {}
        # The posts of one moment go out in parallel, on one thread per platform (a lane):
        # a platform's posts go one after another, in the order their moments came. Each
        # platform has its own ledger connection, session and publishers. A post's job
        # hands its posts to their lanes and ends; the outcomes are recorded by a job of
        # their own (`_record_finished`), so the next moment's posts for a platform that is
        # free do not wait for another platform's slow post (issue 19).
        self._lanes = {platform: Threads(max_workers=1, thread_name_prefix=f"post-{platform}")
                       for platform in PLATFORMS}
        self._in_flight: set[str] = set()  # handed to a lane, outcome not recorded yet
        self._finished: SimpleQueue[tuple[list[Post], Future[list[tuple[Post, Outcome | Exception]]]]]
        self._finished = SimpleQueue()
        self._contexts: dict[str, Publishing] = {}
        self.on_day_end = on_day_end  # the rehearsal tells the story of each day as it ends
        # The posts' numbers for `campaign report`: fetched on a thread of their own, with
        # their own ledger connection and publishers, so posting never waits for them.
        self.collect_metrics = collect_metrics
        self._metrics_last: datetime | None = None
        self._metrics_wait: dict[str, datetime] = {}  # rate limited: not before (platform time)
        self._metrics_threads = Threads(max_workers=1, thread_name_prefix="metrics")
        self._metrics_job: Future[metrics.Collected | None] | None = None
        # One worker: a watch or heartbeat tick due while a post is sent is skipped, by design.
        logging.getLogger("apscheduler.scheduler").setLevel(logging.ERROR)
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )

    # -- life cycle --------------------------------------------------------------
    def prepare(self) -> None:
        """What a first post needs, made before it is due (a rehearsal calls this before its
        clock starts): per enabled platform a ledger connection, a session and the
        publisher, whose library is imported then. A publisher that cannot be made (a
        missing secret) says so when its post is due."""
        warm_up()
        for platform in self.project.settings.enabled_platforms():
            ctx = self._context(platform)
            with suppress(CampaignError):
                ctx.publisher(platform)

    def start(self) -> None:
        self.prepare()
        now = self.clock.now()
        self.ledger.beat(now)
        self._metrics_last = self.ledger.last_metrics_fetch()
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
        self._metrics_threads.shutdown(wait=True)  # a fetch in flight stores what it got
        for lane in self._lanes.values():
            lane.shutdown(wait=True)  # a post being sent ends; one still waiting stays planned
        self._record_finished()  # the outcomes of the last posts, on this thread now
        for ctx in self._contexts.values():
            ctx.session.close()
            ctx.ledger.close()
        self._contexts.clear()

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
            self._maybe_fetch_metrics(now)
            self.alerter.deliver_pending(now)
            if self.until_done and self.posts and not self._in_flight and self._all_final():
                self.done.set()
        except Exception:  # the scheduler never dies of one bad tick
            log.exception("the watch job failed; it runs again in %s s", self.poll_seconds)

    def _maybe_fetch_metrics(self, now: datetime) -> None:
        """Start a fetch of the posts' numbers when one is due and none is running."""
        if not self.collect_metrics or (self._metrics_job and not self._metrics_job.done()):
            return
        due = metrics.next_fetch(self.project.settings, self._metrics_last, now)
        if due is None or due > now:
            return
        self._metrics_last = now
        self._metrics_job = self._metrics_threads.submit(self.fetch_metrics, now)

    def fetch_metrics(self, now: datetime) -> metrics.Collected | None:
        """One fetch of every posted post's numbers, stored in the ledger; never raises."""
        try:
            with Ledger.open(self.ledger.url or self.ledger.path) as own:
                publishing = dataclasses.replace(self.publishing, ledger=own,
                                                 session=requests.Session(), _publishers={})
                done = metrics.collect(own, publishing.publisher, now,
                                       wait_until=self._metrics_wait,
                                       platform_now=publishing.platform_time(now))
                publishing.session.close()
            self._metrics_wait.update(done.wait_until)
            log.info("numbers fetched for %s posts%s", done.posts,
                     "".join(f"; {p}: {why}" for p, why in done.problems.items()))
            return done
        except Exception:  # the week goes on without them
            log.exception("fetching the posts' numbers failed; it is tried again later")
            return None

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
        report = run_check(self.project, now, self._check_cache, facts=self.ledger.facts())
        self.report = report
        self._note_fates(report, now)
        counting.prepare_for(_story_texts(report))
        self.posts = {p.key: p for p in report.plan.posts}
        records = self.ledger.ensure_posts(
            [(p.story_id, p.platform, p.day.isoformat(), p.due) for p in self.posts.values()], now)
        wanted: set[str] = set()
        for key, post in self.posts.items():
            record = records[key]
            if record.final or record.state == "publishing" or key in self._in_flight:
                continue
            when = record.next_attempt or post.due
            if key not in self._scheduled and record.attempts == 0 and record.next_attempt is None:
                late = now - post.due
                grace = timedelta(minutes=self.project.settings.campaign.catch_up_grace_minutes)
                if late > grace:
                    self._missed(post, now, late)
                    continue
            self._warn_unapproved(post, now, report)
            wanted.add(key)
            moment = max(when, now)
            if key not in self._jobs or self._jobs[key][1] != moment:
                self._schedule(key, moment)
        for key in [key for key in self._jobs if key not in wanted]:
            self._unschedule(key)
        self._schedule_summaries(now)
        self._schedule_day_ends(now)

    def _reload_settings(self, now: datetime) -> None:
        try:
            fresh = load_project(self.project.config_file)
        except ConfigError as exc:
            self.alerter.alert(f"config:{digest(str(exc))}", _(
                "campaign.toml became invalid; campaign keeps posting with the last valid "
                "settings until you fix it:\n{error}").format(error=exc), now)
            return
        if fresh.settings != self.project.settings and not self.publishing.rehearsal:
            self.project = fresh
            self.publishing.use(fresh)
            for ctx in self._contexts.values():
                ctx.use(fresh)

    def _schedule(self, key: str, moment: datetime) -> None:
        """One job for the post's next attempt, with an id of its own: a retry added while
        the attempt before it still runs is a different job, so APScheduler never skips it."""
        self._unschedule(key)
        self._attempt += 1
        job_id = f"post:{key}#{self._attempt}"
        self._jobs[key] = (job_id, moment)
        self._scheduled.add(key)
        self._scheduler.add_job(self._job, "date", run_date=self.clock.wall(moment),
                                args=[self._fire, key, job_id], id=job_id)

    def _unschedule(self, key: str) -> None:
        entry = self._jobs.pop(key, None)
        if entry is not None:
            with suppress(JobLookupError):  # it has fired already
                self._scheduler.remove_job(entry[0])

    def _post_jobs(self) -> set[str]:
        """The posts that have a job, including one whose time came and that waits for the
        worker thread, and those being sent (their outcome not recorded yet)."""
        return set(self._jobs) | self._in_flight

    def _fire(self, key: str, job_id: str) -> None:
        """A post's time came: it goes out with every other post due by now, each platform's
        posts one after another on its lane, the platforms in parallel. Their outcomes are
        recorded on the worker thread once each lane is done (`_record_finished`)."""
        if key not in self._jobs or self._jobs[key][0] != job_id:
            return  # sent with an earlier job's posts, or scheduled again since
        now = self.clock.now()
        due = {key, *(other for other, (_, moment) in self._jobs.items() if moment <= now)}
        keys = sorted(due, key=lambda k: (self._jobs[k][1], k))
        for other in keys:
            self._unschedule(other)
        posts = [self.posts[k] for k in keys if k in self.posts]
        if not posts:
            return
        if self.ledger.is_paused():
            for post in posts:
                log.info("paused: %s waits", post.key)
                self._scheduled.discard(post.key)  # on resume, the catch-up grace decides
            return
        by_platform: dict[Platform, list[Post]] = {}
        for post in posts:
            by_platform.setdefault(post.platform, []).append(post)
        for platform, batch in by_platform.items():
            self._in_flight.update(post.key for post in batch)
            sent = self._lanes[platform].submit(self._post_each, platform, batch)
            sent.add_done_callback(functools.partial(self._lane_done, batch))

    def _lane_done(self, batch: list[Post],
                   sent: Future[list[tuple[Post, Outcome | Exception]]]) -> None:
        """On the lane's thread: its posts are sent; their outcomes wait for the worker."""
        self._finished.put((batch, sent))
        with suppress(Exception):  # stopping: `stop` records them itself
            self._scheduler.add_job(self._job, args=[self._record_finished])

    def _record_finished(self) -> None:
        """Record the outcomes of every lane's posts that were sent (on the worker thread,
        or in `stop` once the lanes are shut)."""
        recorded = False
        while True:
            try:
                self._record_lane(*self._finished.get_nowait())
            except Empty:
                break
            recorded = True
        if recorded:
            give_back_free_memory()

    def _settle(self) -> None:
        """Wait until every post handed to a lane is sent, and record the outcomes."""
        if not self._in_flight:
            return
        while self._in_flight:
            self._record_lane(*self._finished.get())
        give_back_free_memory()

    def _record_lane(self, batch: list[Post],
                     sent: Future[list[tuple[Post, Outcome | Exception]]]) -> None:
        """The outcomes of one lane's posts, recorded; they are no longer being sent."""
        try:
            results = sent.result()
        except Exception as exc:  # the lane itself failed: each post is told
            results = [(post, exc) for post in batch]
        done = {post.key for post, _result in results}
        for post, result in results:
            self._record(post, result)
        for post in batch:
            self._in_flight.discard(post.key)
            if post.key not in done:  # stopping before it was sent: the next start sends it
                self._scheduled.discard(post.key)

    def _post_each(self, platform: Platform,
                   posts: list[Post]) -> list[tuple[Post, Outcome | Exception]]:
        """On a posting thread: one platform's posts, one after another, with the platform's
        own ledger connection and publishers. Errors are handed back, not handled here."""
        ctx = self._context(platform)
        results: list[tuple[Post, Outcome | Exception]] = []
        for post in posts:
            if self._stopping:
                break  # still planned: the next start sends it
            ctx.ledger.lead = self.ledger.lead
            try:
                results.append((post, publish_post(ctx, post.story_id, post.platform,
                                                   self.clock.now(), post=post)))
            except Exception as exc:
                results.append((post, exc))
            if ctx.ledger.lead_refused:
                self.ledger.lead_refused = True  # the lead watch stands the scheduler down
        return results

    def _context(self, platform: str) -> Publishing:
        """The platform's publish path: its own ledger connection (an SQLite connection is
        not for two threads at once), session and publishers."""
        ctx = self._contexts.get(platform)
        if ctx is None:
            own = Ledger.open(self.ledger.url or self.ledger.path)
            ctx = dataclasses.replace(self.publishing, ledger=own, session=requests.Session(),
                                      clock=self.publishing.clock or self.clock.now,
                                      _publishers={})
            self._contexts[platform] = ctx
        elif ctx.ledger.broken:
            ctx.ledger.reconnect()
        return ctx

    def _record(self, post: Post, result: Outcome | Exception) -> None:
        key, now = post.key, self.clock.now()
        if isinstance(result, Outcome):
            self._after(result)
        elif isinstance(result, PostRefused):
            log.info("not posted: %s", result)
        elif isinstance(result, CampaignError):
            self.ledger.set_state(post.story_id, post.platform, "failed", now, error=str(result),
                                  expect=("planned", "held"))
            self._alert(f"failed:{key}", _("{post} was not posted: {error}").format(
                post=key, error=result), now)
        else:
            log.error("posting %s failed unexpectedly", key, exc_info=result)
            self._alert(f"error:{key}", _(
                "{post}: internal error while posting ({error}): campaign checks on the "
                "platform whether it went out before it tries again").format(
                    post=key, error=type(result).__name__), now)

    def _after(self, outcome: Outcome) -> None:
        if outcome.retry_at is not None:
            self.retries += 1
            self._schedule(outcome.key, outcome.retry_at)
        if outcome.alert:
            self._alert(f"{outcome.state}:{outcome.key}", outcome.alert, self.clock.now())
        log.info("%s: %s", outcome.key, outcome.message)

    def _alert(self, key: str, text: str, now: datetime) -> None:
        self.alerter.alert(key, text, now)

    # -- deadlines, missed posts, lost retries, approvals, fates -----------------------
    def _sweep(self, now: datetime) -> None:
        """Once a tick, over every pending post in the ledger: a retry the ledger expects
        gets a job if it has none (and a human is told); a post still pending after the
        end of its day is missed, with the reason it was not posted."""
        jobs = self._post_jobs()
        withdrawn = self.ledger.withdrawn_stories()
        paused = self.ledger.is_paused()
        not_posted: dict[str, list[PostRecord]] = {}
        for record in self.ledger.posts():
            if record.state not in ("planned", "held") or record.story_id in withdrawn:
                continue
            post = self.posts.get(record.key)
            day = date.fromisoformat(record.day) if record.day else None
            over = day is not None and now >= end_of_day(day, self.project)
            if post is None:
                if over:
                    not_posted.setdefault(record.story_id, []).append(record)
                continue
            # A post that has a job is never missed here, even after the end of its day: its
            # time came while the scheduler ran, and it waits for the worker thread (after a
            # long rebuild, say); its job sends it. A retry the ledger expects that has no
            # job is lost when it is still without one well after its time.
            scheduled = record.key in jobs
            waiting = record.next_attempt is not None and not scheduled
            lost = waiting and record.next_attempt is not None and \
                self.clock.wall_seconds(now - record.next_attempt) > LOST_RETRY_SECONDS
            if over:
                if lost:
                    self._lost_retry(record, now, over=True)
                elif not waiting and not scheduled:
                    self._missed(post, now, now - post.due)
            elif lost and not paused:
                self._lost_retry(record, now, over=False)
                self._schedule(record.key, now)
        for story_id, records in not_posted.items():
            self._not_planned_missed(story_id, records, now)

    def _lost_retry(self, record: PostRecord, now: datetime, *, over: bool) -> None:
        log.error("%s: a retry was due at %s but had no job", record.key, record.next_attempt)
        if over:
            self.ledger.set_state(record.story_id, record.platform, "failed", now,
                                  error="its retry could not run before the end of its day",
                                  event="retry_lost", expect=("planned", "held"))
            self._alert(f"retry-lost:{record.key}", _(
                "{story} on {platform} was not tried again before the end of its day, so it "
                "was not posted. Post it by hand with `campaign post {story} --platform "
                "{platform}` if it should still go out.").format(
                    story=record.story_id, platform=record.platform), now)
        else:
            self._alert(f"retry-lost:{record.key}:{record.attempts}",
                        _("{story} on {platform}: a retry had not been scheduled; it is "
                          "tried again now. Nothing else is needed.").format(
                              story=record.story_id, platform=record.platform), now)

    def _not_planned_missed(self, story_id: str, records: list[PostRecord], now: datetime) -> None:
        """Posts of a story that is no longer in the plan, at the end of their day."""
        fate = self.report.fate(story_id) if self.report else None
        if fate is not None and fate.kind == "invalid":
            why = _("the story file has an error: {reason}").format(reason=fate.reason)
        elif fate is not None and fate.kind == "spare":
            why = _("the story became a reserve story")
        else:
            why = _("the story file was removed from stories/")
        platforms = []
        for record in records:
            if self.ledger.set_state(record.story_id, record.platform, "missed", now,
                                     error=_("not posted: {why}").format(why=why),
                                     expect=("planned", "held")):
                platforms.append(record.platform)
        if platforms:
            self._alert(f"missed:{story_id}:{records[0].day}",
                        _("MISSED: {story} was not posted on {platforms} on its day ({day}), "
                          "because {why}.").format(
                              story=story_id, platforms=", ".join(platforms),
                              day=_day(records[0].day), why=why), now)

    def _missed(self, post: Post, now: datetime, late: timedelta) -> None:
        hours = late.total_seconds() / 3600
        due = format_moment(post.due.astimezone(self.project.settings.tz))
        late_by = _("{hours} h").format(hours=format_number(round(hours, 1)))
        record = self.ledger.post(post.story_id, post.platform)
        if record is not None and record.state == "held":
            reason = _("{post} was due {due} and is {late} late (it was held: not approved)")
        else:
            reason = _("{post} was due {due} and is {late} late")
        reason = reason.format(post=post.key, due=due, late=late_by)
        if self.ledger.set_state(post.story_id, post.platform, "missed", now,
                                 error=_("{reason}: not posted").format(reason=reason),
                                 expect=("planned", "held")):
            self._alert(f"missed:{post.key}", _(
                "MISSED: {reason}; it was not posted. Post it by hand with `campaign post "
                "{story} --platform {platform}` if it should still go out.").format(
                    reason=reason, story=post.story_id, platform=post.platform), now)

    def _warn_unapproved(self, post: Post, now: datetime, report: CheckReport) -> None:
        settings = self.project.settings
        if not settings.campaign.require_approval or self.publishing.rehearsal:
            return
        eve = datetime.combine(post.day - timedelta(days=1), time(0), tzinfo=settings.tz)
        if now < eve:
            return
        story = report.story(post.story_id)
        if story is None or self.ledger.approval(story.id, story.content_hash) is not None:
            return
        self._alert(f"unapproved:{story.id}:{story.content_hash[:12]}",
                    _("{story} is due on {day} but this version is not approved: run "
                      "`campaign approve {story} --by NAME`, or it will not be posted").format(
                          story=story.id, day=format_day(post.day)), now)

    def _note_fates(self, report: CheckReport, now: datetime) -> None:
        """Record each file's fate; every change is an alert, once (SPEC §11)."""
        stored = self.ledger.fates()
        first = not stored
        current = {fate.file: fate for fate in report.fates}
        for file, fate in current.items():
            before = stored.get(file)
            changed = before is None or before.kind != fate.kind or (
                before.day != (fate.day.isoformat() if fate.day else None))
            day = fate.day.isoformat() if fate.day else None
            self.ledger.set_fate(file, fate.story_id, fate.kind, day, fate.reason, now)
            if not changed:
                continue
            text = _fate_alert(fate, before, first)
            if text:
                self._alert(f"fate:{file}:{fate.kind}:{day}:{now.isoformat()}", text, now)
        for file, before in stored.items():
            if file not in current:
                self.ledger.forget_fate(file)
                if before.kind == "planned":
                    self._alert(f"fate:{file}:removed:{now.isoformat()}",
                                _("{file} was removed from the stories folder: {story} will "
                                  "not be posted (it was planned on {day}).").format(
                                      file=file, story=before.story_id, day=_day(before.day)),
                                now)

    def _all_final(self) -> bool:
        """Every post of the week is final: the plan's, and those of stories that left it
        (they end as missed at the end of their day). One query per tick."""
        withdrawn = self.ledger.withdrawn_stories()
        records = self.ledger.final_by_key()
        if any(key not in records or not records[key][1] for key in self.posts):
            return False
        return all(final or story in withdrawn for story, final in records.values())

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

    def _schedule_day_ends(self, now: datetime) -> None:
        if self.on_day_end is None:
            return
        for day in self.project.settings.days():
            moment = end_of_day(day, self.project)
            if moment > now:
                self._scheduler.add_job(self._job, "date", run_date=self.clock.wall(moment),
                                        args=[self._day_end, day], id=f"day-end:{day}",
                                        replace_existing=True)

    def _day_end(self, day: date) -> None:
        """A day ended: its story is told once every post being sent has its outcome."""
        self._settle()
        if self.on_day_end is not None:
            self.on_day_end(day)

    def _summary(self, day: date) -> None:
        records = [r for r in self.ledger.posts() if r.day == day.isoformat()]
        if not records:
            return
        counts: dict[str, int] = {}
        for record in records:
            counts[record.state] = counts.get(record.state, 0) + 1
        text = _("Daily summary for {day}: {counts}.").format(
            day=format_day(day), counts=", ".join(
                state_count(s, n) for s, n in sorted(counts.items(), key=lambda i: -i[1])))
        self.alerter.alert(f"summary:{day}", text, self.clock.now(), routine=True)


def _day(day: str | date | None) -> str:
    """A day staff read (`maandag 8 maart`), from the ledger's ISO text or a date."""
    if day is None:
        return "?"
    return format_day(date.fromisoformat(day) if isinstance(day, str) else day)


def _fate_alert(fate: Fate, before: StoredFate | None, first: bool) -> str | None:
    """The alert for a file whose fate changed, in plain words; None when there is nothing
    to tell (a planned story when the scheduler first starts, a withdrawal, a photo)."""
    name = fate.story_id
    if fate.kind == "planned":
        if first:
            return None
        if before is not None and before.kind == "planned":
            return _("{story} moved from {before} to {day}: its posts go out then.").format(
                story=name, before=_day(before.day), day=_day(fate.day))
        if before is not None and before.kind == "invalid":
            return _("{story} is fixed and planned again on {day}.").format(
                story=name, day=_day(fate.day))
        return _("{story} is now planned on {day}: its posts go out at their times.").format(
            story=name, day=_day(fate.day))
    if fate.kind == "spare":
        return _("{story} ({file}) is a reserve story and will not be posted: {reason}. To post "
                 "it, give it a free day (day: YYYY-MM-DD), or take another story out.").format(
                     story=name, file=fate.file, reason=fate.reason)
    if fate.kind == "invalid":
        return _("{story} has an error and will not be posted until it is fixed: {file}: "
                 "{reason}").format(story=name, file=fate.file, reason=fate.reason)
    if fate.kind == "ignored" and fate.severity is not None:
        return _("{file} is not read, so it will not be posted: {reason}").format(
            file=fate.file, reason=fate.reason)
    return None


def _story_texts(report: CheckReport) -> list[str]:
    """The texts that go into the captions of every valid story (a reserve story may be
    planned at the next rebuild)."""
    texts: list[str] = []
    for story in report.stories:
        texts += [story.title, story.name, story.quote, story.body, story.photo_alt or "",
                  story.diagnosis or "", *story.overrides.values()]
    return texts
