"""`campaign doctor`: the pre-flight that finds, days ahead, what would make a post fail.

Per enabled platform: the secrets are set; a cheap call proves the credentials
work (platform-apis.md §0); the token's expiry is compared with the campaign's
last day, with the dates between which it must be renewed (tokens that expire
live about 60 days, so renewing too early does not help either); the token has
the permissions the publisher needs; a pinned API version is not sunset before
the campaign ends; an image host the platform fetches cards from serves a test
image at its public URL as image/jpeg, and removes it again. Each publisher
answers a `CredentialReport`; this module turns reports into findings and names
no platform (the facts per platform are in `platforms.py`). Then: our clock against
the platforms' `Date` headers, the ledger is writable, the build folder has
room, and (on request) a test alert goes out on every channel.

Every finding says what is wrong and what to do, in the active language (its
dates as people write them); its `code` (`token_expiry.expired`, ...) names the kind
of finding in --json the same way in every language. A finding is an *error* when
it would make a post fail; `campaign doctor` exits 1 if there is any.
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import requests
from PIL import Image

from campaign.alerts import Alerter, probe_channels
from campaign.cards import uses_placeholder_logo
from campaign.config import Project
from campaign.errors import CampaignError, DeliveryFailed, PostRejected, PublishError
from campaign.i18n import N_, _, format_clock, format_day, format_number, ngettext
from campaign.ledger import Ledger
from campaign.models import Platform
from campaign.platforms import SPECS
from campaign.publishers import (
    ApiVersion,
    CredentialReport,
    VersionRefused,
    make_publisher,
    publisher_class,
)
from campaign.publishers.media_host import MediaHost
from campaign.secrets import (
    api_url_variable,
    missing_secrets,
    redact,
)

Status = Literal["ok", "warning", "error"]

#: Tokens that expire live about 60 days (platform-apis.md §2.1, §3.1, §4.1).
TOKEN_LIFETIME = timedelta(days=60)
#: A token that expires less than this after the campaign's last day is a warning: a
#: consent withdrawal after the week still needs it to delete posts.
EXPIRY_SLACK = timedelta(days=14)
#: Clock skew: posts go out late beyond a minute; OAuth 1.0a (X) refuses timestamps
#: about 5 minutes off (X's "Timestamp out of bounds"), so beyond that a post fails.
CLOCK_WARNING = timedelta(seconds=60)
CLOCK_ERROR = timedelta(minutes=5)
#: Free space in the build folder's file system.
DISK_ERROR_BYTES = 100 * 1024 * 1024
DISK_WARNING_BYTES = 500 * 1024 * 1024

#: What each check is called in the text output (the --json `check` keeps the id).
CHECK_LABELS: dict[str, str] = {
    "api_urls": N_("api_urls"),
    "theme": N_("theme"),
    "secrets": N_("secrets"),
    "credentials": N_("credentials"),
    "token_expiry": N_("token_expiry"),
    "permissions": N_("permissions"),
    "api_version": N_("api_version"),
    "media_host": N_("media_host"),
    "clock": N_("clock"),
    "ledger": N_("ledger"),
    "disk_space": N_("disk_space"),
    "alerts": N_("alerts"),
}
#: The status marks of the text output.
STATUS_MARKS: dict[str, str] = {"ok": N_("ok"), "warning": N_("WARNING"), "error": N_("ERROR")}


def _day(day: date) -> str:
    """A date staff read: `zondag 14 maart 2027` / `Sunday 14 March 2027`."""
    return format_day(day, year=True)


def _moment(moment: datetime) -> str:
    """`woensdag 10 maart 2027 13:00 CET`: a moment in the campaign's time zone."""
    return f"{format_day(moment.date(), year=True)} {format_clock(moment)} {moment:%Z}".rstrip()


@dataclass(frozen=True)
class Finding:
    """One thing doctor looked at: its status, what it found, and what to do.

    `code` names the kind of finding (`token_expiry.expired`, ...) for --json: it is
    the same in every language, where `message` and `fix` are in the active one."""

    check: str  # secrets, credentials, token_expiry, permissions, api_version, media_host,
    #            clock, ledger, disk_space, alerts
    status: Status
    message: str
    fix: str | None = None
    platform: Platform | None = None
    details: dict[str, Any] = field(default_factory=dict)
    code: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "code": self.code or f"{self.check}.{self.status}",
            "platform": self.platform,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
            **self.details,
        }

    def format(self) -> str:
        marks = {status: _(mark) for status, mark in STATUS_MARKS.items()}
        width = max(len(mark) for mark in marks.values())
        mark = marks[self.status].ljust(width)
        where = f"{self.platform} " if self.platform else ""
        label = _(CHECK_LABELS[self.check]) if self.check in CHECK_LABELS else self.check
        text = f"{mark} {where}{label}: {self.message}"
        if self.fix and self.status != "ok":
            text += "\n" + " " * (width + 3) + _("fix: {fix}").format(fix=self.fix)
        return text


