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
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests

from campaign.errors import PublishError
from campaign.i18n import N_, _
from campaign.publishers.http import (
    SERVER_ERRORS,
    Answer,
    ApiClient,
    ApiError,
    ErrorPolicy,
    Rule,
    api_cause,
    json_object,
)
from campaign.publishers.transport import DEFAULT_TIMEOUT, seconds_from_now
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


#: Graph's answer as it came (status, code, subcode), kept as the cause of ours.
GraphApiError = ApiError


def graph_cause(exc: BaseException) -> ApiError | None:
    """The Graph answer behind one of our errors, if it came from one."""
    return api_cause(exc)


def read_graph_error(response: requests.Response, call: str, secrets: Sequence[str]) -> Answer:
    """Graph's `{"error": {"message", "code", "error_subcode", "is_transient", ...}}`."""
    body = json_object(response)
    error = body.get("error")
    if not isinstance(error, dict):
        return Answer(status=response.status_code, headers=response.headers, call=call,
                      body_error=False)
    code, sub = _int(error.get("code")), _int(error.get("error_subcode"))
    return Answer(
        status=response.status_code,
        code=None if code is None else str(code),
        subcode=None if sub is None else str(sub),
        # The platform's own words, cut short, and never with our token in them.
        message=redact(str(error.get("error_user_msg") or error.get("message") or
                           _("no detail"))[:300], extra=secrets),
        headers=response.headers, call=call, transient=error.get("is_transient") is True,
    )


def _quote(answer: Answer) -> str:
    if not answer.body_error:
        return f"(HTTP {answer.status})"
    sub = f"/{answer.subcode}" if answer.subcode else ""
    return f"(code {answer.code}{sub}: {answer.message})"


def _codes(values: Iterable[int]) -> frozenset[str]:
    return frozenset(str(v) for v in values)


def _no_error_body(answer: Answer) -> bool:
    return not answer.body_error


def _already_posted(answer: Answer) -> bool:
    # Facebook also answers a repeated post with 368 "You've already posted this"
    # (recordings: arsduo/koala#422): a duplicate like 506, not an account block.
    return "already posted" in answer.message.lower().replace("\u2019", "'")


def _too_few_viewers(answer: Answer) -> bool:
    # Instagram: "(#10) Not enough viewers for the media to show insights" (IG Media Insights).
    return "not enough viewers" in answer.message.lower()


def _insights_call(answer: Answer) -> bool:
    return answer.call.endswith("/insights") or "insights" in answer.message.lower()


def _metric_refused(answer: Answer) -> bool:
    # Facebook: "(#100) The value must be a valid insights metric"; Instagram: "... the
    # impressions metric is no longer supported ..." (gitroomhq/postiz-app#622) or
    # "(#100) metric[0] must be one of the following values: ...".
    words = answer.message.lower()
    return any(w in words for w in ("valid insights metric", "metric is no longer supported",
                                    "must be one of the following values"))


_TRANSIENT_CODES = _codes(_TRANSIENT)
_TRANSIENT_SUBCODES = _codes(_IG_TRANSIENT_SUBCODES)


def _transient(answer: Answer) -> bool:
    return (answer.code in _TRANSIENT_CODES or answer.subcode in _TRANSIENT_SUBCODES
            or answer.transient)


_TOKEN_FIX = N_("create a new one and put it in {variable} (see the README, "
                "\"Environment variables\")")

#: What each failed Graph answer means, for Facebook and Instagram (platform-apis.md §2.4,
#: §3.6; see `http.py`). Graph has no idempotency key: a server error on the creating call
#: may have posted, so the post is looked up before any retry.
POLICY_RULES: tuple[Rule, ...] = (
    Rule("retryable", N_("server error {said} while {what}"), status=SERVER_ERRORS,
         when=_no_error_body, on_create="unknown", name="server error without a body"),
    Rule("retryable", N_("unexpected answer {said} while {what}"), when=_no_error_body,
         on_create="unknown", name="unexpected answer"),
    Rule("retryable", N_("rate limit reached while {what} {said}"),
         N_("it will be retried later"), codes=_codes(_THROTTLED),
         reset=lambda a: regain_access_time(a.headers), name="throttled"),
    Rule("retryable", N_("publishing limit reached while {what} {said}"),
         N_("it will be retried later"), codes=_codes({9}), subcodes=_codes({_QUOTA_SUBCODE}),
         reset=lambda a: regain_access_time(a.headers), name="publishing limit"),
    Rule("rejected", N_("the access token has expired {said}"), _TOKEN_FIX,
         codes=_codes({_TOKEN, 102, 104}), subcodes=_codes({463}), name="token expired"),
    Rule("rejected", N_("the access token is not accepted {said}"), _TOKEN_FIX,
         codes=_codes({_TOKEN, 102, 104}), name="token refused"),
    Rule("rejected", N_("Instagram does not give this post's numbers yet: too few people have "
         "seen it {said}"), N_("they come once more people have seen it; they are asked again at "
         "the next fetch"), codes=_codes({10}), when=_too_few_viewers, name="too few viewers"),
    Rule("rejected", N_("the token may not read the posts' numbers {said}"), N_("give it the "
         "permission {permission} and put the new token in {variable}"),
         codes=_codes({10, *range(200, 300)}), when=_insights_call, name="insights permission"),
    Rule("rejected", N_("the token lacks a permission needed for {what} {said}"),
         N_("grant it to the app and renew {variable}"), codes=_codes({10, *range(200, 300)}),
         name="permission"),
    Rule("rejected", N_("the platform no longer gives a number campaign asked for {said}"),
         N_("update campaign to a release that asks for the current metric names"),
         codes=_codes({100}), when=_metric_refused, name="metric not valid"),
    Rule("rejected", N_("refused as a duplicate of an earlier post {said}"), N_("check the "
         "account; if it is not there, change the story's caption"), codes=_codes({_DUPLICATE}),
         name="duplicate"),
    Rule("rejected", N_("refused as a duplicate of an earlier post {said}"), N_("check the "
         "account; if it is not there, change the story's caption"), codes=_codes(_POLICY_HOLD),
         when=_already_posted, name="duplicate (368)"),
    Rule("rejected", N_("the account is temporarily blocked {said}"), N_("a human must look at "
         "the account's notifications before posting again"), codes=_codes(_POLICY_HOLD),
         name="account blocked"),
    Rule("rejected", N_("the account is temporarily blocked {said}"), N_("a human must look at "
         "the account's notifications before posting again"),
         subcodes=_codes(_IG_POLICY_SUBCODES), name="account blocked (subcode)"),
    Rule("retryable", N_("temporary error while {what} {said}"), when=_transient,
         name="transient"),
    Rule("retryable", N_("temporary error while {what} {said}"), status=SERVER_ERRORS,
         on_create="unknown", name="server error"),
    Rule("rejected", N_("refused while {what} {said}"), N_("check the card and caption against "
         "the platform's limits"), name="refused"),
)


