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

Every finding says what is wrong and what to do. A finding is an *error* when
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

@dataclass(frozen=True)
class Finding:
    """One thing doctor looked at: its status, what it found, and what to do."""

    check: str  # secrets, credentials, token_expiry, permissions, api_version, media_host,
    #            clock, ledger, disk_space, alerts
    status: Status
    message: str
    fix: str | None = None
    platform: Platform | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "platform": self.platform,
            "status": self.status,
            "message": self.message,
            "fix": self.fix,
            **self.details,
        }

    def format(self) -> str:
        mark = {"ok": "ok     ", "warning": "WARNING", "error": "ERROR  "}[self.status]
        where = f"{self.platform} " if self.platform else ""
        text = f"{mark} {where}{self.check}: {self.message}"
        return text + (f"\n          fix: {self.fix}" if self.fix and self.status != "ok" else "")


@dataclass(frozen=True)
class DoctorReport:
    checked_at: datetime
    campaign_start: date
    campaign_end: date
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.status == "error" for f in self.findings)

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
        return Finding("token_expiry", "ok", f"the {name} token does not expire", platform=platform,
                       details={"expires_at": None, "renew_by": None})
    tz = settings.tz
    local = expires_at.astimezone(tz)
    expires_day = local.date()
    # Renewing gives a token of about 60 days: not before this day, or it ends before the
    # campaign does; not after the day before it expires (or before the campaign starts).
    renew_from = end + timedelta(days=1) - TOKEN_LIFETIME + timedelta(days=2)
    renew_by = min(expires_day - timedelta(days=1), start - timedelta(days=1))
    how = SPECS[platform].renew_how
    details = {"expires_at": local.isoformat(), "renew_by": renew_by.isoformat(),
               "renew_from": renew_from.isoformat()}
    window = (f"between {renew_from.isoformat()} and {renew_by.isoformat()}"
              if renew_from <= renew_by else f"by {renew_by.isoformat()}")
    if expires_at <= now:
        return Finding("token_expiry", "error", f"the {name} token expired on {local:%Y-%m-%d %H:%M %Z}",
                       f"{how}, now; a token renewed today lives until about "
                       f"{(now + TOKEN_LIFETIME).astimezone(tz):%Y-%m-%d}"
                       + ("" if (now + TOKEN_LIFETIME) > campaign_last_moment(project)
                          else f", which is before the campaign ends ({end}): renew it again {window}"),
                       platform=platform,
                       details={**details, "renew_by": now.astimezone(tz).date().isoformat()})
    if expires_at <= campaign_last_moment(project):
        return Finding("token_expiry", "error",
                       f"the {name} token expires on {local:%Y-%m-%d %H:%M %Z}, before the campaign's "
                       f"last day ({end}): posts after that would fail",
                       f"{how} {window} (a new token lives about 60 days, so it then lasts past "
                       f"{end})", platform=platform, details=details)
    if expires_at <= campaign_last_moment(project) + EXPIRY_SLACK:
        return Finding("token_expiry", "warning",
                       f"the {name} token expires on {local:%Y-%m-%d}, less than "
                       f"{EXPIRY_SLACK.days} days after the campaign ends ({end}): deleting posts "
                       "after a consent withdrawal would then fail",
                       f"{how} {window}", platform=platform, details=details)
    return Finding("token_expiry", "ok", f"the {name} token expires on {local:%Y-%m-%d}, after the "
                   f"campaign ends ({end})", platform=platform, details=details)


def unknown_expiry_finding(platform: Platform, project: Project, note: str = "") -> Finding:
    """A token that expires (about 60 days) but whose expiry could not be read."""
    facts = SPECS[platform]
    start, end = project.settings.campaign.start, project.settings.campaign.end
    renew_from = end + timedelta(days=1) - TOKEN_LIFETIME + timedelta(days=2)
    renew_by = start - timedelta(days=1)
    why = f" ({note})" if note else (f" ({facts.expiry_help})" if facts.expiry_help else "")
    return Finding("token_expiry", "warning",
                   f"{facts.name} did not say when the token expires{why}; its tokens live "
                   "about 60 days",
                   f"{facts.renew_how} between {renew_from.isoformat()} and "
                   f"{renew_by.isoformat()}, so that it lasts the whole campaign", platform,
                   {"expires_at": None, "renew_by": renew_by.isoformat(),
                    "renew_from": renew_from.isoformat()})