@dataclass(frozen=True)
class DoctorReport:
    checked_at: datetime
    campaign_start: date
    campaign_end: date
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.status == "error" for f in self.findings)

    def verdict(self) -> str:
        """The last line of the text output: ready or not, and how many errors and warnings."""
        errors = sum(1 for f in self.findings if f.status == "error")
        warnings = sum(1 for f in self.findings if f.status == "warning")
        if not self.ok:
            head = _("NOT READY")
        elif any(f.check == "api_urls" for f in self.findings):
            head = _("ok against the overridden API addresses (not the real pre-flight)")
        else:
            head = _("ok")
        return _("{verdict}: {errors}, {warnings}").format(
            verdict=head, errors=ngettext("{n} error(s)", "{n} error(s)", errors).format(n=errors),
            warnings=ngettext("{n} warning(s)", "{n} warning(s)", warnings).format(n=warnings))

    def as_json(self, tz: Any) -> dict[str, Any]:
        platforms: dict[str, str] = {}
        for finding in self.findings:
            if finding.platform is not None:
                platforms[finding.platform] = _worse(platforms.get(finding.platform, "ok"),
                                                     finding.status)
        return {
            "ok": self.ok,
            "checked_at": self.checked_at.astimezone(tz).isoformat(),
            "campaign_start": self.campaign_start.isoformat(),
            "campaign_end": self.campaign_end.isoformat(),
            "errors": sum(1 for f in self.findings if f.status == "error"),
            "warnings": sum(1 for f in self.findings if f.status == "warning"),
            "platforms": platforms,
            "findings": [f.as_json() for f in self.findings],
        }


def _worse(a: str, b: str) -> str:
    order = ["ok", "warning", "error"]
    return a if order.index(a) >= order.index(b) else b


@dataclass
class _Clock:
    """`Date` headers seen per platform, with our own time when each answer arrived."""

    seen: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)

    def hook(self, platform: str) -> Callable[..., None]:
        def on_response(response: requests.Response, *args: Any, **kwargs: Any) -> None:
            header = response.headers.get("Date")
            if not header:
                return
            try:
                theirs = parsedate_to_datetime(header)
            except (TypeError, ValueError):
                return
            if theirs.tzinfo is None:
                theirs = theirs.replace(tzinfo=UTC)
            self.seen.setdefault(platform, []).append((datetime.now(UTC), theirs))

        return on_response


# -- the campaign's time frame ------------------------------------------------------

def campaign_last_moment(project: Project) -> datetime:
    """The end of the campaign's last day, in its time zone, as aware UTC."""
    settings = project.settings
    return datetime.combine(settings.campaign.end, time(23, 59, 59), tzinfo=settings.tz).astimezone(UTC)


