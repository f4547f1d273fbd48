"""`campaign run`: the week against the sandbox, downtime, stories during the week, SIGKILL."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from campaign.alerts import Alerter
from campaign.check import run_check
from campaign.config import Project, load_project
from campaign.errors import PostRetryable
from campaign.ledger import Ledger
from campaign.models import PLATFORMS
from campaign.publish import Publishing
from campaign.publishers import make_publisher, supported_platforms
from campaign.publishers.base import CredentialReport, Published, Publisher, PublishRequest, RecentPost
from campaign.rehearsal import rehearse
from campaign.sandbox import Fault, Sandbox
from campaign.scheduler import CompressedClock, Scheduler
from tests.conftest import REPO

SUPPORTED = supported_platforms()


def campaign_copy(tmp_path: Path, stories: list[str] | None = None) -> Project:
    """The example campaign, with only the platforms that have a publisher enabled."""
    root = tmp_path / "campaign"
    root.mkdir()
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    for platform in PLATFORMS:
        if platform not in SUPPORTED:
            text = re.sub(rf"(\[platforms\.{platform}\]\nenabled = )true", r"\1false", text)
    (root / "campaign.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "assets", root / "assets")
    (root / "stories").mkdir()
    for path in sorted((REPO / "stories").glob("*.md")):
        if stories is None or path.stem in stories:
            shutil.copy2(path, root / "stories" / path.name)
    return load_project(root / "campaign.toml")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_rehearsal_posts_the_example_week_exactly_once(tmp_path: Path) -> None:
    project = campaign_copy(tmp_path)
    result = rehearse(project, day_seconds=4, until_done=True, faults=[],
                      workdir=tmp_path / "rehearsal", install_signals=False)
    summary = result.summary
    expected = Counter(p["platform"] for p in summary["posts"])
    assert set(expected) == set(SUPPORTED)
    assert [p["state"] for p in summary["posts"]] == ["posted"] * len(summary["posts"])
    assert summary["sandbox_posts"] == dict(expected)  # one sandbox post per planned post
    assert summary["faults_met"] == 0 and summary["retries"] == 0
    assert summary["would_be_held"] == [f"0{i}-{n}" for i, n in enumerate(
        ["marieke", "joost", "fatima", "henk", "sanne", "ahmed", "els"], start=1)]
    # The feeds are saved as static pages, to look at after the sandbox has stopped.
    assert summary["feed_url"].startswith("file://")
    feeds = tmp_path / "rehearsal" / "feeds"
    assert (feeds / "index.html").is_file()
    assert len(list((feeds / "images").iterdir())) == sum(expected.values())
    assert 'src="images/' in (feeds / f"{SUPPORTED[0]}.html").read_text(encoding="utf-8")
    # How late posts are is measured by bench/bench_scheduler.py, not here: a timed
    # assertion would be flaky on a shared machine. Here: measured, and never early.
    assert summary["max_lateness_seconds"] >= 0
    # The real ledger was never touched.
    assert not project.ledger_path.exists()
    assert (tmp_path / "rehearsal" / "ledger.sqlite").exists()


def test_rehearsal_with_faults_retries_reconciles_and_alerts(tmp_path: Path) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    faults = [Fault(platform=SUPPORTED[0], call="create", kind="rate_limit", reset_after=1),
              Fault(platform=SUPPORTED[1], call="create", kind="drop_response"),
              Fault(platform=SUPPORTED[2], call="create", kind="expired_token")]
    result = rehearse(project, day_seconds=3, until_done=True, faults=faults,
                      workdir=tmp_path / "rehearsal", install_signals=False)
    summary = result.summary
    states = {p["platform"]: p["state"] for p in summary["posts"]}
    assert states[SUPPORTED[0]] == "posted" and states[SUPPORTED[1]] == "posted"
    assert states[SUPPORTED[2]] == "failed"
    assert summary["retries"] >= 1 and summary["faults_met"] == 3
    assert summary["sandbox_posts"][SUPPORTED[1]] == 1  # reconciled, not posted twice
    assert any("failed" in a and SUPPORTED[2] in a for a in result.alerts)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


def run_scheduler(project: Project, sandbox: Sandbox, origin: datetime, day_seconds: float,
                  until: Callable[[Ledger], bool]) -> list[str]:
    """The real Scheduler with a compressed clock starting at `origin`, until `until` holds."""
    alerts: list[str] = []
    clock = CompressedClock(origin=origin, day_seconds=day_seconds)
    with Ledger.open(project.ledger_path) as ledger, Ledger.open(project.ledger_path) as reader:
        publishing = Publishing(project=project, ledger=ledger, env=sandbox.env(), rehearsal=True,
                                publisher_options={"instagram": {"poll_interval": 0.01}},
                                platform_time=clock.wall)
        alerter = Alerter(project.settings.alerts.model_copy(update={"email_to": []}), ledger,
                          sandbox.env(), extra_sink=alerts.append)
        scheduler = Scheduler(project, ledger, publishing, alerter, clock, poll_seconds=0.05,
                              heartbeat_seconds=0.5)
        scheduler.start()
        try:
            wait_for(lambda: until(reader), "the scheduler")
        finally:
            scheduler.stop()
    return alerts


def day_one_final(ledger: Ledger) -> bool:
    records = [r for r in ledger.posts() if r.day == "2027-03-08"]
    return len(records) == len(SUPPORTED) and all(r.final for r in records)


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 3, 8, hour, minute, tzinfo=load_project(REPO / "campaign.toml").settings.tz)


def test_downtime_within_the_grace_posts_late(tmp_path: Path, sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    # The scheduler runs for a moment after midnight and stops before the first post is due ...
    run_scheduler(project, sandbox, local(0), 20, lambda _: True)
    # ... and is started again at 10:40: the 09:00 to 10:30 posts are 10 to 100 minutes
    # late, at least 20 campaign minutes (0.28 s of wall time) inside the 2 h grace.
    alerts = run_scheduler(project, sandbox, local(10, 40), 20, day_one_final)
    with Ledger.open(project.ledger_path) as ledger:
        states = {r.platform: r.state for r in ledger.posts()}
    assert set(states.values()) == {"posted"}
    assert len(sandbox.posts()) == len(SUPPORTED)
    assert not any("MISSED" in a for a in alerts)


def test_downtime_beyond_the_grace_is_missed_and_alerted(tmp_path: Path, sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    # Started at 12:45: the 09:00 to 10:30 posts are more than 2 h late (missed), the 11:00
    # and 12:00 ones less (posted); the nearest is 15 campaign minutes (0.2 s) from the edge.
    alerts = run_scheduler(project, sandbox, local(12, 45), 20, day_one_final)
    with Ledger.open(project.ledger_path) as ledger:
        states = {r.platform: r.state for r in ledger.posts()}
    settings = project.settings
    for platform in SUPPORTED:
        due = local(0).replace(hour=settings.post_time(platform).hour,
                               minute=settings.post_time(platform).minute)
        late = local(12, 45) - due
        assert states[platform] == ("missed" if late > timedelta(hours=2) else "posted"), platform
    missed = [p for p, s in states.items() if s == "missed"]
    assert missed
    assert len([a for a in alerts if a.startswith("MISSED")]) == len(missed)
    assert len(sandbox.posts()) == len(SUPPORTED) - len(missed)


def test_a_story_dropped_in_and_one_edited_during_the_week(tmp_path: Path, sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke", "02-joost", "07-els"])
    stories = project.stories_dir

    def dropped_in_posted(ledger: Ledger) -> bool:
        records = ledger.posts("03-nieuw")
        return bool(records) and all(r.final for r in records)

    def change_files_during_day_one(ledger: Ledger) -> bool:
        day_one_started = any(r.state == "posted" for r in ledger.posts("01-marieke"))
        if day_one_started and not (stories / "03-nieuw.md").exists():
            new = (REPO / "stories" / "05-sanne.md").read_text(encoding="utf-8")
            (stories / "03-nieuw.md").write_text(new.replace("Sanne", "Noor"), encoding="utf-8")
            joost = stories / "02-joost.md"
            joost.write_text(joost.read_text(encoding="utf-8").replace(
                "Joost was negentien", "Joost was pas negentien"), encoding="utf-8")
        return dropped_in_posted(ledger)

    run_scheduler(project, sandbox, local(0), 4, change_files_during_day_one)
    with Ledger.open(project.ledger_path) as ledger:
        assert {r.day for r in ledger.posts("03-nieuw")} == {"2027-03-10"}  # the first free day
        assert {r.day for r in ledger.posts("02-joost")} == {"2027-03-09"}  # never shifted
    captions = [p["caption"] for p in sandbox.posts()]
    assert any("Joost was pas negentien" in c for c in captions)
    assert not any("Joost was negentien" in c for c in captions)
    assert any("Noor" in c for c in captions)


def run_command(root: Path, env: dict[str, str], workdir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"), "run",
         "--sandbox", "--day-seconds", "6", "--until-done", "--json", "--workdir", str(workdir)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_killed_mid_week_and_restarted_no_double_post_nothing_lost(tmp_path: Path,
                                                                    sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke", "02-joost", "03-fatima"])
    env = {**os.environ, **sandbox.env()}  # CAMPAIGN_SANDBOX_URL: the run uses this sandbox
    workdir = tmp_path / "rehearsal"
    first = run_command(project.root, env, workdir)
    wait_for(lambda: len(sandbox.posts()) >= 2, "the first posts", timeout=120)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = run_command(project.root, env, workdir)
    out, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    summary = json.loads(out)
    keys = Counter((p["platform"], p["caption"][:40]) for p in sandbox.posts())
    assert all(n == 1 for n in keys.values()), keys  # no double post
    states = Counter(p["state"] for p in summary["posts"])
    assert set(states) <= {"posted", "missed"}, states  # nothing lost: every post is final
    assert states["posted"] == len(sandbox.posts())
    assert len([a for a in summary["alerts"] if a.startswith("MISSED")]) == states["missed"]


def test_sigterm_finishes_the_post_in_flight_then_exits(tmp_path: Path, sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    first_platform = min(SUPPORTED, key=lambda p: project.settings.post_time(p))
    sandbox.add_fault(Fault(platform=first_platform, call="create", kind="slow_response", delay=2))
    env = {**os.environ, **sandbox.env()}
    process = run_command(project.root, env, tmp_path / "rehearsal")
    wait_for(lambda: len(sandbox.faults.met) == 1, "the first post to be in flight", timeout=120)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    assert process.returncode == 0
    with Ledger.open(tmp_path / "rehearsal" / "ledger.sqlite") as ledger:
        record = ledger.post("01-marieke", first_platform)
    assert record is not None and record.state == "posted"
    assert len([p for p in sandbox.posts() if p["platform"] == first_platform]) == 1


def test_a_story_that_becomes_invalid_is_not_posted_and_alerted(tmp_path: Path,
                                                                sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke", "02-joost"])
    joost = project.stories_dir / "02-joost.md"

    def break_joost_then_wait(ledger: Ledger) -> bool:
        day_one_done = day_one_final(ledger)
        if day_one_done and "signed: 2026-11-05" in joost.read_text(encoding="utf-8"):
            joost.write_text(joost.read_text(encoding="utf-8").replace(
                "signed: 2026-11-05", "signed: vijf december"), encoding="utf-8")
        # Wait for the alert, and until joost's day (the 9th) is over in campaign time.
        alerted = any(e.kind == "alerted"
                      and (e.detail or "").startswith("fate:stories/02-joost.md:invalid")
                      for e in ledger.events())
        beat = ledger.heartbeat()
        return alerted and beat is not None and beat.at > datetime(2027, 3, 10, tzinfo=UTC)

    alerts = run_scheduler(project, sandbox, local(0), 3, break_joost_then_wait)
    [alert] = [a for a in alerts if a.startswith("02-joost has an error and will not be posted")]
    assert "consent.signed" in alert and "YYYY-MM-DD" in alert
    assert not any("Joost" in p["caption"] for p in sandbox.posts())
    with Ledger.open(project.ledger_path) as ledger:
        records = ledger.posts("02-joost")
        # At the end of its day, every post of the broken story is missed, with the reason,
        # and one alert says so: nothing is left pending and nothing is lost without a word.
        assert {r.state for r in records} == {"missed"}
        assert all("the story file has an error" in (r.last_error or "") for r in records)
    [missed] = [a for a in alerts if a.startswith("MISSED: 02-joost")]
    assert "the story file has an error" in missed


def test_an_edited_campaign_toml_reaches_the_publishers(tmp_path: Path, sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    clock = CompressedClock(origin=local(0), day_seconds=60)
    with Ledger.open(project.ledger_path) as ledger:
        publishing = Publishing(project=project, ledger=ledger, env=sandbox.env(), rehearsal=False)
        alerter = Alerter(project.settings.alerts.model_copy(update={"email_to": []}), ledger, {})
        scheduler = Scheduler(project, ledger, publishing, alerter, clock)
        scheduler.rebuild(clock.now())
        before = publishing.publisher("x")
        assert before.settings.username == "CancerCentrumNL"  # type: ignore[attr-defined]
        config = project.config_file
        config.write_text(config.read_text(encoding="utf-8").replace(
            'username = "CancerCentrumNL"', 'username = "ZeldzaamNL"'), encoding="utf-8")
        scheduler.rebuild(clock.now())
        after = publishing.publisher("x")
        assert after is not before
        assert after.settings.username == "ZeldzaamNL"  # type: ignore[attr-defined]
        assert scheduler.project.settings.platforms.x.username == "ZeldzaamNL"  # type: ignore[union-attr]


def test_hostile_files_dropped_in_mid_week_never_stop_the_others(tmp_path: Path,
                                                                  sandbox: Sandbox) -> None:
    """Issue 13: each file that used to hang `check` or kill the watch job, dropped into
    stories/ on day two; every other post still goes out on time, and an alert names each."""
    from tests.test_check import HOSTILE, _special_files

    project = campaign_copy(tmp_path, stories=["01-marieke", "02-joost", "03-fatima"])
    config = project.config_file
    config.write_text(config.read_text(encoding="utf-8").replace(
        "end = 2027-03-14", "end = 2027-03-10"), encoding="utf-8")
    project = load_project(config)
    stories = project.stories_dir
    names: list[str] = []

    def drop_then_wait(ledger: Ledger) -> bool:
        if not names and day_one_final(ledger):
            names.extend(_special_files(stories))
            for name, _words in HOSTILE:
                shutil.copy2(REPO / "tests" / "fixtures" / "stories" / name, stories / name)
                names.append(name)
        alerted = " ".join(e.detail or "" for e in ledger.events() if e.kind == "alerted")
        beat = ledger.heartbeat()
        return (bool(names) and all(n in alerted for n in names)
                and beat is not None and beat.at > datetime(2027, 3, 11, tzinfo=UTC))

    alerts = run_scheduler(project, sandbox, local(0), 12, drop_then_wait)
    for name in names:
        assert [a for a in alerts if f"stories/{name}" in a], f"no alert names {name}"
    with Ledger.open(project.ledger_path) as ledger:
        records = [r for r in ledger.posts() if r.story_id in ("02-joost", "03-fatima")]
        planned = [p for p in run_check(project, local(0)).plan.posts
                   if p.story_id in ("02-joost", "03-fatima")]
        assert len(records) == len(planned) > 0
        assert {r.state for r in records} == {"posted"}
        # On time: none later than a campaign hour (0.5 s of wall time at 12 s a day).
        late = max((r.posted_at - r.due).total_seconds() for r in records  # type: ignore[operator]
                   if r.posted_at and r.due)
        assert late < 3600, f"a post was {late / 60:.0f} campaign minutes late"
        assert not [r for r in ledger.posts() if r.story_id.startswith(("09-", "10-", "11-", "12-"))]


class _Wrapped(Publisher):
    """The real publisher, passed through; a test's wrapper changes `publish`."""

    def __init__(self, real: Publisher) -> None:
        self.real = real
        self.platform = real.platform  # type: ignore[misc]

    def publish(self, request: PublishRequest) -> Published:
        return self.real.publish(request)

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        return self.real.recent_posts(since, limit)

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        self.real.delete(remote_id, story=story)

    def check_credentials(self) -> CredentialReport:
        return self.real.check_credentials()


