"""`campaign serve`: the comms team's workspace, a Flask app over the library, files and ledger.

Nothing here keeps state of its own: the story files are the source of truth,
the ledger the record of what happened, and every page is made from them on
each request (through `run_check`, the one plan, and `status_report`). It
runs beside `campaign run` and works on the real campaign, or on a rehearsal
(`--rehearsal`: the one running, else the latest, with its own ledger, clock
and sandbox), so every button can be tried without touching anything real.

Security (the pages hold health data about named patients):
- every page but the sign-in form needs a session (`accounts.py`); each role
  may only what `accounts.may` allows, checked on the server for every request;
- every state-changing request carries the session's CSRF token (a form field,
  or the X-CSRF-Token header htmx sends), compared in constant time;
- the session cookie is HttpOnly and SameSite=Strict, and Secure over HTTPS;
- every response has a Content-Security-Policy with no inline script and
  `frame-ancestors 'none'`, nosniff, no referrer, and no caching;
- nothing is loaded from outside (htmx is vendored in static/);
- story text only ever reaches a page through Jinja2's autoescaping;
- files are served only by a name that matches a strict pattern, from one folder.
"""

from __future__ import annotations

import hmac
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from functools import wraps
from pathlib import Path
from typing import Any

from flask import (
    Flask,
    Response,
    abort,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from campaign import i18n
from campaign.accounts import ROLES, Action, SignInRefused, add_user, may, session_of, sign_in, token_hash
from campaign.cards import card_path, render_card, story_formats
from campaign.check import CheckCache, CheckReport, run_check
from campaign.config import Project
from campaign.errors import CampaignError, UserError
from campaign.i18n import N_, _, ngettext
from campaign.ledger import Ledger
from campaign.models import CARD_SIZES
from campaign.platforms import SPECS
from campaign.publish import Publishing, read_story_bounded, withdraw_story
from campaign.rehearsal import (
    feed_link,
    open_rehearsal,
    rehearsals_dir,
    running_rehearsals,
)
from campaign.secrets import redact
from campaign.status import STATE_LABELS, state_label, status_report
from campaign.storyfiles import find_story_file, story_id_of
from campaign.workspace.storyform import (
    PhotoRefused,
    StoryForm,
    new_story_path,
    save_story,
    store_photo,
    story_text,
)

COOKIE = "campaign_session"
#: An upload larger than this is refused before it is read (a photo is at most 50 MB).
MAX_REQUEST_BYTES = 60 * 1024 * 1024
_CARD_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,120}-(portrait|square|landscape)\.jpg$")
_IMAGE_NAME = re.compile(r"^[a-z]+-[A-Za-z0-9_-]{1,200}\.img$")
_STAMP = re.compile(r"^\d{8}T\d{6}$")
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

#: What the ledger's events mean, for "Who did what" (the states above are events too).
EVENT_LABELS: dict[str, str] = {
    "attempt": N_("tried to post"),
    "approved": N_("approved"),
    "withdrawn": N_("consent withdrawn"),
    "paused": N_("posting paused"),
    "resumed": N_("posting resumed"),
    "saved": N_("story saved"),
    "reopened": N_("to be posted again"),
    "retry": N_("will try again"),
    "retry_lost": N_("will try again after an interruption"),
    "rejected": N_("refused by the platform"),
    "gave_up": N_("given up after several tries"),
    "outcome_unknown": N_("unclear whether it was posted"),
    "posted_would_be_held": N_("posted (this version was not approved)"),
    "reconciled_posted": N_("found on the platform: posted"),
    "reconciled_absent": N_("not found on the platform: to be posted again"),
    "delete_failed": N_("deleting failed"),
    "alerted": N_("alert sent"),
    "login": N_("signed in"),
    "logout": N_("signed out"),
    "login_failed": N_("sign-in failed"),
    "user_added": N_("account added"),
    "user_removed": N_("account removed"),
    "password_reset": N_("new password set"),
}
#: The card formats (models.CARD_SIZES) as staff read them.
FORMAT_LABELS: dict[str, str] = {
    "portrait": N_("portrait"),
    "square": N_("square"),
    "landscape": N_("landscape"),
}
#: The roles (accounts.ROLES) as staff read them.
ROLE_LABELS: dict[str, str] = {
    "editor": N_("editor"),
    "approver": N_("approver"),
    "admin": N_("administrator"),
}