def expiry_finding(platform: Platform, expires_at: datetime | None, project: Project,
                   now: datetime) -> Finding:
    """The token's expiry against the campaign's last day, with when to renew it."""
    settings = project.settings
    name = SPECS[platform].name
    start, end = settings.campaign.start, settings.campaign.end
    if expires_at is None:
        return Finding("token_expiry", "ok", _("the {name} token does not expire").format(name=name),
                       platform=platform, details={"expires_at": None, "renew_by": None},
                       code="token_expiry.never")
    tz = settings.tz
    local = expires_at.astimezone(tz)
    expires_day = local.date()
    # Renewing gives a token of about 60 days: not before this day, or it ends before the
    # campaign does; not after the day before it expires (or before the campaign starts).
    renew_from = end + timedelta(days=1) - TOKEN_LIFETIME + timedelta(days=2)
    renew_by = min(expires_day - timedelta(days=1), start - timedelta(days=1))
    how = _(SPECS[platform].renew_how)
    details = {"expires_at": local.isoformat(), "renew_by": renew_by.isoformat(),
               "renew_from": renew_from.isoformat()}
    if renew_from <= renew_by:
        window = _("between {first} and {last}").format(first=_day(renew_from), last=_day(renew_by))
    else:
        window = _("by {last}").format(last=_day(renew_by))
    last_day = _day(end)
    if expires_at <= now:
        lives_until = _day((now + TOKEN_LIFETIME).astimezone(tz).date())
        if (now + TOKEN_LIFETIME) > campaign_last_moment(project):
            fix = _("{how}, now; a token renewed today lives until about {day}").format(
                how=how, day=lives_until)
        else:
            fix = _("{how}, now; a token renewed today lives until about {day}, which is before "
                    "the campaign ends ({end}): renew it again {window}").format(
                how=how, day=lives_until, end=last_day, window=window)
        return Finding("token_expiry", "error",
                       _("the {name} token expired on {moment}").format(name=name,
                                                                        moment=_moment(local)),
                       fix, platform=platform,
                       details={**details, "renew_by": now.astimezone(tz).date().isoformat()},
                       code="token_expiry.expired")
    if expires_at <= campaign_last_moment(project):
        return Finding("token_expiry", "error",
                       _("the {name} token expires on {moment}, before the campaign's last day "
                         "({end}): posts after that would fail").format(
                           name=name, moment=_moment(local), end=last_day),
                       _("{how} {window} (a new token lives about 60 days, so it then lasts past "
                         "{end})").format(how=how, window=window, end=last_day),
                       platform=platform, details=details, code="token_expiry.before_end")
    if expires_at <= campaign_last_moment(project) + EXPIRY_SLACK:
        return Finding("token_expiry", "warning",
                       ngettext("the {name} token expires on {day}, less than {n} day after the "
                                "campaign ends ({end}): deleting posts after a consent withdrawal "
                                "would then fail",
                                "the {name} token expires on {day}, less than {n} days after the "
                                "campaign ends ({end}): deleting posts after a consent withdrawal "
                                "would then fail", EXPIRY_SLACK.days).format(
                           name=name, day=_day(expires_day), n=EXPIRY_SLACK.days, end=last_day),
                       _("{how} {window}").format(how=how, window=window), platform=platform,
                       details=details, code="token_expiry.soon_after_end")
    return Finding("token_expiry", "ok",
                   _("the {name} token expires on {day}, after the campaign ends ({end})").format(
                       name=name, day=_day(expires_day), end=last_day),
                   platform=platform, details=details, code="token_expiry.after_end")


def unknown_expiry_finding(platform: Platform, project: Project, note: str = "") -> Finding:
    """A token that expires (about 60 days) but whose expiry could not be read."""
    facts = SPECS[platform]
    start, end = project.settings.campaign.start, project.settings.campaign.end
    renew_from = end + timedelta(days=1) - TOKEN_LIFETIME + timedelta(days=2)
    renew_by = start - timedelta(days=1)
    why = note or (_(facts.expiry_help) if facts.expiry_help else "")
    if why:
        message = _("{name} did not say when the token expires ({why}); its tokens live about "
                    "60 days").format(name=facts.name, why=why)
    else:
        message = _("{name} did not say when the token expires; its tokens live about "
                    "60 days").format(name=facts.name)
    return Finding("token_expiry", "warning", message,
                   _("{how} between {first} and {last}, so that it lasts the whole "
                     "campaign").format(how=_(facts.renew_how), first=_day(renew_from),
                                        last=_day(renew_by)), platform,
                   {"expires_at": None, "renew_by": renew_by.isoformat(),
                    "renew_from": renew_from.isoformat()}, code="token_expiry.unknown")


def scope_finding(platform: Platform, scopes: Sequence[str] | None) -> Finding | None:
    """Whether the token has the permissions the publisher needs; None if not known."""
    facts = SPECS[platform]
    alternatives = facts.posting_scopes
    if not alternatives or scopes is None:
        return None
    have = set(scopes)
    if any(need <= have for need in alternatives):
        return Finding("permissions", "ok",
                       _("the {name} token has the permissions to post").format(name=facts.name),
                       platform=platform, details={"scopes": sorted(have), "missing": []},
                       code="permissions.ok")
    gaps: list[frozenset[str]] = [need - have for need in alternatives]
    gaps.sort(key=lambda gap: (len(gap), sorted(gap)))
    missing = sorted(gaps[0])
    if have:
        message = _("the {name} token lacks the permission(s) {missing} (it has {have}): posts "
                    "would be refused").format(name=facts.name, missing=", ".join(missing),
                                               have=", ".join(sorted(have)))
    else:
        message = _("the {name} token lacks the permission(s) {missing} (it has none): posts "
                    "would be refused").format(name=facts.name, missing=", ".join(missing))
    return Finding("permissions", "error", message, _(facts.scope_fix), platform,
                   {"scopes": sorted(have), "missing": missing}, code="permissions.missing")


