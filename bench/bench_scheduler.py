"""The scheduler's timing and memory, as ratios from one run (not a timed test).

1. Lateness: the example week rehearsed at --day-seconds 6; each post's lateness
   against its due time as a fraction of the compressed day (aim: under 5 %).
2. Cost per post: the whole publish path against the sandbox (read the story,
   compose, render from cache, ledger commits, HTTP) divided by the time the
   sandbox itself spent answering those requests.
3. Memory over a synthetic campaign of about 1,000 posts: resident memory after
   the last quarter of the posts against after the first quarter (aim: flat, ~1.0).

    .venv/bin/python bench/bench_scheduler.py [--posts 1000]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dotenv import dotenv_values

from campaign.alerts import Alerter
from campaign.cards import render_all
from campaign.check import run_check
from campaign.config import AlertSettings, load_project
from campaign.ledger import Ledger
from campaign.publish import Publishing, publish_post
from campaign.rehearsal import rehearse
from campaign.sandbox import Sandbox
from campaign.sandbox.core import Request, Response
from campaign.scheduler import CompressedClock, Scheduler

REPO = Path(__file__).resolve().parent.parent


class TimedSandbox(Sandbox):
    """The sandbox, adding up the time its handlers take (the platform's own time)."""

    def __init__(self) -> None:
        super().__init__(port=0)
        self.busy = 0.0
        self._lock = threading.Lock()

    def dispatch(self, request: Request) -> Response:
        start = time.perf_counter()
        try:
            return super().dispatch(request)
        finally:
            with self._lock:
                self.busy += time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def copy_campaign(target: Path, stories: int | None = None) -> Path:
    target.mkdir(parents=True)
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    if stories:
        end = date(2027, 3, 8) + timedelta(days=stories - 1)
        text = text.replace("end = 2027-03-14", f"end = {end.isoformat()}")
    (target / "campaign.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "assets", target / "assets")
    if stories is None:
        shutil.copytree(REPO / "stories", target / "stories")
    else:
        (target / "stories").mkdir()
        template = (REPO / "stories" / "05-sanne.md").read_text(encoding="utf-8")
        for i in range(stories):
            (target / "stories" / f"{i:04d}.md").write_text(
                template.replace("Sanne", f"Persoon {i}"), encoding="utf-8")
    return target


def lateness(workdir: Path) -> None:
    project = load_project(copy_campaign(workdir / "week") / "campaign.toml")
    day_seconds = 6.0
    result = rehearse(project, day_seconds=day_seconds, until_done=True, faults=[],
                      workdir=workdir / "rehearsal", install_signals=False)
    with Ledger.open(workdir / "rehearsal" / "ledger.sqlite") as ledger:
        late = [(r.posted_at - r.due).total_seconds() / 86400
                for r in ledger.posts() if r.posted_at and r.due]
    print(f"1. lateness of {len(late)} posts as a fraction of the compressed day "
          f"({day_seconds:g} s): median {statistics.median(late):.2%}, "
          f"max {max(late):.2%}   (aim: under 5 %)")
    assert result.summary["states"] == {"posted": len(late)}


def cost_per_post(workdir: Path) -> None:
    project = load_project(copy_campaign(workdir / "cost") / "campaign.toml")
    now = datetime(2027, 3, 8, 8, tzinfo=UTC)
    report = run_check(project, now)
    render_all(report.stories, project)  # cards cached, as in a running week
    sandbox = TimedSandbox()
    sandbox.start()
    try:
        with Ledger.open(project.ledger_path) as ledger:
            ctx = Publishing(project=project, ledger=ledger, env=sandbox.env(), rehearsal=True,
                             publisher_options={"instagram": {"poll_interval": 0.01}})
            start = time.perf_counter()
            for post in report.plan.posts:
                publish_post(ctx, post.story_id, post.platform, now, post=post)
            total = time.perf_counter() - start
    finally:
        sandbox.stop()
    count = len(report.plan.posts)
    print(f"2. whole path per post {total / count * 1000:.1f} ms / sandbox's own time "
          f"{sandbox.busy / count * 1000:.1f} ms = {total / sandbox.busy:.1f}x "
          f"({count} posts)")


def memory(workdir: Path, posts: int) -> None:
    stories = max(1, posts // 6)
    project = load_project(copy_campaign(workdir / "memory", stories) / "campaign.toml")
    origin = datetime(2027, 3, 8, tzinfo=project.settings.tz).astimezone(UTC)
    report = run_check(project, origin)
    render_all(report.stories, project)
    total = len(report.plan.posts)
    # The sandbox keeps every post and image in memory: it runs in a process of its own,
    # so that only the scheduler's memory is measured here.
    env_file = workdir / "sandbox.env"
    server = subprocess.Popen(
        [sys.executable, "-m", "campaign", "sandbox", "--port", str(free_port()),
         "--env-file", str(env_file)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples: list[tuple[int, float]] = []
    try:
        deadline = time.monotonic() + 30
        while not env_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        env = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
        with Ledger.open(project.ledger_path) as ledger, Ledger.open(project.ledger_path) as reader:
            clock = CompressedClock(origin=origin, day_seconds=0.5)
            ctx = Publishing(project=project, ledger=ledger, env=env, rehearsal=True,
                             publisher_options={"instagram": {"poll_interval": 0.01}},
                             platform_time=clock.wall)
            alerter = Alerter(AlertSettings(daily_summary_time=None), ledger, {})
            scheduler = Scheduler(project, ledger, ctx, alerter, clock, until_done=True,
                                  poll_seconds=0.2, heartbeat_seconds=1)
            scheduler.start()
            marks = [total // 4, total // 2, 3 * total // 4, total]
            while marks:
                done = sum(1 for r in reader.posts() if r.final)
                if done >= marks[0]:
                    samples.append((done, rss_mib()))
                    marks.pop(0)
                time.sleep(0.2)
            scheduler.stop()
    finally:
        server.terminate()
        server.wait()
    line = ", ".join(f"{n} posts {mib:.0f} MiB" for n, mib in samples)
    print(f"3. memory over {total} posts: {line}; last / first quarter = "
          f"{samples[-1][1] / samples[0][1]:.2f}   (aim: ~1.0, flat)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--posts", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        lateness(workdir)
        cost_per_post(workdir)
        memory(workdir, args.posts)


if __name__ == "__main__":
    main()