class _RetryOnce(_Wrapped):
    """The real publisher, but its first post answers "try again" (issue 14's lost retry)."""

    def __init__(self, real: Publisher) -> None:
        super().__init__(real)
        self.calls = 0

    def publish(self, request: PublishRequest) -> Published:
        self.calls += 1
        if self.calls == 1:
            raise PostRetryable(self.platform, "busy, try again", story=request.story_id)
        return self.real.publish(request)


class _SlowAfterRetry(logging.Handler):
    """Keeps the attempt's job running for a while after it scheduled its retry: the retry
    falls due before that job returns, every time (the cause of issue 14's lost retry)."""

    def emit(self, record: logging.LogRecord) -> None:
        if "retrying at" in record.getMessage():
            time.sleep(0.4)


def test_a_retry_due_while_its_attempt_still_runs_is_never_lost(tmp_path: Path,
                                                                sandbox: Sandbox) -> None:
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    wrapped: dict[str, _RetryOnce] = {}

    def make(platform: str, *args: Any, **kwargs: Any) -> Publisher:
        real = make_publisher(platform, *args, **kwargs)  # type: ignore[arg-type]
        if platform != "facebook":
            return real
        wrapped[platform] = _RetryOnce(real)
        return wrapped[platform]

    # 600x: a backoff of 30 campaign seconds is 50 ms of wall time, well inside the 0.4 s.
    clock = CompressedClock(origin=local(9, 59), day_seconds=144)
    handler = _SlowAfterRetry()
    scheduler_log = logging.getLogger("campaign.scheduler")
    scheduler_log.addHandler(handler)
    level = scheduler_log.level
    scheduler_log.setLevel(logging.INFO)
    try:
        with Ledger.open(project.ledger_path) as ledger, Ledger.open(project.ledger_path) as reader:
            publishing = Publishing(project=project, ledger=ledger, env=sandbox.env(),
                                    rehearsal=True, make=make,
                                    publisher_options={"instagram": {"poll_interval": 0.01}},
                                    platform_time=clock.wall)
            alerter = Alerter(project.settings.alerts.model_copy(update={"email_to": []}), ledger,
                              sandbox.env())
            scheduler = Scheduler(project, ledger, publishing, alerter, clock, poll_seconds=0.05)
            scheduler.start()
            try:
                wait_for(lambda: (reader.post("01-marieke", "facebook") or _NONE).state
                         in ("posted", "missed", "failed"), "the facebook post", timeout=30)
            finally:
                scheduler.stop()
            record = reader.post("01-marieke", "facebook")
    finally:
        scheduler_log.removeHandler(handler)
        scheduler_log.setLevel(level)
    assert record is not None and record.state == "posted", record
    assert record.attempts == 2 and wrapped["facebook"].calls == 2


