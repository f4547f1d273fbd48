"""`campaign run --sandbox`: rehearse the whole week on a laptop in a minute.

The rehearsal is the real scheduler with three things swapped, never patched:
- a `CompressedClock`: each campaign day lasts `day_seconds` of wall time,
  starting at the first campaign day's midnight, now;
- its own sandbox (all six platforms) on a free port in this process, and the
  sandbox's credentials instead of the real ones;
- its own ledger and build folder under `state/rehearsals/<time>/`, so the
  real ledger is never touched.

Stories that are not approved are posted to the sandbox all the same, and
listed as "would be held". A fault schedule (`--faults demo`, or a JSON file
of sandbox faults) shows retries, reconciliation and alerts happening. The
summary is the JSON of SPEC §10 plus a few more keys.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import requests

from campaign.account import day_account, lateness, shown_lateness, start_account
from campaign.alerts import Alerter
from campaign.cards import render_all
from campaign.check import CheckCache, CheckReport, run_check
from campaign.config import AlertSettings, PathSettings, Project
from campaign.errors import CampaignError, UserError
from campaign.i18n import N_, _, format_clock, format_short_day, ngettext
from campaign.lead import run_scheduler
from campaign.ledger import FileLock, Ledger, read_facts, scheduler_lock
from campaign.publish import Publishing, warm_up
from campaign.sandbox import Fault, Sandbox, SandboxError
from campaign.sandbox.demo import DEMO_FAULTS
from campaign.scheduler import CompressedClock, Scheduler
from campaign.secrets import RedactingFilter
from campaign.status import status_report

log = logging.getLogger("campaign.rehearsal")
#: A PostgreSQL database for rehearsing two machines (README, "Two machines").
REHEARSAL_LEDGER_ENV = "CAMPAIGN_REHEARSAL_LEDGER_URL"

@dataclass
class RehearsalResult:
    summary: dict[str, Any]
    alerts: list[str] = field(default_factory=list)
    workdir: Path | None = None


def load_faults(spec: str | None) -> list[Fault]:
    """`demo`, a path to a JSON list of faults, or None."""
    if not spec:
        return []
    if spec == "demo":
        raw = DEMO_FAULTS
    else:
        path = Path(spec)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(_("--faults {spec}: cannot read it as JSON ({error}): give `demo` "
                              "or a JSON list of faults as in docs/sandbox.md").format(
                                  spec=spec, error=exc)) from None
        if not isinstance(raw, list):
            raise UserError(_("--faults {spec}: must be a JSON list of faults").format(spec=spec))
    faults = []
    for entry in raw:
        try:
            faults.append(Fault(**entry))
        except TypeError as exc:
            raise UserError(_("--faults {spec}: {entry} is not a fault ({error})").format(
                spec=spec, entry=repr(entry), error=exc)) from None
    return faults


def rehearsal_project(project: Project, workdir: Path) -> Project:
    """The same campaign with its own ledger and build folder, and alerts kept local."""
    paths = PathSettings(
        stories=project.settings.paths.stories,
        # Its own file; or, to rehearse two machines, the shared database named for
        # rehearsals only (never the real week's CAMPAIGN_LEDGER_URL).
        ledger=os.environ.get(REHEARSAL_LEDGER_ENV) or str(workdir / "ledger.sqlite"),
        build=str(workdir / "build"),
    )
    settings = project.settings.model_copy(update={"paths": paths, "alerts": AlertSettings(
        daily_summary_time=project.settings.alerts.daily_summary_time)})
    return Project(root=project.root, settings=settings, config_file=project.config_file)


def rehearsals_dir(project: Project) -> Path:
    return project.root / "state" / "rehearsals"


def running_rehearsals(project: Project) -> list[tuple[Path, str]]:
    """(workdir, pid) of every rehearsal whose scheduler is running now, newest first."""
    folder = rehearsals_dir(project)
    found: list[tuple[Path, str]] = []
    if not folder.is_dir():
        return found
    for workdir in sorted(folder.iterdir(), reverse=True):
        lock_file = workdir / "ledger.sqlite.lock"
        if not lock_file.is_file():
            continue
        lock = FileLock(lock_file)
        holder = lock.try_acquire()
        if holder is None:
            lock.release()  # nobody held it: that rehearsal has ended
        else:
            found.append((workdir, holder))
    return found


@dataclass
class RehearsalTarget:
    """A rehearsal, as a control command (`pause`, `status`, `post` ...) acts on it."""

    workdir: Path
    project: Project
    clock: CompressedClock
    env: dict[str, str]


def open_rehearsal(project: Project, workdir: Path | None = None) -> RehearsalTarget:
    """The rehearsal `find_rehearsal` names, with its campaign clock and its sandbox."""
    folder = find_rehearsal(project, workdir)
    origin = datetime.combine(project.settings.campaign.start, time(0),
                              tzinfo=project.settings.tz).astimezone(UTC)
    saved = folder / "rehearsal.json"
    if saved.is_file():
        clock = _clock(folder, origin, 8.0)
    else:
        clock = CompressedClock(origin=origin, day_seconds=8.0)
    env_file = folder / "sandbox.json"
    own = json.loads(env_file.read_text(encoding="utf-8")) if env_file.is_file() else {}
    return RehearsalTarget(folder, rehearsal_project(project, folder), clock,
                           {**os.environ, **own})


def find_rehearsal(project: Project, workdir: Path | None = None) -> Path:
    """The rehearsal a control command acts on: `workdir`, else the one running now,
    else the latest. UserError when there is none."""
    if workdir is not None:
        if not (workdir / "ledger.sqlite").is_file():
            raise UserError(_("{folder} is not a rehearsal folder (it has no ledger.sqlite): "
                              "the rehearsals are in {where}/").format(
                                  folder=workdir, where=project.relative(rehearsals_dir(project))))
        return workdir.resolve()
    running = running_rehearsals(project)
    if running:
        return running[0][0]
    folder = rehearsals_dir(project)
    past = sorted(p for p in folder.iterdir() if (p / "ledger.sqlite").is_file()) \
        if folder.is_dir() else []
    if not past:
        raise UserError(_("there is no rehearsal yet: start one with "
                          "`campaign run --sandbox --day-seconds 6 --until-done`"))
    return past[-1]


class _SandboxHandle:
    """The rehearsal's sandbox: one started in this process, or one already running
    (`campaign sandbox`) that the environment points at, which outlives a killed run."""

    def __init__(self, url: str | None) -> None:
        self.external = url.rstrip("/") if url else None
        self.own = None if url else Sandbox(port=0)

    def start(self) -> None:
        if self.own is not None:
            try:
                self.own.start()
            except SandboxError as exc:
                raise UserError(str(exc)) from None
            return
        try:
            requests.get(f"{self.external}/_sandbox/health", timeout=5).raise_for_status()
        except requests.RequestException:
            raise UserError(_("no practice platforms (sandbox) answer at {url}: start them "
                              "with `campaign sandbox --env-file F` and `set -a; . F`").format(
                                  url=self.external)) from None

    @property
    def url(self) -> str:
        return self.own.url if self.own is not None else str(self.external)

    def env(self) -> dict[str, str]:
        # An external sandbox's variables come from the environment (its --env-file).
        return {**os.environ, **self.own_env()}

    def own_env(self) -> dict[str, str]:
        """The variables of the sandbox this rehearsal started (sandbox credentials only)."""
        return self.own.env() if self.own is not None else {}

    def add_fault(self, fault: Fault) -> None:
        if self.own is not None:
            try:
                self.own.add_fault(fault)
            except SandboxError as exc:
                raise UserError(f"--faults: {exc}") from None
            return
        answer = requests.post(f"{self.url}/_sandbox/faults", json=fault.as_json(), timeout=10)
        if answer.status_code != 201:
            raise UserError(_("--faults: the practice platforms (sandbox) refused {fault}: "
                              "{answer}").format(fault=fault.as_json(), answer=answer.text))

    def set_clock(self, now: datetime, speed: float) -> None:
        """Run the sandbox's clock (which the posts' numbers grow with) on campaign time."""
        if self.own is not None:
            self.own.clock.set(now=now, speed=speed)
            return
        with suppress(requests.RequestException):
            requests.post(f"{self.url}/_sandbox/clock",
                          json={"now": now.isoformat(), "speed": speed}, timeout=10)

    def posts(self) -> list[dict[str, Any]]:
        if self.own is not None:
            return self.own.posts()
        posts: list[dict[str, Any]] = requests.get(f"{self.url}/_sandbox/posts", timeout=10).json()
        return posts

    def faults_met(self) -> int:
        if self.own is not None:
            return len(self.own.faults.met)
        return len(requests.get(f"{self.url}/_sandbox/faults", timeout=10).json()["met"])

    def stop(self) -> None:
        if self.own is not None:
            self.own.stop()


def _clock(workdir: Path, origin: datetime, day_seconds: float) -> CompressedClock:
    """The rehearsal's clock; a rehearsal resumed from its workdir keeps its timeline,
    so the time it was down passes in campaign time too. A new one is saved (and its
    timeline fixed) by `_start_clock`, once everything is ready."""
    saved = workdir / "rehearsal.json"
    if saved.is_file():
        data = json.loads(saved.read_text(encoding="utf-8"))
        return CompressedClock(origin=datetime.fromisoformat(data["origin"]),
                               day_seconds=float(data["day_seconds"]),
                               wall_origin=datetime.fromisoformat(data["wall_origin"]))
    return CompressedClock(origin=origin, day_seconds=day_seconds)


def _start_clock(workdir: Path, clock: CompressedClock) -> None:
    """Day one starts now (a resumed rehearsal's clock runs on from where it was)."""
    saved = workdir / "rehearsal.json"
    if saved.is_file():
        return
    clock.start()
    saved.write_text(json.dumps({"origin": clock.origin.isoformat(),
                                 "day_seconds": clock.day_seconds,
                                 "wall_origin": clock.wall_origin.isoformat()}), encoding="utf-8")


def rehearse(
    project: Project,
    *,
    day_seconds: float,
    until_done: bool,
    faults: list[Fault],
    workdir: Path | None = None,
    sandbox_url: str | None = None,
    install_signals: bool = True,
    narrate: Callable[[str], None] | None = None,
) -> RehearsalResult:
    """The whole week against the sandbox. With `narrate`, it tells the week as it goes
    (`account.py`: a few lines per day) and writes every detail to `rehearsal.log` in
    its folder instead."""
    if day_seconds < 1:
        raise UserError(_("--day-seconds must be at least 1"))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    workdir = (workdir or project.root / "state" / "rehearsals" / stamp).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    rehearsing = rehearsal_project(project, workdir)
    settings = rehearsing.settings
    origin = datetime.combine(settings.campaign.start, time(0), tzinfo=settings.tz).astimezone(UTC)

    check_cache = CheckCache()  # warm now, so the scheduler's first plan is quick
    report = run_check(rehearsing, origin, check_cache, facts=read_facts(rehearsing.ledger_target))
    if not report.ok:
        raise UserError(_("the campaign has errors, so it cannot be rehearsed: run "
                          "`campaign check`"))
    # Cards first, so that no post waits for its card when its time comes.
    render_all(report.stories, rehearsing)

    log_handler: logging.Handler | None = None
    if narrate is not None:
        log_handler = logging.FileHandler(workdir / "rehearsal.log", encoding="utf-8")
        log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        log_handler.addFilter(RedactingFilter())
        logging.getLogger().addHandler(log_handler)
        spares = list(report.plan.spares)
        for line in start_account(settings.campaign.name, len(settings.days()), day_seconds,
                                  sum(1 for s in report.plan.days.values() if s), spares,
                                  settings.campaign.require_approval, len(faults),
                                  project.relative(workdir / "rehearsal.log")):
            narrate(line)
    try:
        return _rehearse(rehearsing, report, check_cache, workdir, day_seconds, until_done,
                         faults, sandbox_url, install_signals, narrate)
    finally:
        if log_handler is not None:
            logging.getLogger().removeHandler(log_handler)
            log_handler.close()


def _rehearse(rehearsing: Project, report: CheckReport, check_cache: CheckCache, workdir: Path,
              day_seconds: float, until_done: bool, faults: list[Fault], sandbox_url: str | None,
              install_signals: bool, narrate: Callable[[str], None] | None) -> RehearsalResult:
    settings = rehearsing.settings
    origin = datetime.combine(settings.campaign.start, time(0), tzinfo=settings.tz).astimezone(UTC)
    titles = {s.id: s.title for s in report.stories}
    told: set[date] = set()
    sandbox = _SandboxHandle(sandbox_url)
    sandbox.start()
    # Day one starts only once everything is ready (`_start_clock` in `make` below): the
    # check, the cards, the sandbox, and the scheduler's sessions and publishers.
    clock = _clock(workdir, origin, day_seconds)
    # So that `campaign post --rehearsal` reaches this rehearsal's sandbox. Only the
    # sandbox's own variables (its made-up credentials), never the real environment.
    target = workdir / "sandbox.json"
    target.write_text(json.dumps(sandbox.own_env()), encoding="utf-8")
    target.chmod(0o600)
    alerts: list[str] = []
    try:
        for fault in faults:
            sandbox.add_fault(fault)
        env = sandbox.env()
        with scheduler_lock(rehearsing.ledger_target), \
                Ledger.open(rehearsing.ledger_target) as ledger:
            publishing = Publishing(
                project=rehearsing, ledger=ledger, env=env, rehearsal=True,
                platform_time=clock.wall, link=feed_link(workdir / "feeds"),
            )
            alerter = Alerter(settings.alerts, ledger, env, campaign_name=settings.campaign.name,
                              extra_sink=alerts.append)
            poll = max(0.05, min(1.0, clock.day_seconds / 100))
            def tell(day: date) -> None:
                # The saved feeds fill day by day (the workspace shows them as they do),
                # in a thread of their own: posting never waits for them.
                threading.Thread(target=_snapshot_quietly, args=(sandbox.url, workdir / "feeds"),
                                 daemon=True).start()
                if narrate is None or day in told:
                    return
                told.add(day)
                for line in day_account(day, ledger.posts(), ledger.events(), titles,
                                        settings.tz):
                    narrate(line)

            def make() -> Scheduler:
                made = Scheduler(rehearsing, ledger, publishing, alerter, clock,
                                 until_done=until_done, poll_seconds=poll,
                                 heartbeat_seconds=max(0.2, clock.day_seconds / 10),
                                 check_cache=check_cache,
                                 on_day_end=tell)
                made.prepare()
                _start_clock(workdir, clock)
                sandbox.set_clock(clock.now(), clock.speed)  # numbers grow in campaign hours
                return made
            # On a shared database (rehearsing two machines), it posts only while it leads;
            # a standby loads what posting needs while it waits, not once it leads.
            warm_up()
            scheduler = run_scheduler(ledger, make, install_signals=install_signals,
                                      say=narrate or log.info) or make()
            for day in settings.days():  # the days the run ended before their end
                if clock.now() >= datetime.combine(day, time(0), tzinfo=settings.tz):
                    tell(day)
            summary = _summary(rehearsing, ledger, sandbox, scheduler, clock.now(),
                               clock.day_seconds)
            summary["report_url"] = _final_report(rehearsing, ledger, sandbox, scheduler,
                                                  clock, titles)
            tz = settings.tz

            def campaign_time(wall: datetime) -> str:
                moment = clock.origin + (wall - clock.wall_origin) * clock.speed
                local = moment.astimezone(tz)
                return _("{moment} (in the rehearsed week)").format(
                    moment=f"{format_short_day(local.date())} {format_clock(local)}")

            with _snapshot_lock:  # after any day's snapshot still running
                summary["feed_url"] = snapshot_feeds(sandbox.url, workdir / "feeds",
                                                     campaign_time).as_uri()
    finally:
        sandbox.stop()
    summary["alerts"] = alerts
    summary["workdir"] = str(workdir)
    return RehearsalResult(summary=summary, alerts=alerts, workdir=workdir)


def _final_report(project: Project, ledger: Ledger, sandbox: _SandboxHandle,
                  scheduler: Scheduler, clock: CompressedClock,
                  titles: dict[str, str]) -> str | None:
    """The week's numbers as at its end, fetched once more from the practice platforms
    (their clock moved on to the end of the week), and the report of them."""
    from campaign.metrics import week_end
    from campaign.report import make_report, write_report

    end = max(clock.now(), week_end(project.settings))
    sandbox.set_clock(end, 1.0)
    scheduler.fetch_metrics(end)
    try:
        page = write_report(make_report(project, ledger, end, titles), project)
    except (OSError, CampaignError) as exc:
        log.warning("the rehearsal's report was not written: %s", exc)
        return None
    return page.as_uri()


def snapshot_feeds(url: str, target: Path,
                   shown_time: Callable[[datetime], str] | None = None) -> Path:
    """Save the sandbox's feed pages and images as static files, links made relative,
    so the feeds can still be looked at after the rehearsal's sandbox has stopped.

    The JSON of `/_sandbox/posts` is saved next to them (the index links to it), and
    `shown_time` turns each post's time (the wall clock, when the sandbox took it) into
    the rehearsal's campaign day and time."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "images").mkdir(exist_ok=True)
    session = requests.Session()

    def fetch(path: str) -> str:
        answer = session.get(url + path, timeout=30)
        answer.raise_for_status()
        return answer.text

    def image(match: re.Match[str]) -> str:
        platform, post_id = match.group(1), match.group(2)
        name = f"images/{platform}-{re.sub(r'[^A-Za-z0-9_-]', '_', unquote(post_id))}.img"
        data = session.get(f"{url}/_sandbox/image/{platform}/{post_id}", timeout=30)
        if data.ok:
            (target / name).write_bytes(data.content)
        return f'src="{name}"'

    def when(match: re.Match[str]) -> str:
        moment = datetime.fromisoformat(match.group(1))
        shown = shown_time(moment) if shown_time else match.group(1)
        return f'<time datetime="{match.group(1)}">{shown}</time>'

    def relative(html: str) -> str:
        html = re.sub(r'src="/_sandbox/image/(\w+)/([^"]+)"', image, html)
        html = re.sub(r'href="/_sandbox/feed/(\w+)"', r'href="\1.html"', html)
        html = re.sub(r'<time datetime="([^"]+)">[^<]*</time>', when, html)
        html = html.replace('href="/_sandbox/posts"', 'href="posts.json"')
        return html.replace('href="/"', 'href="index.html"')

    (target / "posts.json").write_text(fetch("/_sandbox/posts"), encoding="utf-8")
    index = fetch("/")
    (target / "index.html").write_text(relative(index), encoding="utf-8")
    for platform in sorted(set(re.findall(r'href="/_sandbox/feed/(\w+)"', index))):
        page = fetch(f"/_sandbox/feed/{platform}")
        (target / f"{platform}.html").write_text(relative(page), encoding="utf-8")
    return target / "index.html"


_snapshot_lock = threading.Lock()


def _snapshot_quietly(url: str, target: Path) -> None:
    """`snapshot_feeds` during the week: one at a time, and never an error of the week's."""
    with _snapshot_lock:
        try:
            snapshot_feeds(url, target)
        except (requests.RequestException, OSError) as exc:
            log.info("the feeds were not saved this time (%s): they are saved at the end", exc)


def feed_link(feeds: Path) -> Callable[[str, str], str]:
    """Where a rehearsal's post can be seen: its place in the saved feed page (the real
    x.com or bsky.app know nothing of a sandbox's ids, and the sandbox stops at the end)."""
    def link(platform: str, remote_id: str) -> str:
        return f"{(feeds / f'{platform}.html').as_uri()}#post-{quote(remote_id, safe='')}"

    return link


def _summary(project: Project, ledger: Ledger, sandbox: _SandboxHandle, scheduler: Scheduler,
             now: datetime, day_seconds: float) -> dict[str, Any]:
    status = status_report(project, ledger, now, scheduler.report)
    posts = status["posts"]  # every post of the week, those that never went out included
    per_platform: dict[str, int] = {}
    for post in sandbox.posts():
        per_platform[post["platform"]] = per_platform.get(post["platform"], 0) + 1
    latest = lateness(ledger.posts(), ledger.events())
    would_be_held = sorted({e.story_id or "" for e in ledger.events()
                            if e.kind == "posted_would_be_held"})
    states: dict[str, int] = {}
    for post in posts:
        states[post["state"]] = states.get(post["state"], 0) + 1
    return {
        "posts": posts,
        "sandbox_posts": per_platform,
        "faults_met": sandbox.faults_met(),
        "max_lateness_seconds": round(latest.total_seconds(), 1),
        "feed_url": sandbox.url + "/",
        "states": states,
        "retries": scheduler.retries,
        "would_be_held": would_be_held,
        "stories": status["stories"],
        "lateness": shown_lateness(latest, day_seconds),
    }


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The end of the rehearsal's account, in the staff's language: what the week came to,
    and what to look at (`campaign run --sandbox` prints these lines)."""
    from campaign.account import short_reason
    from campaign.models import PLATFORMS
    from campaign.status import state_count, state_label

    posts = summary["posts"]
    states = ", ".join(state_count(s, n) for s, n in sorted(
        summary["states"].items(), key=lambda item: -item[1]))
    lines = ["", ngettext("Rehearsal finished: {n} post, {states}.",
                          "Rehearsal finished: {n} posts, {states}.", len(posts)).format(
                              n=len(posts), states=states)]
    for post in posts:
        if post["state"] != "posted":
            why = post.get("reason") or post["last_error"] or ""
            lines.append("  " + _("{STATE}: {story} on {platform}: {why}").format(
                STATE=state_label(post["state"]).upper(), story=post["story"],
                platform=post["platform"], why=why))
    for story in summary.get("stories", []):
        if story["attention"] or story["fate"] == "withdrawn":
            why = story["reason"] or (_("consent withdrawn") if story["fate"] == "withdrawn"
                                      else "")
            label = _(_FATE_LABELS[story["fate"]]) if story["fate"] in _FATE_LABELS \
                else story["fate"]
            lines.append("  " + _("{FATE}: {file}: {why}").format(
                FATE=label.upper(), file=story["file"], why=why))
    posted: dict[str, int] = {}
    for post in posts:
        if post["state"] == "posted":
            posted[post["platform"]] = posted.get(post["platform"], 0) + 1
    extra = {p: n - posted.get(p, 0) for p, n in summary["sandbox_posts"].items()
             if n > posted.get(p, 0)}
    if not extra:
        once = _("each post is on its platform once")
    else:
        once = _("MORE POSTS ON THE PLATFORMS THAN WERE POSTED: {counts}").format(
            counts=", ".join(f"{p} {n}" for p, n in extra.items()))
    if summary["faults_met"]:
        lines.append("  " + _("Faults met: {faults}, all injected on purpose; retries: "
                              "{retries}; {once}.").format(
                                  faults=summary["faults_met"], retries=summary["retries"],
                                  once=once))
    else:
        lines.append(f"  {once[0].upper()}{once[1:]}.")
    lines.append("  " + _("Timing: {lateness}.").format(lateness=summary["lateness"]))
    alerts = summary["alerts"]
    if alerts:
        lines.append("  " + ngettext(
            "Alerts: {n} (in a real week by e-mail or webhook; here kept in the rehearsal):",
            "Alerts: {n} (in a real week by e-mail or webhook; here kept in the rehearsal):",
            len(alerts)).format(n=len(alerts)))
        for alert in alerts:
            first = alert.splitlines()[0]
            if first.split(" (", 1)[0] in PLATFORMS:  # "<platform> (<story>): ..."
                first = short_reason(first)
            lines.append(f"    - {first[:120]}{'…' if len(first) > 120 else ''}")
    lines.append("  " + _("The feeds, as each platform would show them: {url}").format(
        url=summary["feed_url"]))
    if summary.get("report_url"):
        lines.append("  " + _("The results (views, reach and reactions per story and platform): "
                              "{url}").format(url=summary["report_url"]))
    lines.append("  " + _("Every detail: {log}").format(log=f"{summary['workdir']}/rehearsal.log"))
    return lines


#: How the end of a rehearsal names a story file's fate (in capitals).
_FATE_LABELS = {
    "spare": N_("reserve story"),
    "invalid": N_("invalid"),
    "withdrawn": N_("withdrawn"),
    "ignored": N_("ignored"),
}