def metrics_scope_finding(platform: Platform, scopes: Sequence[str] | None) -> Finding | None:
    """Whether the token may read the posts' numbers for `campaign report`; None if the
    platform needs no permission for it or does not say which the token has."""
    facts = SPECS[platform]
    if not facts.metrics_scopes or scopes is None:
        return None
    have = set(scopes)
    if any(need <= have for need in facts.metrics_scopes):
        return Finding("report_permissions", "ok", _(
            "the {name} token may read the posts' numbers for the report").format(
                name=facts.name), platform=platform, code="report_permissions.ok")
    missing = sorted(min(facts.metrics_scopes, key=lambda need: len(need - have)) - have)
    return Finding("report_permissions", "warning", _(
        "the {name} token may not read the posts' numbers: `campaign report` will show them "
        "as not available (it lacks {missing}); posting is not affected").format(
            name=facts.name, missing=", ".join(missing)),
        _("add {missing} when you next make the token: {fix}").format(
            missing=", ".join(missing), fix=_(facts.scope_fix)),
        platform, {"missing": missing}, code="report_permissions.missing")


def api_version_finding(platform: Platform, pinned: ApiVersion, project: Project,
                        now: datetime) -> Finding:
    """The API version a publisher pins against its sunset and the campaign's last day."""
    name = SPECS[platform].name
    version, sunset = pinned.version, pinned.sunset
    fix = _("update campaign to a release that pins a newer {name} API version, then run "
            "`campaign doctor` again").format(name=name)
    if sunset is None:
        return Finding("api_version", "ok",
                       _("{name} API version {version} is not retired by date").format(
                           name=name, version=version),
                       platform=platform, details={"version": version, "sunset": None},
                       code="api_version.no_sunset")
    end = project.settings.campaign.end
    note = _(" (estimated: about a year after its release)") if pinned.sunset_estimated else ""
    details = {"version": version, "sunset": sunset.isoformat(),
               "sunset_estimated": pinned.sunset_estimated}
    today = now.astimezone(project.settings.tz).date()
    values = {"name": name, "version": version, "sunset": _day(sunset), "note": note,
              "end": _day(end)}
    if sunset <= today:
        return Finding("api_version", "error",
                       _("{name} API version {version} was sunset on {sunset}{note}: every {name} "
                         "call would be refused").format(**values), fix, platform, details,
                       code="api_version.sunset_past")
    if sunset <= end:
        return Finding("api_version", "error",
                       _("{name} API version {version} is sunset on {sunset}{note}, before the "
                         "campaign's last day ({end}): posts after that would fail").format(
                           **values), fix, platform, details,
                       code="api_version.sunset_before_end")
    if sunset <= end + timedelta(days=30):
        return Finding("api_version", "warning",
                       _("{name} API version {version} is sunset on {sunset}{note}, within a month "
                         "after the campaign ends").format(**values), fix, platform, details,
                       code="api_version.sunset_soon_after_end")
    return Finding("api_version", "ok",
                   _("{name} API version {version} is supported until {sunset}{note}").format(
                       **values), platform=platform, details=details, code="api_version.supported")


# -- per platform -------------------------------------------------------------------

def report_findings(report: CredentialReport, project: Project, env: Mapping[str, str],
                    now: datetime) -> list[Finding]:
    """A publisher's `CredentialReport` as findings: account, expiry, permissions."""
    platform = report.platform
    facts = SPECS[platform]
    if not report.valid:
        return [Finding("credentials", "error", redact(report.invalid_reason, env),
                        _(facts.renew_how), platform, code="credentials.invalid")]
    findings = [Finding("credentials", "ok",
                        _("{name} accepts the credentials (account {account})").format(
                            name=facts.name, account=report.account),
                        platform=platform, details={"account": report.account},
                        code="credentials.accepted")]
    for warning in report.warnings:
        findings.append(Finding("credentials", "warning", redact(warning, env),
                                _("see the message"), platform, code="credentials.warning"))
    if not facts.token_expires or report.expiry_known:
        findings.append(expiry_finding(platform, report.expires_at, project, now))
    else:
        findings.append(unknown_expiry_finding(platform, project, redact(report.expiry_note, env)))
    scope = scope_finding(platform, report.scopes)
    metrics_scope = metrics_scope_finding(platform, report.scopes)
    if metrics_scope is not None:
        findings.append(metrics_scope)
    if scope is not None:
        findings.append(scope)
    elif facts.posting_scopes and report.scopes is None and facts.token_expires:
        # A token whose permissions nobody listed: a token without write access shows only
        # when a post is refused, so nothing is claimed here but a warning.
        findings.append(Finding("permissions", "warning",
                                _("{name} did not say which permissions the token has").format(
                                    name=facts.name),
                                _("check them by hand in the app's settings on {name}'s developer "
                                  "site").format(name=facts.name), platform,
                                code="permissions.unknown"))
    return findings


