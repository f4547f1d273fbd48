"""Meta's Graph API, shared by the Facebook Page and Instagram publishers.

The Graph version is pinned here and only here (platform-apis.md §2: Meta's SDK
pinned v25.0 when it was read); roll it forward once a year. The token goes in
the `Authorization` header, never in a URL: requests puts URLs into its
exception messages, and those end up in logs.

Errors arrive as `{"error": {"message", "type", "code", "error_subcode",
"is_transient", "fbtrace_id"}}` and are classified by code (platform-apis.md
§2.4, §3.6, §7).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.publishers.transport import DEFAULT_TIMEOUT, network_error, seconds_from_now
from campaign.secrets import redact

log = logging.getLogger(__name__)

GRAPH_VERSION = "v25.0"
DEFAULT_GRAPH_URL = "https://graph.facebook.com"

# Throttling: app (4), user (17), Page (32), API-specific (613), BUC (80001-80014).
# 32 and 80001 are from memory in platform-apis.md (UNCONFIRMED); treating them as
# throttling is the safer reading: waiting cannot double-post.
_THROTTLED = {4, 17, 32, 613} | set(range(80001, 80015))
_TRANSIENT = {1, 2, 341}
# IG: server error, download timeout, create failed, container expired (a retry makes a
# new one), media not ready yet.
_IG_TRANSIENT_SUBCODES = {2207001, 2207003, 2207032, 2207020, 2207027}
_QUOTA_SUBCODE = 2207042  # IG: publishing limit reached (code 9)
_DUPLICATE = 506
_TOKEN = 190
_POLICY_HOLD = {368}
_IG_POLICY_SUBCODES = {2207051}


def graph_time(value: str | None) -> datetime | None:
    """Graph's `2026-11-22T09:00:00+0000` as an aware datetime."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None


def regain_access_time(headers: Mapping[str, str]) -> datetime | None:
    """When a throttled app may call again, from the BUC header (minutes), if given."""
    raw = headers.get("x-business-use-case-usage")
    if not raw:
        return None
    try:
        usage = json.loads(raw)
    except ValueError:
        return None
    minutes = 0.0
    if isinstance(usage, dict):
        for entries in usage.values():
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict):
                    value = entry.get("estimated_time_to_regain_access", 0)
                    if isinstance(value, (int, float)):
                        minutes = max(minutes, float(value))
    return seconds_from_now(minutes * 60) if minutes > 0 else None


class GraphApiError(Exception):
    """Graph's error as it answered (status, code, subcode), kept as the cause of ours."""

    def __init__(self, status: int, code: int | None, subcode: int | None) -> None:
        self.status = status
        self.code = code
        self.subcode = subcode
        super().__init__(f"HTTP {status}, code {code}, subcode {subcode}")

    @classmethod
    def from_answer(cls, status: int, body: Any) -> GraphApiError:
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            return cls(status, None, None)
        return cls(status, _int(error.get("code")), _int(error.get("error_subcode")))


def graph_cause(exc: BaseException) -> GraphApiError | None:
    """The Graph answer behind one of our errors, if it came from one."""
    cause = exc.__cause__
    return cause if isinstance(cause, GraphApiError) else None