class _Nothing:
    state = None


_NONE = _Nothing()


def test_the_rehearsal_summary_accounts_for_every_post_of_a_story_broken_mid_week(
        tmp_path: Path) -> None:
    import threading

    project = campaign_copy(tmp_path)
    fatima = project.stories_dir / "03-fatima.md"
    workdir = tmp_path / "rehearsal"
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(rehearse(
        project, day_seconds=4, until_done=True, faults=[], workdir=workdir,
        install_signals=False)), daemon=True)
    thread.start()
    wait_for(lambda: (workdir / "ledger.sqlite").is_file(), "the rehearsal's ledger")
    with Ledger.open(workdir / "ledger.sqlite") as ledger:
        wait_for(lambda: any(r.state == "posted" for r in ledger.posts()), "the first post")
    fatima.write_text(fatima.read_text(encoding="utf-8").replace("title:", "titel:"),
                      encoding="utf-8")
    thread.join(120)
    [done] = result
    summary = done.summary
    theirs = [p for p in summary["posts"] if p["story"] == "03-fatima"]
    assert theirs and {p["state"] for p in theirs} == {"missed"}
    assert all(p["last_error"].startswith("not posted: the story file has an error")
               for p in theirs)
    # Every post of the plan is in the summary, whatever became of it.
    assert len(summary["posts"]) == summary["states"]["posted"] + len(theirs)
    [fate] = [s for s in summary["stories"] if s["id"] == "03-fatima"]
    assert fate["fate"] == "invalid" and "title: is required" in fate["reason"]