def probe_image() -> bytes:
    """A small JPEG with no metadata: what doctor puts on the image host."""
    image = Image.new("RGB", (400, 500), (11, 60, 93))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def media_host_finding(platform: Platform, host: MediaHost, env: Mapping[str, str]) -> list[Finding]:
    """Put a test image on the host, fetch it at its public URL as the platform would, remove it."""
    name = SPECS[platform].name
    section = f"[platforms.{platform}]"
    with tempfile.TemporaryDirectory(prefix="campaign-doctor-") as folder:
        path = Path(folder) / "doctor-test.jpg"
        path.write_bytes(probe_image())
        try:
            where = host.check()
            hosted = host.put(path)
        except CampaignError as exc:
            return [Finding("media_host", "error",
                            _("the image host does not take the test image: {problem}").format(
                                problem=redact(str(exc), env)),
                            _("fix the media_host settings of {section} (media_dir, media_base_url "
                              "or s3_*)").format(section=section), platform,
                            code="media_host.unusable")]
    findings: list[Finding] = []
    problem: str | None = None
    try:
        # No credentials and a fresh connection: the platform's fetcher is a stranger.
        response = requests.get(hosted.url, timeout=(10, 30), allow_redirects=True)
    except requests.RequestException as exc:
        problem = _("it cannot be fetched at its public URL ({error})").format(
            error=type(exc).__name__)
    else:
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code != 200:
            problem = _("its public URL answers HTTP {status}").format(status=response.status_code)
        elif ctype and ctype != "image/jpeg":
            problem = _("its public URL serves it as {type}, not image/jpeg").format(type=ctype)
        elif not ctype:
            problem = _("its public URL serves it as no type, not image/jpeg")
        elif not response.content.startswith(b"\xff\xd8"):
            problem = _("its public URL does not serve the JPEG that was put there")
    shown = hosted.url.split("?")[0]  # a pre-signed URL's query is a credential
    try:
        host.remove(hosted.name)
        removed = True
    except Exception:  # any host's failure to delete is reported, never raised
        removed = False
    if problem:
        findings.append(Finding(
            "media_host", "error",
            _("{name} could not fetch the card: the test image was put on the image host, but "
              "{problem} ({url})").format(name=name, problem=problem, url=shown),
            _("make media_base_url the public HTTPS address under which the web server publishes "
              "media_dir (or check the bucket's public access for s3), then run doctor again"),
            platform, {"url": shown}, code="media_host.not_fetched"))
    else:
        findings.append(Finding("media_host", "ok",
                                _("a test image was fetched at its public URL as image/jpeg; "
                                  "{where}").format(where=where),
                                platform=platform, details={"url": shown}, code="media_host.ok"))
        if not host.local and not hosted.url.startswith("https://"):
            findings.append(Finding("media_host", "warning",
                                    _("the image host's URL is not HTTPS; {name} fetches images "
                                      "from public HTTPS URLs").format(name=name),
                                    _("serve media_dir over HTTPS"), platform, {"url": shown},
                                    code="media_host.not_https"))
    if not removed:
        findings.append(Finding("media_host", "warning",
                                _("the test image could not be removed from the image host"),
                                _("delete it by hand: {url}").format(url=shown), platform,
                                code="media_host.not_removed"))
    return findings