class GraphClient:
    """Calls one Graph host with one token and turns every failure into ours."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        token: str,
        session: requests.Session,
        *,
        token_variable: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session
        self.token_variable = token_variable
        self.timeout = timeout

    def url(self, path: str) -> str:
        return f"{self.base_url}/{GRAPH_VERSION}/{path.lstrip('/')}"

    def call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        story: str | None = None,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
    ) -> dict[str, Any]:
        """One Graph call; the decoded JSON object, or one of our errors."""
        try:
            response = self.session.request(
                method,
                self.url(path),
                params=params,
                data=data,
                files=files,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise network_error(
                self.platform, exc, what=what, creates=creates, story=story
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 400 and isinstance(body, dict) and "error" not in body:
            return body
        raise self.error(response, body, what=what, story=story, creates=creates) from (
            GraphApiError.from_answer(response.status_code, body)
        )

    def error(
        self,
        response: requests.Response,
        body: Any,
        *,
        what: str,
        story: str | None,
        creates: bool,
    ) -> PublishError:
        """Classify one failed Graph answer (platform-apis.md §2.4, §3.6)."""
        p = self.platform
        status = response.status_code
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            if status >= 500:
                return PostRetryable(p, f"server error {status} while {what}", story=story)
            if creates:
                return OutcomeUnknown(
                    p, f"unexpected answer {status} while {what}: the post may exist; look "
                    "at the account before any retry", story=story,
                )
            return PostRetryable(p, f"unexpected answer {status} while {what}", story=story)
        code = _int(error.get("code"))
        sub = _int(error.get("error_subcode"))
        # The platform's own words, cut short, and never with our token in them.
        message = redact(
            str(error.get("error_user_msg") or error.get("message") or "no detail")[:300],
            extra=(self._token,),
        )
        said = f"(code {code}{f'/{sub}' if sub else ''}: {message})"
        if code in _THROTTLED or (code == 9 and sub == _QUOTA_SUBCODE):
            reset = regain_access_time(response.headers)
            limit = "publishing limit" if code == 9 else "rate limit"
            return PostRetryable(
                p, f"{limit} reached while {what} {said}: it will be retried later",
                story=story, reset_at=reset,
            )
        if code == _TOKEN or code == 102 or code == 104:
            kind = "has expired" if sub == 463 else "is not accepted"
            return PostRejected(
                p, f"the access token {kind} {said}: create a new one and put it in "
                f"{self.token_variable} (see the README, \"Environment variables\")", story=story,
            )
        if code == 10 or (code is not None and 200 <= code <= 299):
            return PostRejected(
                p, f"the token lacks a permission needed for {what} {said}: grant it to the "
                f"app and renew {self.token_variable}", story=story,
            )
        # Facebook also answers a repeated post with 368 "You've already posted this"
        # (recordings: arsduo/koala#422): a duplicate like 506, not an account block.
        if code == _DUPLICATE or (code in _POLICY_HOLD and _already_posted(error)):
            return PostRejected(
                p, f"refused as a duplicate of an earlier post {said}: check the account; if "
                "it is not there, change the story's caption", story=story,
            )
        if code in _POLICY_HOLD or sub in _IG_POLICY_SUBCODES:
            return PostRejected(
                p, f"the account is temporarily blocked {said}: a human must look at the "
                "account's notifications before posting again", story=story,
            )
        if (
            code in _TRANSIENT
            or sub in _IG_TRANSIENT_SUBCODES
            or error.get("is_transient") is True
            or status >= 500
        ):
            if creates and status >= 500 and code not in _TRANSIENT:
                return OutcomeUnknown(
                    p, f"server error {status} while {what} {said}: the post may exist; "
                    "look at the account before any retry", story=story,
                )
            return PostRetryable(p, f"temporary error while {what} {said}", story=story)
        return PostRejected(
            p, f"refused while {what} {said}: check the card and caption against the "
            "platform's limits", story=story,
        )


def token_facts(graph: GraphClient) -> dict[str, Any]:
    """Expiry and permissions of the client's token from `GET /debug_token`
    (platform-apis.md §2.1), as `CredentialReport` fields; never raises for a failed read."""
    try:
        body = graph.call("GET", "debug_token", what="reading the token's expiry and permissions",
                          params={"input_token": graph._token})
    except PublishError as exc:
        return {"expiry_note": f"could not read the token's expiry and permissions: {exc}; check "
                               "them by hand in Meta's Access Token Debugger"}
    data = body.get("data")
    if not isinstance(data, dict):
        return {"expiry_note": "debug_token gave no data"}
    if data.get("is_valid") is False:
        return {"valid": False, "invalid_reason": f"Meta says {graph.token_variable} is not "
                f"valid: make a new token and put it in {graph.token_variable}"}
    raw = data.get("expires_at")
    scopes = data.get("scopes")
    return {
        "expires_at": datetime.fromtimestamp(raw, UTC) if isinstance(raw, int) and raw > 0 else None,
        "expiry_known": True,
        "scopes": tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    }


def _already_posted(error: dict[str, Any]) -> bool:
    words = f"{error.get('message') or ''} {error.get('error_user_msg') or ''}".lower()
    return "already posted" in words.replace("\u2019", "'")


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def now_utc() -> datetime:
    return datetime.now(UTC)


__all__ = [
    "DEFAULT_GRAPH_URL",
    "GRAPH_VERSION",
    "GraphApiError",
    "GraphClient",
    "graph_cause",
    "graph_time",
    "regain_access_time",
]
