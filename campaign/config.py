"""campaign.toml: the campaign's settings, validated by pydantic.

`load_project(path)` returns a `Project` (the repository root and its
`Settings`) or raises `ConfigError` with every problem as
`campaign.toml:12: platforms.x.card_format: must be one of ... `.

Secrets never live here: they come from the environment (see `secrets.py`).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import date, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator

from campaign.configfile import CONFIG_FILE
from campaign.errors import ConfigError
from campaign.i18n import _, normalise
from campaign.models import PLATFORMS, Platform, Problem
from campaign.platforms import (
    PlatformSettings,
    PlatformsSettings,
)
from campaign.validation import CodedError, describe_with_code, dotted
from campaign.validation import Strict as _Strict
from campaign.validation import check_url as _check_url

_HASHTAG = re.compile(r"^#?[^\W_]\w*$")
_HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def _check_hashtags(values: list[str]) -> list[str]:
    out = []
    for value in values:
        if not _HASHTAG.match(value):
            raise CodedError(
                _("{value!r} is not a hashtag: use letters and digits only, no spaces, "
                  "e.g. {example}").format(value=value, example="ZeldzameKanker"),
                "hashtag.invalid")
        out.append(value.lstrip("#"))
    return out


class CampaignSettings(_Strict):
    name: str = Field(min_length=1)
    start: date
    end: date
    timezone: str = "Europe/Amsterdam"
    language: str = Field(default="nl", pattern=r"^[a-z]{2}$")
    # The language of every message staff read (SPEC §14); None: the campaign's language.
    ui_language: str | None = None
    post_time: time = time(10, 0)
    hashtags: list[str] = Field(default_factory=list)
    link: str | None = None
    require_approval: bool = True
    catch_up_grace_minutes: int = Field(default=120, ge=0, le=24 * 60)

    _hashtags = field_validator("hashtags")(_check_hashtags)
    _link = field_validator("link")(_check_url)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise CodedError(
                _("{value!r} is not a time zone: use an IANA name such as {example}").format(
                    value=value, example="Europe/Amsterdam"), "config.unknown_timezone"
            ) from None
        return value

    @field_validator("ui_language")
    @classmethod
    def _known_language(cls, value: str | None) -> str | None:
        return None if value is None else normalise(value)

    @model_validator(mode="after")
    def _end_after_start(self) -> CampaignSettings:
        if self.end < self.start:
            raise CodedError(_("end is before start: the campaign must end on or after its "
                               "start"), "config.end_before_start")
        if (self.end - self.start).days > 366:
            raise CodedError(_("the campaign is longer than a year: check start and end"),
                             "config.campaign_too_long")
        return self


class PathSettings(_Strict):
    stories: str = "stories"
    # A file, or a shared PostgreSQL database (`postgresql://user@host/db`, two machines);
    # CAMPAIGN_LEDGER_URL, when set, wins (load_project).
    ledger: str = "state/ledger.sqlite"
    build: str = "build"

    @field_validator("ledger")
    @classmethod
    def _no_password_in_the_file(cls, value: str) -> str:
        from urllib.parse import urlsplit

        if value.startswith(("postgresql://", "postgres://")) and (
                urlsplit(value).password is not None or "password=" in value):
            raise CodedError(_("a password does not belong in campaign.toml: give the address "
                               "without it, and the password in PGPASSWORD (or the whole "
                               "address in CAMPAIGN_LEDGER_URL)"), "config.ledger_password")
        return value


class ThemeSettings(_Strict):
    background: str = "#0B3C5D"
    text: str = "#FFFFFF"
    accent: str = "#F5B700"
    font_regular: str = "assets/fonts/Inter-Regular.otf"
    font_semibold: str = "assets/fonts/Inter-SemiBold.otf"
    font_bold: str = "assets/fonts/Inter-Bold.otf"
    logo: str = "assets/logo-placeholder.png"
    # Characters Inter lacks (emoji) are drawn from this font; others are left out with a warning.
    font_fallback: str = "assets/fonts/NotoColorEmoji.ttf"
    margin: int = Field(default=72, ge=16, le=200)  # safe margin in pixels on every side
    min_font_size: int = Field(default=28, ge=12, le=80)  # no card text is set smaller
    jpeg_quality: int = Field(default=90, ge=50, le=100)  # lowered step by step over a size limit

    @field_validator("background", "text", "accent")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _HEX_COLOUR.match(value):
            raise CodedError(_("{value!r} is not a colour: write it as #RRGGBB, e.g. {example}")
                             .format(value=value, example="#0B3C5D"), "theme.not_a_colour")
        return value.upper()


class AlertSettings(_Strict):
    """Where alerts go. SMTP credentials and the webhook URL are secrets: environment only."""

    email_to: list[str] = Field(default_factory=list)
    email_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    webhook: bool = False  # POST alerts to CAMPAIGN_ALERT_WEBHOOK_URL
    daily_summary_time: time | None = time(18, 0)

    @model_validator(mode="after")
    def _email_complete(self) -> AlertSettings:
        if self.email_to and not (self.smtp_host and self.email_from):
            raise CodedError(_("email_to needs smtp_host and email_from: set both"),
                             "alerts.email_incomplete")
        return self


class ReportSettings(_Strict):
    """When the posts' numbers are fetched for `campaign report` (README, "campaign report")."""

    every_hours: float = Field(default=6, ge=0.25, le=168)  # during the week
    after_days: int = Field(default=14, ge=0, le=90)  # and for this many days after it
    after_every_hours: float = Field(default=24, ge=1, le=168)  # how often then