def event_label(kind: str) -> str:
    """A ledger event's kind in the active language, for "Who did what"."""
    known = EVENT_LABELS.get(kind) or STATE_LABELS.get(kind)
    return _(known) if known else kind.replace("_", " ")


def role_label(role: str) -> str:
    """A role in the active language (`approver` -> `goedkeurder`)."""
    known = ROLE_LABELS.get(role)
    return _(known) if known else role


def event_detail(kind: str, detail: str | None) -> str:
    """An account event's detail as staff read it: the role of `anna (admin)` translated."""
    if not detail:
        return ""
    found = re.fullmatch(r"(.*) \((\w+)\)", detail) if kind == "user_added" else None
    if found and found.group(2) in ROLE_LABELS:
        return f"{found.group(1)} ({role_label(found.group(2))})"
    return detail


def format_label(fmt: str) -> str:
    """A card format in the active language (`portrait` -> `staand`)."""
    known = FORMAT_LABELS.get(fmt)
    return _(known) if known else fmt


def platform_name(platform: str) -> str:
    """A platform's name as it writes it (`x` -> `X`, `linkedin` -> `LinkedIn`)."""
    facts = SPECS.get(platform)  # type: ignore[call-overload]
    return facts.name if facts else platform


def when(moment: datetime | str | None, tz: tzinfo | None = None) -> str:
    """A moment as staff read it in a table: `ma 8 mrt 09:00` (in `tz`, else in its own
    time zone); an ISO text (a status report's `due`) is read first; `-` for none."""
    if moment is None or moment == "":
        return "-"
    if isinstance(moment, str):
        text = moment
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return text
    if tz is not None and moment.tzinfo is not None:
        moment = moment.astimezone(tz)
    return f"{i18n.format_short_day(moment.date())} {i18n.format_clock(moment)}"


def day_of(moment: date | datetime, tz: tzinfo | None = None, *, year: bool = True) -> str:
    """A day as staff read it: `maandag 8 maart 2027` (a moment: its day in `tz`)."""
    if isinstance(moment, datetime):
        if tz is not None and moment.tzinfo is not None:
            moment = moment.astimezone(tz)
        moment = moment.date()
    return i18n.format_day(moment, year=year)


#: The pages' helpers for dates, numbers, states and roles, in the active language.
TEMPLATE_HELPERS: dict[str, Callable[..., str]] = {
    "language": i18n.language, "format_day": day_of, "format_moment": when,
    "format_short_day": i18n.format_short_day, "format_clock": i18n.format_clock,
    "format_number": i18n.format_number, "state_label": state_label,
    "event_label": event_label, "role_label": role_label, "format_label": format_label,
    "event_detail": event_detail,
    "platform_name": platform_name,
}


@dataclass
class Target:
    """What the pages show: the real campaign, or a rehearsal of it."""

    project: Project
    now: datetime
    env: dict[str, str]
    rehearsal: Path | None = None  # the rehearsal's folder
    platform_time: Callable[[datetime], datetime] = field(default=lambda moment: moment)

    def publishing(self, ledger: Ledger) -> Publishing:
        return Publishing(project=self.project, ledger=ledger, env=self.env,
                          rehearsal=self.rehearsal is not None, platform_time=self.platform_time,
                          link=feed_link(self.rehearsal / "feeds") if self.rehearsal else None)