def scope_finding(platform: Platform, scopes: Sequence[str] | None) -> Finding | None:
    """Whether the token has the permissions the publisher needs; None if not known."""
    facts = SPECS[platform]
    alternatives = facts.posting_scopes
    if not alternatives or scopes is None:
        return None
    have = set(scopes)
    if any(need <= have for need in alternatives):
        return Finding("permissions", "ok", f"the {facts.name} token has the permissions to post",
                       platform=platform, details={"scopes": sorted(have), "missing": []})
    gaps: list[frozenset[str]] = [need - have for need in alternatives]
    gaps.sort(key=lambda gap: (len(gap), sorted(gap)))
    missing = sorted(gaps[0])
    return Finding("permissions", "error",
                   f"the {facts.name} token lacks the permission(s) {', '.join(missing)} (it has "
                   f"{', '.join(sorted(have)) or 'none'}): posts would be refused",
                   facts.scope_fix, platform, {"scopes": sorted(have), "missing": missing})


def api_version_finding(platform: Platform, pinned: ApiVersion, project: Project,
                        now: datetime) -> Finding:
    """The API version a publisher pins against its sunset and the campaign's last day."""
    name = SPECS[platform].name
    version, sunset = pinned.version, pinned.sunset
    fix = (f"update campaign to a release that pins a newer {name} API version, then run "
           "`campaign doctor` again")
    if sunset is None:
        return Finding("api_version", "ok", f"{name} API version {version} is not retired by "
                       "date", platform=platform, details={"version": version, "sunset": None})
    end = project.settings.campaign.end
    note = " (estimated: about a year after its release)" if pinned.sunset_estimated else ""
    details = {"version": version, "sunset": sunset.isoformat(),
               "sunset_estimated": pinned.sunset_estimated}
    today = now.astimezone(project.settings.tz).date()
    if sunset <= today:
        return Finding("api_version", "error", f"{name} API version {version} was sunset on "
                       f"{sunset}{note}: every {name} call would be refused", fix, platform,
                       details)
    if sunset <= end:
        return Finding("api_version", "error", f"{name} API version {version} is sunset on "
                       f"{sunset}{note}, before the campaign's last day ({end}): posts after that "
                       "would fail", fix, platform, details)
    if sunset <= end + timedelta(days=30):
        return Finding("api_version", "warning", f"{name} API version {version} is sunset on "
                       f"{sunset}{note}, within a month after the campaign ends", fix, platform,
                       details)
    return Finding("api_version", "ok", f"{name} API version {version} is supported until "
                   f"{sunset}{note}", platform=platform, details=details)


# -- per platform -------------------------------------------------------------------

def report_findings(report: CredentialReport, project: Project, env: Mapping[str, str],
                    now: datetime) -> list[Finding]:
    """A publisher's `CredentialReport` as findings: account, expiry, permissions."""
    platform = report.platform
    facts = SPECS[platform]
    if not report.valid:
        return [Finding("credentials", "error", redact(report.invalid_reason, env),
                        facts.renew_how, platform)]
    findings = [Finding("credentials", "ok", f"{facts.name} accepts the credentials (account "
                        f"{report.account})", platform=platform,
                        details={"account": report.account})]
    for warning in report.warnings:
        findings.append(Finding("credentials", "warning", redact(warning, env),
                                "see the message", platform))
    if not facts.token_expires or report.expiry_known:
        findings.append(expiry_finding(platform, report.expires_at, project, now))
    else:
        findings.append(unknown_expiry_finding(platform, project, redact(report.expiry_note, env)))
    scope = scope_finding(platform, report.scopes)
    if scope is not None:
        findings.append(scope)
    elif facts.posting_scopes and report.scopes is None and facts.token_expires:
        # A token whose permissions nobody listed: a token without write access shows only
        # when a post is refused, so nothing is claimed here but a warning.
        findings.append(Finding("permissions", "warning", f"{facts.name} did not say which "
                                "permissions the token has", "check them by hand in the app's "
                                f"settings on {facts.name}'s developer site", platform))
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
            return [Finding("media_host", "error", f"the image host does not take the test image: "
                            f"{redact(str(exc), env)}", f"fix the media_host settings of "
                            f"{section} (media_dir, media_base_url or s3_*)", platform)]
    findings: list[Finding] = []
    problem: str | None = None
    try:
        # No credentials and a fresh connection: the platform's fetcher is a stranger.
        response = requests.get(hosted.url, timeout=(10, 30), allow_redirects=True)
    except requests.RequestException as exc:
        problem = f"it cannot be fetched at its public URL ({type(exc).__name__})"
    else:
        ctype = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if response.status_code != 200:
            problem = f"its public URL answers HTTP {response.status_code}"
        elif ctype != "image/jpeg":
            problem = f"its public URL serves it as {ctype or 'no type'}, not image/jpeg"
        elif not response.content.startswith(b"\xff\xd8"):
            problem = "its public URL does not serve the JPEG that was put there"
    shown = hosted.url.split("?")[0]  # a pre-signed URL's query is a credential
    try:
        host.remove(hosted.name)
        removed = True
    except Exception:  # any host's failure to delete is reported, never raised
        removed = False
    if problem:
        findings.append(Finding(
            "media_host", "error", f"{name} could not fetch the card: the test image was put "
            f"on the image host, but {problem} ({shown})",
            "make media_base_url the public HTTPS address under which the web server publishes "
            "media_dir (or check the bucket's public access for s3), then run doctor again",
            platform, {"url": shown}))
    else:
        findings.append(Finding("media_host", "ok", f"a test image was fetched at its public URL as "
                                f"image/jpeg; {where}", platform=platform, details={"url": shown}))
        if not host.local and not hosted.url.startswith("https://"):
            findings.append(Finding("media_host", "warning", "the image host's URL is not HTTPS; "
                                    f"{name} fetches images from public HTTPS URLs",
                                    "serve media_dir over HTTPS", platform, {"url": shown}))
    if not removed:
        findings.append(Finding("media_host", "warning", "the test image could not be removed from "
                                "the image host", f"delete it by hand: {shown}", platform))
    return findings