def graph_policy(platform: str) -> ErrorPolicy:
    return ErrorPolicy(platform, POLICY_RULES, quote=_quote)


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
        insights_permission: str = "",
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.session = session
        self.token_variable = token_variable
        self.timeout = timeout
        self.policy = graph_policy(platform)
        self.api = ApiClient(
            platform, self.base_url, session, self.policy, read_graph_error,
            secrets=lambda: (self._token,),
            context={"variable": token_variable, "permission": insights_permission},
            timeout=timeout, failed=_failed,
        )

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
        response = self.api.request(
            method, self.url(path), what=what, story=story, creates=creates, call=path,
            params=params, data=data, files=files,
            headers={"Authorization": f"Bearer {self._token}"},
        )
        return json_object(response)

    def error(self, response: requests.Response, body: Any = None, *, what: str,
              story: str | None, creates: bool) -> PublishError:
        """Classify one failed Graph answer by the policy table (for tests and callers that
        made the request themselves)."""
        answer = read_graph_error(response, "", (self._token,))
        return self.policy.error(answer, what=what, story=story, creates=creates,
                                 context=self.api.context)


def _failed(response: requests.Response) -> bool:
    """Graph fails with 4xx/5xx, and sometimes with 200 and an `error` object."""
    if response.status_code >= 400:
        return True
    try:
        body = response.json()
    except ValueError:
        return True
    return not isinstance(body, dict) or "error" in body


def insight_values(body: Mapping[str, Any]) -> dict[str, object]:
    """`GET /{id}/insights`: each metric's lifetime value by its name (`values[0].value`, or
    `total_value.value`). A metric Graph left out (no data yet) is not in the answer."""
    out: dict[str, object] = {}
    for item in body.get("data") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        values = item.get("values")
        if isinstance(values, list) and values and isinstance(values[-1], dict) \
                and "value" in values[-1]:
            out[item["name"]] = values[-1]["value"]
        elif isinstance(item.get("total_value"), dict) and "value" in item["total_value"]:
            out[item["name"]] = item["total_value"]["value"]
    return out


def count(value: object) -> int | None:
    """A number Graph gave, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def gone_on_read(exc: PublishError) -> bool:
    """Graph said the object does not exist (code 100, subcode 33: "does not exist, cannot be
    loaded due to missing permissions..."): for a read of numbers, the post is taken as gone."""
    cause = api_cause(exc)
    return cause is not None and cause.code == "100" and (
        cause.subcode == "33" or "does not exist" in cause.answer.message.lower())


def too_few_viewers(exc: PublishError) -> bool:
    """Instagram's `(#10) Not enough viewers for the media to show insights`."""
    cause = api_cause(exc)
    return cause is not None and cause.code == "10" and _too_few_viewers(cause.answer)


def token_facts(graph: GraphClient) -> dict[str, Any]:
    """Expiry and permissions of the client's token from `GET /debug_token`
    (platform-apis.md §2.1), as `CredentialReport` fields; never raises for a failed read."""
    try:
        body = graph.call("GET", "debug_token", what=N_("reading the token's expiry and permissions"),
                          params={"input_token": graph._token})
    except PublishError as exc:
        return {"expiry_note": _("could not read the token's expiry and permissions: {error}; "
                                 "check them by hand in Meta's Access Token Debugger").format(
                                     error=exc)}
    data = body.get("data")
    if not isinstance(data, dict):
        return {"expiry_note": _("debug_token gave no data")}
    if data.get("is_valid") is False:
        return {"valid": False, "invalid_reason": _(
            "Meta says {variable} is not valid: make a new token and put it in "
            "{variable}").format(variable=graph.token_variable)}
    raw = data.get("expires_at")
    scopes = data.get("scopes")
    return {
        "expires_at": datetime.fromtimestamp(raw, UTC) if isinstance(raw, int) and raw > 0 else None,
        "expiry_known": True,
        "scopes": tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
    }


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
    "count",
    "gone_on_read",
    "graph_cause",
    "graph_policy",
    "graph_time",
    "insight_values",
    "read_graph_error",
    "regain_access_time",
    "too_few_viewers",
]