def platform_findings(platform: Platform, project: Project, env: Mapping[str, str], now: datetime,
                      clock: _Clock, session_factory: Callable[[], requests.Session]) -> list[Finding]:
    """Secrets, credentials, expiry, permissions, API version and image host of one platform."""
    facts = SPECS[platform]
    missing = missing_secrets(platform, env)
    pinned = publisher_class(platform).api_version
    version = [] if pinned is None else [api_version_finding(platform, pinned, project, now)]
    if missing:
        return [Finding("secrets", "error",
                        _("{variables} not set: {name} cannot post").format(
                            variables=", ".join(missing), name=facts.name),
                        ngettext("add it to the environment or to the .env file in the repository "
                                 "root (README, \"Environment variables\"), or disable {platform} "
                                 "in campaign.toml",
                                 "add them to the environment or to the .env file in the "
                                 "repository root (README, \"Environment variables\"), or disable "
                                 "{platform} in campaign.toml", len(missing)).format(
                            platform=platform), platform,
                        {"missing": missing}, code="secrets.missing"), *version]
    findings = [Finding("secrets", "ok", _("{variables} set").format(
                            variables=", ".join(facts.secrets)),
                        platform=platform, details={"missing": []}, code="secrets.set")]
    session = session_factory()
    session.hooks["response"].append(clock.hook(platform))
    try:
        publisher = make_publisher(platform, project.settings, session, env)
        report = publisher.check_credentials()
    except VersionRefused as exc:
        return [*findings, Finding("api_version", "error", redact(str(exc), env),
                                   _("update campaign to a release that pins a newer {name} API "
                                     "version").format(name=facts.name), platform,
                                   {"version": exc.version}, code="api_version.refused")]
    except PublishError as exc:
        if isinstance(exc, PostRejected):
            fix, code = _("renew the credentials named above"), "credentials.refused"
        else:
            fix = _("check the network and the API base URL, then run doctor again")
            code = "credentials.unreachable"
        return [*findings, Finding("credentials", "error", redact(str(exc), env), fix, platform,
                                   code=code), *version]
    except CampaignError as exc:
        return [*findings, Finding("credentials", "error", redact(str(exc), env),
                                   _("see the message"), platform, code="credentials.error"),
                *version]
    findings.extend(report_findings(report, project, env, now))
    findings.extend(version)
    if report.media_host is not None:
        findings.extend(media_host_finding(platform, report.media_host, env))
    return findings


# -- the machine ---------------------------------------------------------------------

def clock_findings(clock: _Clock) -> list[Finding]:
    findings: list[Finding] = []
    for platform, seen in sorted(clock.seen.items()):
        # The Date header has whole seconds: take the smallest difference seen.
        skew = min((ours - theirs for ours, theirs in seen), key=lambda d: abs(d.total_seconds()))
        seconds = skew.total_seconds()
        details = {"skew_seconds": round(seconds, 1)}
        p: Platform = platform  # type: ignore[assignment]
        values = {"seconds": f"{abs(seconds):.0f}", "name": SPECS[p].name}
        ntp = _("turn on time synchronisation (NTP: `timedatectl set-ntp true`)")
        if abs(skew) > CLOCK_ERROR:
            message = (_("this machine's clock is {seconds} s ahead of {name}'s: signed requests "
                         "would be refused and posts would go out at the wrong time")
                       if seconds > 0 else
                       _("this machine's clock is {seconds} s behind {name}'s: signed requests "
                         "would be refused and posts would go out at the wrong time"))
            findings.append(Finding("clock", "error", message.format(**values), ntp, p, details,
                                    code="clock.far_off"))
        elif abs(skew) > CLOCK_WARNING:
            message = (_("this machine's clock is {seconds} s ahead of {name}'s: posts would go "
                         "out that much off")
                       if seconds > 0 else
                       _("this machine's clock is {seconds} s behind {name}'s: posts would go "
                         "out that much off"))
            findings.append(Finding("clock", "warning", message.format(**values), ntp, p, details,
                                    code="clock.off"))
        else:
            findings.append(Finding("clock", "ok",
                                    _("this machine's clock agrees with {name}'s (within {seconds} "
                                      "s)").format(**values),
                                    platform=p, details=details, code="clock.ok"))
    return findings


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def ledger_finding(project: Project) -> Finding:
    if project.ledger_url is not None:
        return _shared_ledger_finding(project)
    path = project.ledger_path
    shown = project.relative(path)
    if not path.exists():
        parent = _existing_parent(path.parent)
        if os.access(parent, os.W_OK):
            return Finding("ledger", "ok", _("{path} does not exist yet; it will be created in a "
                                             "writable folder").format(path=shown),
                           details={"path": shown}, code="ledger.will_be_created")
        return Finding("ledger", "error",
                       _("{path} cannot be created: {folder} is not writable").format(
                           path=shown, folder=parent),
                       _("make the folder writable for the user that runs campaign, or set "
                         "paths.ledger in campaign.toml"), details={"path": shown},
                       code="ledger.cannot_be_created")
    try:
        # A write lock proves it is writable without changing anything.
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
        finally:
            db.close()
        with Ledger.open(path):
            pass
    except (sqlite3.Error, CampaignError) as exc:
        return Finding("ledger", "error",
                       _("{path} is not writable ({error})").format(path=shown, error=exc),
                       _("make the file and its folder writable for the user that runs campaign; "
                         "if another program holds it, stop that program"),
                       details={"path": shown}, code="ledger.not_writable")
    return Finding("ledger", "ok", _("{path} is writable").format(path=shown),
                   details={"path": shown}, code="ledger.writable")