def platform_findings(platform: Platform, project: Project, env: Mapping[str, str], now: datetime,
                      clock: _Clock, session_factory: Callable[[], requests.Session]) -> list[Finding]:
    """Secrets, credentials, expiry, permissions, API version and image host of one platform."""
    facts = SPECS[platform]
    missing = missing_secrets(platform, env)
    pinned = publisher_class(platform).api_version
    version = [] if pinned is None else [api_version_finding(platform, pinned, project, now)]
    if missing:
        return [Finding("secrets", "error", f"{', '.join(missing)} not set: {facts.name} cannot "
                        f"post", f"add {'them' if len(missing) > 1 else 'it'} to the environment "
                        "or to the .env file in the repository root (README, \"Environment "
                        f"variables\"), or disable {platform} in campaign.toml", platform,
                        {"missing": missing}), *version]
    findings = [Finding("secrets", "ok", f"{', '.join(facts.secrets)} set",
                        platform=platform, details={"missing": []})]
    session = session_factory()
    session.hooks["response"].append(clock.hook(platform))
    try:
        publisher = make_publisher(platform, project.settings, session, env)
        report = publisher.check_credentials()
    except VersionRefused as exc:
        return [*findings, Finding("api_version", "error", redact(str(exc), env),
                                   f"update campaign to a release that pins a newer {facts.name} "
                                   "API version", platform, {"version": exc.version})]
    except PublishError as exc:
        fix = ("renew the credentials named above" if isinstance(exc, PostRejected)
               else "check the network and the API base URL, then run doctor again")
        return [*findings, Finding("credentials", "error", redact(str(exc), env), fix, platform),
                *version]
    except CampaignError as exc:
        return [*findings, Finding("credentials", "error", redact(str(exc), env),
                                   "see the message", platform), *version]
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
        ahead = "ahead of" if seconds > 0 else "behind"
        details = {"skew_seconds": round(seconds, 1)}
        p: Platform = platform  # type: ignore[assignment]
        ntp = "turn on time synchronisation (NTP: timedatectl set-ntp true)"
        if abs(skew) > CLOCK_ERROR:
            findings.append(Finding("clock", "error", f"this machine's clock is {abs(seconds):.0f} s "
                                    f"{ahead} {SPECS[p].name}'s: signed requests would be refused "
                                    "and posts would go out at the wrong time", ntp, p, details))
        elif abs(skew) > CLOCK_WARNING:
            findings.append(Finding("clock", "warning", f"this machine's clock is {abs(seconds):.0f} s "
                                    f"{ahead} {SPECS[p].name}'s: posts would go out that much off",
                                    ntp, p, details))
        else:
            findings.append(Finding("clock", "ok", f"this machine's clock agrees with "
                                    f"{SPECS[p].name}'s (within {abs(seconds):.0f} s)",
                                    platform=p, details=details))
    return findings


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def ledger_finding(project: Project) -> Finding:
    path = project.ledger_path
    shown = project.relative(path)
    if not path.exists():
        parent = _existing_parent(path.parent)
        if os.access(parent, os.W_OK):
            return Finding("ledger", "ok", f"{shown} does not exist yet; it will be created in a "
                           "writable folder", details={"path": shown})
        return Finding("ledger", "error", f"{shown} cannot be created: {parent} is not writable",
                       "make the folder writable for the user that runs campaign, or set "
                       "paths.ledger in campaign.toml", details={"path": shown})
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
        return Finding("ledger", "error", f"{shown} is not writable ({exc})",
                       "make the file and its folder writable for the user that runs campaign; "
                       "if another program holds it, stop that program", details={"path": shown})
    return Finding("ledger", "ok", f"{shown} is writable", details={"path": shown})