class Settings(_Strict):
    campaign: CampaignSettings
    paths: PathSettings = PathSettings()
    theme: ThemeSettings = ThemeSettings()
    platforms: PlatformsSettings
    alerts: AlertSettings = AlertSettings()
    report: ReportSettings = ReportSettings()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.campaign.timezone)

    def days(self) -> list[date]:
        start, end = self.campaign.start, self.campaign.end
        return [start + timedelta(days=i) for i in range((end - start).days + 1)]

    def platform(self, name: Platform) -> PlatformSettings | None:
        settings: PlatformSettings | None = getattr(self.platforms, name)
        return settings

    def enabled_platforms(self) -> list[Platform]:
        return [p for p in PLATFORMS if (s := self.platform(p)) is not None and s.enabled]

    def post_time(self, platform: Platform) -> time:
        settings = self.platform(platform)
        if settings is not None and settings.post_time is not None:
            return settings.post_time
        return self.campaign.post_time



@dataclass(frozen=True)
class Project:
    """A campaign on disk: the folder holding campaign.toml, and its settings."""

    root: Path
    settings: Settings
    config_file: Path

    def path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    @property
    def stories_dir(self) -> Path:
        return self.path(self.settings.paths.stories)

    @property
    def build_dir(self) -> Path:
        return self.path(self.settings.paths.build)

    @property
    def ledger_path(self) -> Path:
        return self.path(self.settings.paths.ledger)

    @property
    def ledger_url(self) -> str | None:
        """The shared PostgreSQL database the ledger is in, or None for the ledger file."""
        value = self.settings.paths.ledger
        return value if value.startswith(("postgresql://", "postgres://")) else None

    @property
    def ledger_target(self) -> Path | str:
        """What `Ledger.open` and `read_facts` take: the URL, or else the file."""
        return self.ledger_url or self.ledger_path

    @property
    def ledger_shown(self) -> str:
        """The ledger as staff read it: the file relative to the repository, or the
        database's address without its password."""
        if self.ledger_url is None:
            return self.relative(self.ledger_path)
        from campaign.ledger_backends import shown

        return shown(self.ledger_url)

    def relative(self, path: Path) -> str:
        """A path as the user sees it: relative to the repository root where possible.

        The file's own name is kept as it is (not followed if it is a link, which
        may lead anywhere or nowhere); only its folder is resolved.
        """
        try:
            where = path.parent.resolve() / path.name
            return where.relative_to(self.root.resolve()).as_posix()
        except (ValueError, RuntimeError, OSError):
            return str(path)


_EXAMPLES = {
    "name": '"Week van de Zeldzame Kanker 2027"',
    "start": "2027-03-08",
    "end": "2027-03-14",
    "page_id": '"1234567890"',
    "account_id": '"17841400000000000"',
    "organization_id": '"1234567"',
    "instance_url": '"https://social.example.org"',
    "handle": '"campaign.example.org"',
}