def _shared_ledger_finding(project: Project) -> Finding:
    """The ledger in a shared PostgreSQL database (two machines): it answers, and who posts."""
    shown = project.ledger_shown
    try:
        with Ledger.open(project.ledger_target) as ledger:
            leader = ledger.leader()
    except CampaignError as exc:
        return Finding("ledger", "error", str(exc),
                       _("start PostgreSQL there, or correct CAMPAIGN_LEDGER_URL"),
                       details={"path": shown}, code="ledger.shared_unreachable")
    if leader is None:
        text = _("the shared database {url} answers; no `campaign run` is posting now")
    else:
        text = _("the shared database {url} answers; posting from {host} (pid {pid})")
    return Finding("ledger", "ok", text.format(url=shown, host=leader.host if leader else "",
                                               pid=leader.pid if leader else ""),
                   details={"path": shown}, code="ledger.shared")


def disk_finding(project: Project) -> Finding:
    folder = _existing_parent(project.build_dir)
    free = shutil.disk_usage(folder).free
    shown = project.relative(project.build_dir)
    details = {"path": shown, "free_bytes": free}
    megabytes = free // (1024 * 1024)
    values = {"megabytes": format_number(megabytes), "path": shown}
    if not os.access(folder, os.W_OK):
        return Finding("disk_space", "error",
                       _("the build folder {path} is not writable").format(**values),
                       _("make it writable for the user that runs campaign, or set paths.build"),
                       details=details, code="disk_space.not_writable")
    if free < DISK_ERROR_BYTES:
        return Finding("disk_space", "error",
                       _("only {megabytes} MB free for the build folder {path}: cards could not "
                         "be written").format(**values),
                       _("free some space (at least 500 MB)"), details=details,
                       code="disk_space.too_little")
    if free < DISK_WARNING_BYTES:
        return Finding("disk_space", "warning",
                       _("only {megabytes} MB free for the build folder {path}").format(**values),
                       _("free some space (at least 500 MB)"), details=details,
                       code="disk_space.little")
    return Finding("disk_space", "ok",
                   _("{megabytes} MB free for the build folder {path}").format(**values),
                   details=details, code="disk_space.ok")


def alert_finding(project: Project, env: Mapping[str, str], send: bool) -> Finding:
    settings = project.settings
    # The Alerter records alerts in a ledger; a test message must not land in the real one.
    with tempfile.TemporaryDirectory(prefix="campaign-doctor-") as folder, \
            Ledger.open(Path(folder) / "doctor.sqlite") as scratch:
        alerter = Alerter(settings.alerts, scratch, env, campaign_name=settings.campaign.name)
        channels = alerter.channels
        if not channels:
            return Finding("alerts", "warning",
                           _("no alert channel is set up: nobody would hear of a failed post"),
                           _("set alerts.email_to (with smtp_host, email_from) or alerts.webhook = "
                             "true with CAMPAIGN_ALERT_WEBHOOK_URL"),
                           details={"channels": [], "sent": False}, code="alerts.none")
        if not send:
            states = probe_channels(settings.alerts, env)
            broken = [s for s in states if not s.ok]
            if broken:
                return Finding("alerts", "error",
                               _("alerts would not arrive: {problems}").format(
                                   problems="; ".join(f"{s.channel}: {s.detail}" for s in broken)),
                               _("fix the [alerts] settings, then run `campaign doctor "
                                 "--send-test-alert` to send a test message"),
                               details={"channels": channels, "sent": False},
                               code="alerts.would_not_arrive")
            return Finding("alerts", "ok",
                           _("{channels} (nothing sent: add --send-test-alert to send a test "
                             "message)").format(
                               channels="; ".join(f"{s.channel}: {s.detail}" for s in states)),
                           details={"channels": channels, "sent": False}, code="alerts.ready")
        try:
            alerter.send(_("Test message from `campaign doctor` for {campaign}: if you read this, "
                           "alerts reach you. Nothing needs doing.").format(
                               campaign=settings.campaign.name))
        except DeliveryFailed as exc:
            return Finding("alerts", "error",
                           _("the test alert was not delivered: {error}").format(
                               error=redact(str(exc), env)),
                           _("fix the [alerts] settings and the CAMPAIGN_SMTP_* / "
                             "CAMPAIGN_ALERT_WEBHOOK_URL variables"),
                           details={"channels": channels, "sent": False},
                           code="alerts.not_delivered")
    return Finding("alerts", "ok",
                   _("a test alert was sent by {channels}: check that it arrived").format(
                       channels=_and(channels)),
                   details={"channels": channels, "sent": True}, code="alerts.sent")