# -- issue 19: the schedule index, posts of one moment in parallel, no false missed ----------

def _idle_scheduler(project: Project, ledger: Ledger, clock: CompressedClock) -> Scheduler:
    """A Scheduler that is never started: its jobs stay APScheduler's pending jobs."""
    publishing = Publishing(project=project, ledger=ledger, env={}, rehearsal=True)
    alerter = Alerter(project.settings.alerts.model_copy(update={"email_to": []}), ledger, {})
    return Scheduler(project, ledger, publishing, alerter, clock, collect_metrics=False)


def _apscheduler_posts(scheduler: Scheduler) -> dict[str, str]:
    """Post key -> job id, as APScheduler itself lists its jobs."""
    jobs = [job for job in scheduler._scheduler.get_jobs() if job.id.startswith("post:")]
    found = {job.id.removeprefix("post:").split("#", 1)[0]: job.id for job in jobs}
    assert len(found) == len(jobs), "two jobs for one post"
    return found


def test_the_schedule_index_stays_right_after_add_remove_and_rebuild(tmp_path: Path) -> None:
    project = campaign_copy(tmp_path)
    clock = CompressedClock(origin=local(0), day_seconds=600)
    with Ledger.open(project.ledger_path) as ledger:
        scheduler = _idle_scheduler(project, ledger, clock)
        moment = local(9).astimezone(UTC)
        keys = [f"{i:04d}-story/x" for i in range(2000)]
        for i, key in enumerate(keys):
            scheduler._schedule(key, moment + timedelta(minutes=i))
        for key in keys[::3]:  # a retry: the same post again, a new job
            scheduler._schedule(key, moment + timedelta(hours=30))
        for key in keys[1::3]:
            scheduler._unschedule(key)
        scheduler._unschedule("never-scheduled/x")  # harmless
        left = {k for i, k in enumerate(keys) if i % 3 != 1}
        assert set(scheduler._jobs) == left
        assert {k: job_id for k, (job_id, _) in scheduler._jobs.items()} == \
            _apscheduler_posts(scheduler)
        assert scheduler._jobs[keys[0]][1] == moment + timedelta(hours=30)

        # A rebuild makes the index the plan's pending posts, and APScheduler agrees.
        scheduler.rebuild(clock.now())
        planned = {p.key for p in run_check(project, clock.now(), facts=ledger.facts()).plan.posts}
        assert set(scheduler._jobs) == planned
        assert {k: job_id for k, (job_id, _) in scheduler._jobs.items()} == \
            _apscheduler_posts(scheduler)
        # A story file removed: its posts leave the index and APScheduler at the next rebuild.
        (project.stories_dir / "03-fatima.md").unlink()
        scheduler.rebuild(clock.now())
        assert not any(k.startswith("03-fatima/") for k in scheduler._jobs)
        assert set(scheduler._jobs) == set(_apscheduler_posts(scheduler))
        assert set(scheduler._jobs) == set(scheduler.posts)