def disk_finding(project: Project) -> Finding:
    folder = _existing_parent(project.build_dir)
    free = shutil.disk_usage(folder).free
    shown = project.relative(project.build_dir)
    details = {"path": shown, "free_bytes": free}
    megabytes = free // (1024 * 1024)
    if not os.access(folder, os.W_OK):
        return Finding("disk_space", "error", f"the build folder {shown} is not writable",
                       "make it writable for the user that runs campaign, or set paths.build",
                       details=details)
    if free < DISK_ERROR_BYTES:
        return Finding("disk_space", "error", f"only {megabytes} MB free for the build folder {shown}: "
                       "cards could not be written", "free some space (at least 500 MB)", details=details)
    if free < DISK_WARNING_BYTES:
        return Finding("disk_space", "warning", f"only {megabytes} MB free for the build folder {shown}",
                       "free some space (at least 500 MB)", details=details)
    return Finding("disk_space", "ok", f"{megabytes:,} MB free for the build folder {shown}",
                   details=details)


def alert_finding(project: Project, env: Mapping[str, str], send: bool) -> Finding:
    settings = project.settings
    # The Alerter records alerts in a ledger; a test message must not land in the real one.
    with tempfile.TemporaryDirectory(prefix="campaign-doctor-") as folder, \
            Ledger.open(Path(folder) / "doctor.sqlite") as scratch:
        alerter = Alerter(settings.alerts, scratch, env, campaign_name=settings.campaign.name)
        channels = alerter.channels
        if not channels:
            return Finding("alerts", "warning", "no alert channel is set up: nobody would hear "
                           "of a failed post", "set alerts.email_to (with smtp_host, email_from) "
                           "or alerts.webhook = true with CAMPAIGN_ALERT_WEBHOOK_URL",
                           details={"channels": [], "sent": False})
        if not send:
            states = probe_channels(settings.alerts, env)
            broken = [s for s in states if not s.ok]
            if broken:
                return Finding("alerts", "error", "alerts would not arrive: "
                               + "; ".join(f"{s.channel}: {s.detail}" for s in broken),
                               "fix the [alerts] settings, then run `campaign doctor "
                               "--send-test-alert` to send a test message",
                               details={"channels": channels, "sent": False})
            return Finding("alerts", "ok", "; ".join(f"{s.channel}: {s.detail}" for s in states)
                           + " (nothing sent: add --send-test-alert to send a test message)",
                           details={"channels": channels, "sent": False})
        try:
            alerter.send(f"Test message from `campaign doctor` for {settings.campaign.name}: "
                         "if you read this, alerts reach you. Nothing needs doing.")
        except DeliveryFailed as exc:
            return Finding("alerts", "error", f"the test alert was not delivered: "
                           f"{redact(str(exc), env)}", "fix the [alerts] settings and the "
                           "CAMPAIGN_SMTP_* / CAMPAIGN_ALERT_WEBHOOK_URL variables",
                           details={"channels": channels, "sent": False})
    return Finding("alerts", "ok", f"a test alert was sent by {' and '.join(channels)}: check that "
                   "it arrived", details={"channels": channels, "sent": True})


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
    message = (f"the API addresses of {len(overridden)} platform(s) are overridden ({listed}): "
               "everything below checks those addresses (the sandbox, or a proxy), not the "
               "real platforms")
    if allowed:
        return Finding("api_urls", "warning", message + ": this is not the real pre-flight",
                       "for the real pre-flight, unset the CAMPAIGN_<PLATFORM>_API_URL variables "
                       "(see `set -a; . .env.sandbox`) and remove api_url from campaign.toml",
                       details={"overridden": overridden})
    return Finding("api_urls", "error", message + ", so this cannot pass as the real pre-flight",
                   "unset the CAMPAIGN_<PLATFORM>_API_URL variables and remove api_url from "
                   "campaign.toml for the real pre-flight, or add --allow-overrides to check "
                   "against these addresses on purpose", details={"overridden": overridden})


def logo_finding(project: Project, real: bool) -> Finding | None:
    if not uses_placeholder_logo(project):
        return None
    return Finding("theme", "error" if real else "warning",
                   "the cards carry the placeholder logo (LOGO HIER / placeholder: vervang dit)",
                   "put your organisation's logo (a PNG with transparency) in assets/ and point "
                   "theme.logo in campaign.toml at it")


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
    "DoctorReport",
    "Finding",
    "api_version_finding",
    "expiry_finding",
    "media_host_finding",
    "report_findings",
    "run_doctor",
    "scope_finding",
]