def _and(items: Sequence[str]) -> str:
    """`e-mail and webhook` / `e-mail en webhook`."""
    if len(items) < 2:
        return "".join(items)
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def override_finding(project: Project, env: Mapping[str, str], allowed: bool) -> Finding | None:
    """Said first: the API addresses are not the real platforms' (the sandbox, a proxy).

    Then the other findings are about those addresses, so this is never the real
    pre-flight: an error, unless `--allow-overrides` says that is what is meant."""
    overridden: dict[str, str] = {}
    for platform in project.settings.enabled_platforms():
        variable = api_url_variable(platform)
        configured = project.settings.platform(platform)
        value = env.get(variable, "").strip() or (getattr(configured, "api_url", None) or "")
        if value:
            overridden[platform] = value
    if not overridden:
        return None
    listed = ", ".join(f"{p} → {url}" for p, url in overridden.items())
    values = {"n": len(overridden), "listed": listed}
    if allowed:
        return Finding("api_urls", "warning",
                       ngettext("the API addresses of {n} platform(s) are overridden ({listed}): "
                                "everything below checks those addresses (the sandbox, or a "
                                "proxy), not the real platforms: this is not the real pre-flight",
                                "the API addresses of {n} platform(s) are overridden ({listed}): "
                                "everything below checks those addresses (the sandbox, or a "
                                "proxy), not the real platforms: this is not the real pre-flight",
                                len(overridden)).format(**values),
                       _("for the real pre-flight, unset the CAMPAIGN_<PLATFORM>_API_URL variables "
                         "(see `set -a; . .env.sandbox`) and remove api_url from campaign.toml"),
                       details={"overridden": overridden}, code="api_urls.overridden_allowed")
    return Finding("api_urls", "error",
                   ngettext("the API addresses of {n} platform(s) are overridden ({listed}): "
                            "everything below checks those addresses (the sandbox, or a proxy), "
                            "not the real platforms, so this cannot pass as the real pre-flight",
                            "the API addresses of {n} platform(s) are overridden ({listed}): "
                            "everything below checks those addresses (the sandbox, or a proxy), "
                            "not the real platforms, so this cannot pass as the real pre-flight",
                            len(overridden)).format(**values),
                   _("unset the CAMPAIGN_<PLATFORM>_API_URL variables and remove api_url from "
                     "campaign.toml for the real pre-flight, or add --allow-overrides to check "
                     "against these addresses on purpose"),
                   details={"overridden": overridden}, code="api_urls.overridden")


def logo_finding(project: Project, real: bool) -> Finding | None:
    if not uses_placeholder_logo(project):
        return None
    return Finding("theme", "error" if real else "warning",
                   _("the cards carry the placeholder logo (LOGO HIER / placeholder: vervang dit)"),
                   _("put your organisation's logo (a PNG with transparency) in assets/ and point "
                     "theme.logo in campaign.toml at it"), code="theme.placeholder_logo")


def run_doctor(project: Project, now: datetime, env: Mapping[str, str] | None = None, *,
               send_test_alert: bool = False, allow_overrides: bool = False,
               session_factory: Callable[[], requests.Session] = requests.Session) -> DoctorReport:
    """Every pre-flight check, in order; never raises for what it finds."""
    values: Mapping[str, str] = os.environ if env is None else env
    settings = project.settings
    clock = _Clock()
    findings: list[Finding] = []
    overrides = override_finding(project, values, allow_overrides)
    if overrides is not None:
        findings.append(overrides)
    logo = logo_finding(project, real=overrides is None)
    if logo is not None:
        findings.append(logo)
    for platform in settings.enabled_platforms():
        findings.extend(platform_findings(platform, project, values, now, clock, session_factory))
    findings.extend(clock_findings(clock))
    findings.append(ledger_finding(project))
    findings.append(disk_finding(project))
    findings.append(alert_finding(project, values, send_test_alert))
    return DoctorReport(now, settings.campaign.start, settings.campaign.end, tuple(findings))


__all__ = [
    "CHECK_LABELS",
    "STATUS_MARKS",
    "DoctorReport",
    "Finding",
    "api_version_finding",
    "expiry_finding",
    "media_host_finding",
    "report_findings",
    "run_doctor",
    "scope_finding",
]