def test_a_due_post_waiting_for_the_worker_is_not_swept_as_missed(tmp_path: Path) -> None:
    """Issue 19's missed posts: a long first rebuild left many posts due at once, and the
    watch tick, queued on the worker between their jobs, swept those still waiting as
    missed once their day was over. A post that has a job is its job's to send."""
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    clock = CompressedClock(origin=local(0), day_seconds=600)
    with Ledger.open(project.ledger_path) as ledger:
        scheduler = _idle_scheduler(project, ledger, clock)
        scheduler.rebuild(local(0).astimezone(UTC))
        assert scheduler._post_jobs() == set(scheduler.posts) != set()
        # The jobs' times came and went, the worker was busy: the day is over.
        after_the_day = local(0).astimezone(UTC) + timedelta(days=1, minutes=5)
        scheduler._sweep(after_the_day)
        assert {r.state for r in ledger.posts()} == {"planned"}
        # A post that has no job (it was held, say, and its job has run) is missed then.
        key = sorted(scheduler.posts)[0]
        scheduler._unschedule(key)
        scheduler._sweep(after_the_day)
        states = {r.key: r.state for r in ledger.posts()}
        assert states.pop(key) == "missed" and set(states.values()) == {"planned"}


class _Timed(_Wrapped):
    """The real publisher, made slow, recording when each of its posts was being sent."""

    calls: ClassVar[list[tuple[str, float, float]]] = []

    def delay(self) -> float:
        return 0.3  # a slow platform: long enough for every overlap to show

    def publish(self, request: PublishRequest) -> Published:
        start = time.monotonic()
        time.sleep(self.delay())
        try:
            return self.real.publish(request)
        finally:
            _Timed.calls.append((self.platform, start, time.monotonic()))