@dataclass
class Workspace:
    project: Project  # the real campaign: its ledger holds the accounts
    rehearsal: bool = False
    workdir: Path | None = None
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    cache: CheckCache = field(default_factory=CheckCache)

    def target(self) -> Target:
        if not self.rehearsal:
            return Target(self.project, datetime.now(UTC), self.env)
        found = open_rehearsal(self.project, self.workdir)
        return Target(found.project, found.clock.now(), found.env, found.workdir,
                      found.clock.wall)

    @contextmanager
    def accounts(self) -> Iterator[Ledger]:
        with Ledger.open(self.project.ledger_target) as ledger:
            yield ledger


def create_app(project: Project, *, rehearsal: bool = False, workdir: Path | None = None,
               env: dict[str, str] | None = None) -> Flask:
    app = Flask("campaign.workspace", root_path=str(Path(__file__).parent))
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.jinja_env.add_extension("jinja2.ext.i18n")
    # The callables, not one catalogue: they translate into the language active when called.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_, ngettext=ngettext, newstyle=True)
    # The platforms, as (id, name): the pages list them from the one place that knows them.
    app.jinja_env.globals["platforms"] = [(p, facts.name) for p, facts in SPECS.items()]
    app.jinja_env.globals.update(TEMPLATE_HELPERS)
    app.jinja_env.filters.update(TEMPLATE_HELPERS)
    space = Workspace(project, rehearsal, workdir, dict(env if env is not None else os.environ))
    app.extensions["campaign"] = space

    @app.before_request
    def _session() -> Response | None:
        g.space = space
        g.session = None
        if request.endpoint in ("login", "static"):
            return None
        with space.accounts() as ledger:
            g.session = session_of(ledger, request.cookies.get(COOKIE), datetime.now(UTC))
        if g.session is None:
            if request.method == "GET" and not request.headers.get("HX-Request"):
                return redirect(url_for("login", next=request.path))  # type: ignore[return-value]
            abort(401)
        if request.method not in ("GET", "HEAD"):
            sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
            if not hmac.compare_digest(sent, g.session.csrf):
                abort(403, _("This form has expired or did not come from this workspace: go back, "
                             "reload the page and try again."))
        return None

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-store"
        response.headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
        return response

    @app.errorhandler(CampaignError)
    def _campaign_error(exc: CampaignError) -> tuple[str, int]:
        return render_template("error.html", message=redact(str(exc), space.env)), 400

    @app.errorhandler(413)
    def _too_large(_exc: Exception) -> tuple[str, int]:
        return render_template("error.html", message=_(
            "The file is too large: a photo may be at most 50 MB. Export it smaller (a JPEG of "
            "12 megapixels is about 5 MB) and try again.")), 413

    for code, text in ((401, N_("Please sign in first.")), (403, N_("You may not do this.")),
                       (404, N_("There is no such page.")),
                       (400, N_("The request was not understood."))):
        app.register_error_handler(code, _simple_error(text, code))

    @app.context_processor
    def _context() -> dict[str, Any]:
        session = g.get("session")
        return {"session": session, "may": (lambda action: session is not None
                                            and may(session.role, action)),
                "rehearsal_mode": space.rehearsal}

    _routes(app, space)
    return app


def _simple_error(text: str, code: int) -> Callable[[Exception], tuple[str, int]]:
    def handler(exc: Exception) -> tuple[str, int]:
        # A description of our own (the CSRF refusal) says more than the default one.
        description = getattr(exc, "description", None)
        own = description and description != getattr(type(exc), "description", None)
        message = description if own and code == 403 else _(text)
        return render_template("error.html", message=message), code

    return handler


def _allowed(action: Action) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def inner(*args: Any, **kwargs: Any) -> Any:
            if g.session is None or not may(g.session.role, action):
                abort(403)
            return view(*args, **kwargs)

        return inner

    return decorate


def _story_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_. -]{0,120}", value) or ".." in value:
        abort(404)
    return value


def _week(target: Target, space: Workspace, ledger: Ledger) -> CheckReport:
    return run_check(target.project, target.now, space.cache, facts=ledger.facts())