_TOML_KEY = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*=\s*(.*?)\s*(#.*)?$")
_TOML_TABLE = re.compile(r"^\s*\[+\s*([\w.-]+)\s*\]+")
_LOOKS_LIKE_DATE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_LOOKS_LIKE_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def toml_problem(shown: str, text: str, line: int | None, error: str) -> Problem:
    """A TOML syntax error as the key it is on and the form that value needs."""
    lines = text.split("\n")
    source = lines[line - 1] if line and line <= len(lines) else ""
    found = _TOML_KEY.match(source)
    if not found:
        return Problem(shown, line, None, _("is not valid TOML ({error}): fix the syntax on that "
                                            "line").format(error=error), code="toml.syntax")
    table = ""
    for earlier in reversed(lines[: (line or 1) - 1]):
        header = _TOML_TABLE.match(earlier)
        if header:
            table = header.group(1) + "."
            break
    key, value = found.group(1), found.group(2)
    field = table + key
    date_like = _LOOKS_LIKE_DATE.match(value)
    time_like = _LOOKS_LIKE_TIME.match(value)
    if date_like:
        day, month, year = (int(g) for g in date_like.groups())
        try:
            shown_date = date(year, month, day).isoformat()
        except ValueError:
            shown_date = "2027-03-08"
        message = _("{value} is not a date in the form TOML needs: write it year-month-day, "
                    "without quotes, like this: {key} = {date}").format(
                        value=value, key=key, date=shown_date)
        code = "toml.date_form"
    elif time_like:
        message = _('write a time of day in quotes, with two digits for the hour: '
                    '{key} = "{time}"').format(
                        key=key, time=f"{int(time_like.group(1)):02d}:{time_like.group(2)}")
        code = "toml.time_form"
    elif (value and value[0] not in "\"'[{0123456789tf-+") or value in ("ja", "nee", "yes", "no"):
        if value.lower() in ("ja", "yes", "waar", "on"):
            message = _("write true or false: {key} = true").format(key=key)
            code = "toml.true_or_false"
        elif value.lower() in ("nee", "no", "onwaar", "off"):
            message = _("write true or false: {key} = false").format(key=key)
            code = "toml.true_or_false"
        else:
            message = _('a text needs quotes around it: {key} = "{value}"').format(
                key=key, value=value)
            code = "toml.text_without_quotes"
    elif value.count('"') % 2 or value.count("'") % 2:
        message = _('a quote is not closed: {key} = "..." needs a quote at both ends').format(
            key=key)
        code = "toml.quote_not_closed"
    else:
        message = _("is not valid TOML ({error}): fix the value").format(error=error)
        code = "toml.syntax"
    return Problem(shown, line, field, message, code=code)


def load_project(config_file: Path) -> Project:
    """Read and validate campaign.toml; raise ConfigError listing every problem."""
    shown = config_file.name
    try:
        text = config_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            [Problem(shown, None, None, _("not found in {folder}: run campaign from the folder "
                                          "that holds campaign.toml, or pass --config PATH")
                     .format(folder=config_file.parent), code="config.not_found")]
        ) from None
    except UnicodeDecodeError:
        raise ConfigError([Problem(shown, None, None, _("is not UTF-8: save it as UTF-8"),
                                   code="file.not_utf8")]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError([toml_problem(shown, text, line, str(exc))]) from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [p for p in error["loc"] if isinstance(p, (str, int))]
            key = str(loc[-1]) if loc else ""
            message, code = describe_with_code(error, Settings, _EXAMPLES.get(key, ""))
            problems.append(Problem(shown, toml_line(text, loc), dotted(loc) or None, message,
                                    code=code))
        raise ConfigError(problems) from None
    shared = os.environ.get("CAMPAIGN_LEDGER_URL")
    if shared:  # the shared database named in the environment wins over campaign.toml
        settings = settings.model_copy(update={
            "paths": settings.paths.model_copy(update={"ledger": shared})})
    return Project(root=config_file.parent.resolve(), settings=settings, config_file=config_file)


def toml_line(text: str, loc: list[str | int]) -> int | None:
    """The 1-based line of a dotted key in a TOML text, for error messages.

    tomllib keeps no positions, so this finds the `[table]` header of the
    key's parents and then the `key =` line inside that table. Keys written
    as inline tables or dotted keys fall back to their table's line.
    """
    keys = [p for p in loc if isinstance(p, str)]
    if not keys:
        return None
    lines = text.splitlines()
    header_re = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")
    # The key may itself be a table: [pahts] or [platforms.x].
    full = ".".join(keys)
    for i, line in enumerate(lines):
        m = header_re.match(line)
        if m:
            name = m.group(1).replace('"', "").replace(" ", "")
            if name == full or name.startswith(full + "."):
                return i + 1
    # Try the longest table prefix that has a header, then the key inside it.
    for split in range(len(keys) - 1, -1, -1):
        table, rest = keys[:split], keys[split:]
        start = 0
        if table:
            wanted = ".".join(table)
            found = None
            for i, line in enumerate(lines):
                m = header_re.match(line)
                if m and m.group(1).replace('"', "").replace(" ", "") == wanted:
                    found = i
                    break
            if found is None:
                continue
            start = found + 1
        key_re = re.compile(rf"^\s*{re.escape(rest[0])}\s*=")
        for i in range(start, len(lines)):
            if header_re.match(lines[i]):
                break
            if key_re.match(lines[i]):
                return i + 1
        if table:
            return start  # the table's header line
    return None


__all__ = [
    "CONFIG_FILE",
    "PLATFORMS",
    "Project",
    "Settings",
    "load_project",
    "toml_line",
]