def _timed_scheduler(project: Project, ledger: Ledger, sandbox: Sandbox, clock: CompressedClock,
                     timed: type[_Timed]) -> Scheduler:
    """A Scheduler (not started) posting to the sandbox through `timed` publishers."""
    def make(platform: str, *args: Any, **kwargs: Any) -> Publisher:
        return timed(make_publisher(platform, *args, **kwargs))  # type: ignore[arg-type]

    publishing = Publishing(project=project, ledger=ledger, env=sandbox.env(), rehearsal=True,
                            make=make, publisher_options={"instagram": {"poll_interval": 0.01}},
                            platform_time=clock.wall)
    alerter = Alerter(project.settings.alerts.model_copy(update={"email_to": []}), ledger,
                      sandbox.env())
    return Scheduler(project, ledger, publishing, alerter, clock, collect_metrics=False)


def test_posts_of_one_moment_go_out_in_parallel_one_per_platform_exactly_once(
        tmp_path: Path, sandbox: Sandbox) -> None:
    # Two days of posts due at once (as after a long rebuild): planned on day one at
    # midnight, sent when the first post's job runs on day two at 13:00, after every post
    # time of both days. Two posts per platform, so each platform has one to wait for.
    project = campaign_copy(tmp_path, stories=["01-marieke", "02-joost"])
    _Timed.calls = []

    clock = CompressedClock(origin=local(13) + timedelta(days=1), day_seconds=86400)
    with Ledger.open(project.ledger_path) as ledger:
        scheduler = _timed_scheduler(project, ledger, sandbox, clock, _Timed)
        try:
            scheduler.rebuild(local(0).astimezone(UTC))
            assert len(scheduler._jobs) == 2 * len(SUPPORTED)
            first = min(scheduler._jobs, key=lambda k: scheduler._jobs[k][1])
            scheduler._fire(first, scheduler._jobs[first][0])  # as APScheduler calls it
            assert scheduler._jobs == {}  # every due post went with it
            assert scheduler._in_flight == set(scheduler.posts)  # the job did not wait
            scheduler._settle()  # as the job that records their outcomes does
            assert scheduler._in_flight == set()
        finally:
            scheduler.stop()
        records = ledger.posts()
    assert {r.state for r in records} == {"posted"}, [(r.key, r.state, r.last_error)
                                                      for r in records]
    assert all(r.attempts == 1 for r in records)
    # Exactly once: one sandbox post per ledger post.
    on_sandbox = Counter(p["platform"] for p in sandbox.posts())
    assert on_sandbox == Counter(r.platform for r in records)
    # Never two posts to one platform at once ...
    for platform in SUPPORTED:
        spans = sorted((start, end) for p, start, end in _Timed.calls if p == platform)
        assert len(spans) == 2
        assert spans[0][1] <= spans[1][0], f"two posts to {platform} at once"
    # ... but the platforms at once: posts to other platforms were being sent meanwhile.
    overlapping = sum(1 for p, s, e in _Timed.calls for q, s2, e2 in _Timed.calls
                      if p < q and s < e2 and s2 < e)
    assert overlapping >= len(SUPPORTED) - 1