def _last_saver(ledger: Ledger, story_id: str, content_hash: str) -> str | None:
    saves = [e for e in ledger.events(story_id) if e.kind == "saved" and e.detail == content_hash]
    return saves[-1].actor if saves else None


def _routes(app: Flask, space: Workspace) -> None:
    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = None
        if request.method == "POST":
            name = request.form.get("name", "").strip()
            try:
                with space.accounts() as ledger:
                    made = sign_in(ledger, name, request.form.get("password", ""), datetime.now(UTC))
            except SignInRefused as exc:
                error = str(exc)
            else:
                target = request.args.get("next", "/")
                if not target.startswith("/") or target.startswith("//"):
                    target = "/"
                response = redirect(target)
                response.set_cookie(COOKIE, made.token, httponly=True, samesite="Strict",
                                    secure=request.is_secure, path="/", max_age=8 * 3600)
                return response
        return render_template("login.html", error=error), 200 if error is None else 401

    @app.post("/logout")
    def logout() -> Any:
        with space.accounts() as ledger:
            ledger.end_session(token_hash(g.session.token), datetime.now(UTC))
        response = redirect(url_for("login"))
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/")
    def week() -> Any:
        from campaign.preview import build_page

        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            report = _week(target, space, ledger)
            page = build_page(report, target.now, target.project.build_dir / "workspace")
            paused = ledger.is_paused()
        return render_template("week.html", page=page, target=target, paused=paused)

    @app.get("/cards/<name>")
    def week_card(name: str) -> Any:
        folder = space.target().project.build_dir / "workspace" / "cards"
        return _send(folder, name, _CARD_NAME, "image/jpeg")

    @app.get("/status")
    def status() -> Any:
        return render_template("status.html", **_status(space))

    @app.get("/status/live")
    def status_live() -> Any:
        return render_template("_status_live.html", **_status(space))

    @app.get("/stories")
    def stories() -> Any:
        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            report = _week(target, space, ledger)
            approved = {s.id: ledger.approval(s.id, s.content_hash) for s in report.stories}
        return render_template("stories.html", report=report, approved=approved, target=target)

    @app.route("/stories/new", methods=["GET", "POST"])
    @_allowed("write")
    def new_story() -> Any:
        return _edit(space, None)

    @app.route("/stories/<story_id>/edit", methods=["GET", "POST"])
    @_allowed("write")
    def edit_story(story_id: str) -> Any:
        return _edit(space, _story_id(story_id))

    @app.get("/stories/<story_id>")
    def story(story_id: str) -> Any:
        story_id = _story_id(story_id)
        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            report = _week(target, space, ledger)
            fate = report.fate(story_id)
            if fate is None:
                abort(404)
            found = report.story(story_id)
            approval = ledger.approval(story_id, found.content_hash) if found else None
            saver = _last_saver(ledger, story_id, found.content_hash) if found else None
            records = [r for r in ledger.posts(story_id)]
        problems = [p for p in report.problems if p.file == fate.file]
        formats = story_formats(found, target.project.settings) if found else []
        return render_template("story.html", fate=fate, story=found, approval=approval,
                               saver=saver, problems=problems, formats=formats, records=records,
                               target=target)

    @app.get("/stories/<story_id>/card/<fmt>.jpg")
    def story_card(story_id: str, fmt: str) -> Any:
        story_id = _story_id(story_id)
        if fmt not in CARD_SIZES:
            abort(404)
        target = space.target()
        reading = read_story_bounded(target.project, story_id)
        if reading.story is None:
            abort(404)
        card = render_card(reading.story, fmt, target.project)
        expected = card_path(story_id, fmt, target.project)
        if card.path != expected:
            abort(404)
        return send_file(card.path, mimetype="image/jpeg", max_age=0)

    @app.post("/stories/<story_id>/approve")
    @_allowed("approve")
    def approve(story_id: str) -> Any:
        story_id = _story_id(story_id)
        target = space.target()
        reading = read_story_bounded(target.project, story_id)
        if reading.story is None:
            raise UserError(_("This story has an error, so it cannot be approved: fix it first."))
        shown = request.form.get("version", "")
        if not hmac.compare_digest(shown, reading.story.content_hash):
            raise UserError(_("The story changed after you opened it: look at the new version, "
                              "then approve that one."))
        with Ledger.open(target.project.ledger_target) as ledger:
            if _last_saver(ledger, story_id, shown) == g.session.user:
                raise UserError(_("You saved this version yourself: another approver must read "
                                  "and approve it (four eyes)."))
            ledger.approve(story_id, shown, g.session.user, target.now)
        return redirect(url_for("story", story_id=story_id))

    @app.route("/stories/<story_id>/withdraw", methods=["GET", "POST"])
    @_allowed("withdraw")
    def withdraw(story_id: str) -> Any:
        story_id = _story_id(story_id)
        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            if find_story_file(target.project, story_id) is None and \
                    story_id not in ledger.facts().pinned:
                abort(404)
            reading = read_story_bounded(target.project, story_id) \
                if find_story_file(target.project, story_id) else None
            story = reading.story if reading else None
            records = ledger.posts(story_id)
            if request.method == "GET":
                return render_template("withdraw.html", story_id=story_id, story=story,
                                       records=records, done=None, target=target)
            if request.form.get("confirm") != story_id:
                raise UserError(_("To withdraw, type the story's name exactly as shown, then "
                                  "press the button."))
            result = withdraw_story(target.publishing(ledger), story_id, g.session.user,
                                    target.now)
        return render_template("withdraw.html", story_id=story_id, story=story, records=[],
                               done=result, target=target)

    @app.post("/pause")
    @_allowed("pause")
    def pause() -> Any:
        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            ledger.set_paused(request.form.get("paused") == "1", g.session.user, target.now)
        back = request.form.get("back", "")
        return redirect(back if back.startswith("/") and not back.startswith("//")
                        else url_for("status"))

    @app.get("/report")
    def report() -> Any:
        """The results report (`campaign report`), from the numbers fetched so far."""
        from campaign.report import make_report, render_body, write_report

        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            titles = {s.id: s.title for s in _week(target, space, ledger).stories}
            now = (ledger.last_metrics_fetch() or target.now) if space.rehearsal else target.now
            result = make_report(target.project, ledger, now, titles)
        write_report(result, target.project, _report_folder(target))
        return render_template("report.html", body=render_body(result, "/report/"))

    @app.get("/report/report.css")
    def report_css() -> Any:
        return send_file(Path(__file__).parent.parent / "templates" / "report.css",
                         mimetype="text/css", max_age=0)

    @app.get("/report/<any(charts, cards):kind>/<name>")
    def report_file(kind: str, name: str) -> Any:
        folder = _report_folder(space.target()) / kind
        if kind == "charts":
            return _send(folder, name, re.compile(r"[a-z-]+\.svg"), "image/svg+xml")
        return _send(folder, name, re.compile(r"[A-Za-z0-9_-]+\.jpg"), "image/jpeg")

    @app.get("/audit")
    def audit() -> Any:
        target = space.target()
        with Ledger.open(target.project.ledger_target) as ledger:
            actions = [e for e in ledger.events() if e.actor or e.kind in (
                "withdrawn", "paused", "resumed", "approved", "saved")][-300:]
        with space.accounts() as accounts:
            sign_ins = [e for e in accounts.events() if e.kind in (
                "login", "logout", "login_failed", "user_added", "user_removed",
                "password_reset")][-300:]
        return render_template("audit.html", actions=list(reversed(actions)),
                               sign_ins=list(reversed(sign_ins)), target=target)

    @app.get("/rehearsal")
    def rehearsal() -> Any:
        return render_template("rehearsal.html", **_rehearsal_state(space))

    @app.get("/rehearsal/live")
    def rehearsal_live() -> Any:
        return render_template("_rehearsal_live.html", **_rehearsal_state(space))

    @app.post("/rehearsal/start")
    @_allowed("rehearse")
    def rehearsal_start() -> Any:
        if running_rehearsals(space.project):
            raise UserError(_("A rehearsal is running already: wait for it to finish."))
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        workdir = rehearsals_dir(space.project) / stamp
        workdir.mkdir(parents=True, exist_ok=True)
        faults = ["--faults", "demo"] if request.form.get("faults") == "demo" else []
        seconds = request.form.get("day_seconds", "8")
        day_seconds = str(max(2, min(60, int(seconds)))) if seconds.isdigit() else "8"
        with (workdir / "run-output.txt").open("w", encoding="utf-8") as output:
            subprocess.Popen(  # noqa: S603 (our own command, no shell)
                [sys.executable, "-m", "campaign", "--config", str(space.project.config_file),
                 "run", "--sandbox", "--day-seconds", day_seconds, "--until-done",
                 "--workdir", str(workdir), *faults],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=space.project.root, start_new_session=True,
                env={k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGN_NOW")})
        return redirect(url_for("rehearsal"))

    @app.get("/rehearsal/<stamp>/image/<name>")
    def rehearsal_image(stamp: str, name: str) -> Any:
        if not _STAMP.fullmatch(stamp):
            abort(404)
        folder = rehearsals_dir(space.project) / stamp / "feeds" / "images"
        return _send(folder, name, _IMAGE_NAME, "image/jpeg")

    @app.route("/accounts", methods=["GET", "POST"])
    @_allowed("accounts")
    def accounts() -> Any:
        message = None
        now = datetime.now(UTC)
        with space.accounts() as ledger:
            if request.method == "POST":
                action = request.form.get("action")
                name = request.form.get("name", "").strip()
                if action == "add":
                    add_user(ledger, name, request.form.get("role", ""),
                             request.form.get("password", ""), now, by=g.session.user)
                    message = _("Account added: {name}.").format(name=name)
                elif action == "remove":
                    if name == g.session.user:
                        raise UserError(_("You cannot remove your own account."))
                    ledger.remove_user(name, now, by=g.session.user)
                    message = _("Account removed: {name}.").format(name=name)
                elif action == "reset":
                    from campaign.accounts import hash_password

                    ledger.set_password(name, hash_password(request.form.get("password", "")),
                                        now, by=g.session.user)
                    message = _("New password set for {name}.").format(name=name)
                else:
                    abort(400)
            users = ledger.users()
        return render_template("accounts.html", users=users, roles=ROLES, message=message,
                               tz=space.project.settings.tz)


def _report_folder(target: Target) -> Path:
    """Where the workspace writes the report it shows (beside the one of `campaign report`)."""
    return target.project.build_dir / "workspace" / "report"


def _send(folder: Path, name: str, pattern: re.Pattern[str], mimetype: str) -> Any:
    """A file from `folder` by a name that matches `pattern`, and only from there."""
    if not pattern.fullmatch(name):
        abort(404)
    path = (folder / name).resolve()
    if path.parent != folder.resolve() or not path.is_file():
        abort(404)
    return send_file(path, mimetype=mimetype, max_age=0)


def _status(space: Workspace) -> dict[str, Any]:
    target = space.target()
    with Ledger.open(target.project.ledger_target) as ledger:
        report = _week(target, space, ledger)
        document = status_report(target.project, ledger, target.now, report,
                                 clock=lambda: space.target().now if space.rehearsal else
                                 datetime.now(UTC))
        alerts = ledger.alerts(20)
    return {"document": document, "alerts": alerts, "target": target,
            "tz": target.project.settings.tz}


def _rehearsal_state(space: Workspace) -> dict[str, Any]:
    folder = rehearsals_dir(space.project)
    running = {w.name for w, _pid in running_rehearsals(space.project)}
    stamps = sorted((p.name for p in folder.iterdir() if _STAMP.fullmatch(p.name)),
                    reverse=True) if folder.is_dir() else []
    latest = stamps[0] if stamps else None
    document = None
    feeds: list[dict[str, Any]] = []
    if latest is not None and (folder / latest / "ledger.sqlite").is_file():
        found = open_rehearsal(space.project, folder / latest)
        with Ledger.open(found.project.ledger_target) as ledger:
            report = run_check(found.project, found.clock.now(), space.cache,
                               facts=ledger.facts())
            document = status_report(found.project, ledger, found.clock.now(), report)
        posts_file = folder / latest / "feeds" / "posts.json"
        if posts_file.is_file():
            try:
                feeds = json.loads(posts_file.read_text(encoding="utf-8"))
            except ValueError:
                feeds = []
    for post in feeds:
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", str(post.get("id", "")))
        post["image"] = f"{post.get('platform', '')}-{safe}.img"
    started = datetime.strptime(latest, "%Y%m%dT%H%M%S").replace(tzinfo=UTC) if latest else None
    return {"latest": latest, "running": latest in running if latest else False,
            "document": document, "feeds": feeds, "stamps": stamps[:10], "started": started,
            "tz": space.project.settings.tz}


def serve(project: Project, host: str, port: int, *, rehearsal: bool = False,
          workdir: Path | None = None, threads: int = 8) -> None:
    """Run the workspace under waitress (a production server) until stopped."""
    from waitress import serve as waitress_serve

    app = create_app(project, rehearsal=rehearsal, workdir=workdir)
    waitress_serve(app, **server_options(host, port, threads))


def server_options(host: str, port: int, threads: int = 8) -> dict[str, Any]:
    """waitress's settings: a reverse proxy on this machine may say the browser used HTTPS
    (X-Forwarded-Proto), which makes the session cookie Secure; any other proxy header, or
    the same header from elsewhere, is dropped."""
    return {"host": host, "port": port, "threads": threads, "ident": "campaign",
            # Larger than Flask's limit, so that an upload of up to this size is answered by
            # the workspace's own page saying what to do, not waitress's one line.
            "max_request_body_size": 4 * MAX_REQUEST_BYTES, "trusted_proxy": "127.0.0.1",
            "trusted_proxy_headers": {"x-forwarded-proto"}, "clear_untrusted_proxy_headers": True}


def _edit(space: Workspace, story_id: str | None) -> Any:
    target = space.target()
    project = target.project
    path = find_story_file(project, story_id) if story_id else None
    if story_id and path is None:
        abort(404)
    if request.method == "GET":
        form = StoryForm.from_file(path) if path else StoryForm()
        return render_template("edit.html", form=form, story_id=story_id, errors={},
                               saved=None, target=target)
    form = StoryForm.from_request(request.form)
    errors: dict[str, list[str]] = {}
    upload = request.files.get("photo_file")
    if upload is not None and upload.filename:
        try:
            form.photo = store_photo(project, upload.read(), os.path.basename(upload.filename))
        except PhotoRefused as exc:
            errors["photo"] = [str(exc)]
    if errors:
        return render_template("edit.html", form=form, story_id=story_id, errors=errors,
                               saved=None, target=target), 400
    existing = path.read_text(encoding="utf-8-sig") if path else None
    destination = path or new_story_path(project, form.name or "verhaal")
    result = save_story(project, destination, story_text(form, existing))
    if not result.saved:
        return render_template("edit.html", form=form, story_id=story_id, errors=result.errors,
                               saved=None, target=target), 400
    saved_id = story_id_of(result.path)
    story = result.check.reading.story if result.check else None
    with Ledger.open(project.ledger_target) as ledger:
        ledger.record_event("saved", target.now, story_id=saved_id, actor=g.session.user,
                            detail=story.content_hash if story else None)
    return redirect(url_for("story", story_id=saved_id))


__all__ = ["create_app", "serve", "server_options"]
