"""Secrets and API base URLs: read from the environment only, never written anywhere.

SPEC §3: credentials live in environment variables (a git-ignored `.env` file may
set them). This module names them, reads them with an error that names the missing
variable and the fix, chooses each platform's API base URL
(`CAMPAIGN_<PLATFORM>_API_URL`, then the `api_url` setting, then the real default),
and redacts every known secret value from text before it is shown or logged.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

from campaign.errors import UserError
from campaign.i18n import _
from campaign.models import PLATFORMS, Platform
from campaign.platforms import SPECS

#: The variables each platform's publisher needs, in the order a human sets them up.
PLATFORM_SECRETS: dict[Platform, tuple[str, ...]] = {p: f.secrets for p, f in SPECS.items()}

#: Other secrets the tool may meet: alerting, and S3 keys that boto3 reads itself.
OTHER_SECRETS: tuple[str, ...] = (
    # optional, per platform: e.g. what lets `campaign doctor` read a token's expiry
    *(name for facts in SPECS.values() for name in facts.optional_secrets),
    "CAMPAIGN_SMTP_USER",
    "CAMPAIGN_SMTP_PASSWORD",
    "CAMPAIGN_ALERT_WEBHOOK_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)

ALL_SECRETS: tuple[str, ...] = (
    *(name for names in PLATFORM_SECRETS.values() for name in names),
    *OTHER_SECRETS,
)

REDACTED = "[redacted]"

# Values shorter than this are not redacted: replacing "1" or "ab" everywhere would
# mangle messages without protecting anything (no real credential is that short).
_MIN_SECRET_LENGTH = 6


class SecretMissing(UserError):
    """A variable a platform needs is not set. Names the variable and the fix."""

    def __init__(self, platform: str, name: str) -> None:
        self.platform = platform
        self.name = name
        super().__init__(
            _("{platform}: the environment variable {name} is not set: add it to the "
              "environment or to the .env file in the repository root (see the README, "
              "\"Environment variables\"), or disable {platform} in campaign.toml").format(
                platform=platform, name=name)
        )


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def read_secret(platform: str, name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of one secret variable; raise SecretMissing when it is unset or blank."""
    value = _environ(env).get(name, "").strip()
    if not value:
        raise SecretMissing(platform, name)
    return value


def read_platform_secrets(
    platform: Platform, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Every secret `platform` needs, by variable name; SecretMissing names the first gap."""
    return {name: read_secret(platform, name, env) for name in PLATFORM_SECRETS[platform]}


def missing_secrets(platform: Platform, env: Mapping[str, str] | None = None) -> list[str]:
    """The names of the variables `platform` needs that are not set (for `doctor`)."""
    values = _environ(env)
    return [name for name in PLATFORM_SECRETS[platform] if not values.get(name, "").strip()]


def api_url_variable(platform: Platform) -> str:
    """`CAMPAIGN_X_API_URL` and so on: the override variable of one platform."""
    return f"CAMPAIGN_{platform.upper()}_API_URL"


def api_base_url(
    platform: Platform,
    default: str,
    setting: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """The base URL every HTTP call of `platform` goes to, without a trailing slash.

    `CAMPAIGN_<PLATFORM>_API_URL` wins, then the platform's `api_url` setting, then
    `default` (the real API). The base may carry a path (the sandbox serves each
    platform under its own prefix); the real API's paths are appended to it.
    """
    value = _environ(env).get(api_url_variable(platform), "").strip()
    if not value:
        value = (setting or "").strip() or default
    if not value.startswith(("http://", "https://")):
        raise UserError(
            _("{platform}: {variable} or api_url is {value!r}, which is not a web address: "
              "write it as http://host:port or https://host").format(
                platform=platform, variable=api_url_variable(platform), value=value)
        )
    return value.rstrip("/")


def secret_values(env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> list[str]:
    """Every known secret value that is set, longest first, plus `extra` values."""
    values = _environ(env)
    found = {values.get(name, "").strip() for name in ALL_SECRETS}
    found.update(v.strip() for v in extra)
    return sorted((v for v in found if len(v) >= _MIN_SECRET_LENGTH), key=len, reverse=True)


def redact(text: str, env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> str:
    """`text` with every known secret value replaced by [redacted].

    URL-encoded forms are replaced too: a token sent in a query string shows up
    percent-encoded in the URLs that requests puts into its exceptions.
    """
    for value in secret_values(env, extra):
        for form in {value, quote(value, safe=""), quote_plus(value, safe="")}:
            if form in text:
                text = text.replace(form, REDACTED)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts known secret values from each record's message.

    Install it on a handler (`handler.addFilter(RedactingFilter())`): handler filters
    see the records of every logger, including those of libraries.
    """

    def __init__(self, env: Mapping[str, str] | None = None, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self._env = env
        self._extra = tuple(extra)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self._env, self._extra)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


# oauthlib and requests-oauthlib log the OAuth 1.0a header, base string and signed
# parameters (the X access token among them) at DEBUG. Nothing of theirs is worth
# seeing, so they are held at WARNING whatever the root level is.
_LEAKY_LOGGERS = ("oauthlib", "requests_oauthlib")


def quiet_leaky_loggers() -> None:
    """Keep libraries that log credentials at DEBUG from ever doing so."""
    for name in _LEAKY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


__all__ = [
    "ALL_SECRETS",
    "OTHER_SECRETS",
    "PLATFORMS",
    "PLATFORM_SECRETS",
    "REDACTED",
    "RedactingFilter",
    "SecretMissing",
    "api_base_url",
    "api_url_variable",
    "missing_secrets",
    "quiet_leaky_loggers",
    "read_platform_secrets",
    "read_secret",
    "redact",
    "secret_values",
]