class _SlowX(_Timed):
    """X made slow (0.5 s a post); every other platform as fast as the sandbox."""

    def delay(self) -> float:
        return 0.5 if self.platform == "x" else 0.0


def test_a_free_platform_does_not_wait_for_another_platform_s_slow_post(
        tmp_path: Path, sandbox: Sandbox) -> None:
    """The 09:30 posts (Mastodon, X) are being sent when Bluesky's 10:00 comes: Bluesky goes
    out at once, while X is still sending; nothing is planned again or missed meanwhile."""
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    _Timed.calls = []

    # 10:45 in Amsterdam: the posts of 08:00 to 09:30 (UTC; 09:00 to 10:30 there) are due.
    clock = CompressedClock(origin=local(10, 45), day_seconds=86400)
    with Ledger.open(project.ledger_path) as ledger:
        scheduler = _timed_scheduler(project, ledger, sandbox, clock, _SlowX)
        try:
            scheduler.rebuild(local(0).astimezone(UTC))
            due = sorted(scheduler._jobs, key=lambda k: scheduler._jobs[k][1])
            scheduler._fire(due[0], scheduler._jobs[due[0]][0])  # 08:00 to 09:30: four posts
            sending = set(scheduler._in_flight)
            assert "01-marieke/x" in sending and "01-marieke/bluesky" not in sending
            # While they are sent, a watch tick plans again and sweeps: nothing changes.
            scheduler.rebuild(clock.now())
            scheduler._sweep(clock.now())
            assert not sending & set(scheduler._jobs)
            assert "01-marieke/bluesky" in scheduler._jobs
            bluesky = scheduler._jobs["01-marieke/bluesky"][0]
            scheduler._fire("01-marieke/bluesky", bluesky)  # its time came (as APScheduler)
            scheduler._settle()
            assert scheduler._in_flight == set()
        finally:
            scheduler.stop()
        records = {r.key: r for r in ledger.posts()}
    assert {r.state for key, r in records.items() if "instagram" not in key} == {"posted"}
    assert all(r.attempts == 1 for r in records.values() if r.state == "posted")
    spans = {p: (start, end) for p, start, end in _Timed.calls}
    assert spans["bluesky"][0] < spans["x"][1], "Bluesky waited for X"
    assert Counter(p["platform"] for p in sandbox.posts())["x"] == 1


def test_prepare_loads_what_the_first_post_needs(tmp_path: Path) -> None:
    """Commands load twitter-text, markdown-it, the drawing and the `regex` patterns when
    first used; a scheduler loads them in `prepare`, before the first post is due (lateness,
    and memory that stays together). The emoji data is not among them: the example week has
    no emoji sequence that twitter-text does not know; nor is Babel: the messages' days and
    numbers come from `locale/formats.json` (memory, issue 19)."""
    script = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from pathlib import Path\n"
        "from campaign.alerts import Alerter\n"
        "from campaign.config import load_project\n"
        "from campaign.ledger import Ledger\n"
        "from campaign.publish import Publishing\n"
        "from campaign.scheduler import CompressedClock, Scheduler\n"
        f"project = load_project(Path({str(campaign_copy(tmp_path).config_file)!r}))\n"
        "heavy = ('twitter_text', 'markdown_it', 'campaign.cards.draw', 'regex')\n"
        "assert not [m for m in heavy if m in sys.modules], 'loaded too early'\n"
        "with Ledger.open(project.ledger_path) as ledger:\n"
        "    clock = CompressedClock(origin=datetime(2027, 3, 8, tzinfo=UTC), day_seconds=6)\n"
        "    publishing = Publishing(project=project, ledger=ledger, env={}, rehearsal=True)\n"
        "    alerter = Alerter(project.settings.alerts.model_copy(update={'email_to': []}),\n"
        "                      ledger, {})\n"
        "    Scheduler(project, ledger, publishing, alerter, clock,\n"
        "              collect_metrics=False).prepare()\n"
        "from campaign import captions, counting\n"
        "built = {'patterns': counting._WORD._compiled is not None\n"
        "                     and captions.HASHTAG._compiled is not None}\n"
        "print([m for m in heavy if m not in sys.modules] + [k for k, v in built.items() if not v]\n"
        "      + ['emoji'] * ('emoji' in sys.modules)\n"
        "      + [m for m in sys.modules if m.startswith('babel')])\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_planning_loads_the_emoji_data_for_a_story_that_needs_it(tmp_path: Path) -> None:
    """The emoji data (5 MiB) is loaded only for an emoji sequence twitter-text does not
    know, and then when the scheduler plans, not at the moment of the post."""
    project = campaign_copy(tmp_path, stories=["01-marieke"])
    story = project.root / "stories" / "01-marieke.md"
    story.write_text(story.read_text(encoding="utf-8").replace(
        "quote: Vraag door.", "quote: Vraag door 🫶🏽."), encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import sys
        from datetime import UTC
        from pathlib import Path
        from campaign.config import load_project
        from campaign.ledger import Ledger
        from campaign.scheduler import CompressedClock
        from tests.test_scheduler import _idle_scheduler, local
        project = load_project(Path({str(project.config_file)!r}))
        before = "emoji" in sys.modules
        with Ledger.open(project.ledger_path) as ledger:
            clock = CompressedClock(origin=local(0), day_seconds=600)
            _idle_scheduler(project, ledger, clock).rebuild(local(0).astimezone(UTC))
        print(before, "emoji" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=REPO, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-2:] == ["False", "True"]
