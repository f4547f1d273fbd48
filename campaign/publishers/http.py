"""One HTTP client for the publishers, and per platform the error policy table.

The question that decides exactly-once is asked here, once, for every platform:
*could this failed answer to the creating call have posted?* Each platform's
`ErrorPolicy` is a table of `Rule`s, first match wins, the last matches every
answer. A rule says what the answer means:

    rejected         the same request will be refused again: a human must act (fix)
    retryable        nothing was posted; try later (at `reset` when the platform said)
    unknown          the post may exist: look it up on the platform before any retry
    version_refused  the platform no longer serves the API version we pin

and `on_create` says what it means when the call creates the post instead. A
server error (5xx) after the request was sent is *unknown* on a creating call,
unless the platform makes a repeat harmless: Mastodon's Idempotency-Key, Bluesky's
record key (the post's own, read back before every write). Every row of every
table is run against the sandbox by `tests/publishers/test_error_policy.py`.

`ApiClient` makes the call: our session and timeout, network errors translated
(`transport.network_error`), the failed answer read the platform's way into an
`Answer` (its words cut short and every secret redacted), classified by the
table, and raised with an `ApiError` (the answer as it came) as its cause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import requests

from campaign.errors import (
    OutcomeUnknown,
    PostRejected,
    PostRetryable,
    PublishError,
    VersionRefused,
)
from campaign.i18n import _
from campaign.publishers.transport import DEFAULT_TIMEOUT, network_error
from campaign.secrets import redact

Verdict = Literal["rejected", "retryable", "unknown", "version_refused"]
SERVER_ERRORS = range(500, 600)


@dataclass(frozen=True)
class Answer:
    """A failed answer, read the platform's way."""

    status: int
    code: str | None = None  # the platform's error code or name (Graph's 190, XRPC's "ExpiredToken")
    subcode: str | None = None  # Graph's error_subcode
    message: str = ""  # the platform's words, cut short, secrets redacted
    headers: Mapping[str, str] = field(default_factory=dict)
    call: str = ""  # which call answered (an XRPC method, a path)
    transient: bool = False  # the platform marked it transient (Graph's is_transient)
    body_error: bool = True  # False: the answer carried no error of the platform's shape

    def said(self) -> str:
        """The answer as quoted in a message: `(403 DuplicateContent: ...)`."""
        code = self.code or ""
        if self.subcode:
            code += f"/{self.subcode}"
        words = self.message or _("no detail")
        return f"({self.status}{' ' + code if code else ''}: {words})"


@dataclass(frozen=True)
class Rule:
    """One row of a platform's error policy: which answers it matches, and what they mean.

    `status`, `codes`, `subcodes`, `calls` narrow the match (None: any); `when` is any
    other condition. `reason` and `fix` are plain words, marked with `N_()` and translated
    when the error is made; `{what}` (what was being done),
    `{said}` (the answer quoted), `{at}` (when to try again: "at 2027-03-08 10:15 UTC",
    or "later") and the client's `context` (e.g. `{variable}`, the token's environment
    variable) are filled in.
    """

    verdict: Verdict
    reason: str
    fix: str = ""
    status: Sequence[int] | None = None
    codes: frozenset[str] | None = None
    subcodes: frozenset[str] | None = None
    calls: frozenset[str] | None = None
    when: Callable[[Answer], bool] | None = None
    on_create: Verdict | None = None
    fix_on_create: str = ""  # the fix when `on_create` applies (else `fix`)
    reset: Callable[[Answer], datetime | None] | None = None
    name: str = ""  # for tests and logs: which row this is

    def matches(self, answer: Answer) -> bool:
        return (
            (self.status is None or answer.status in self.status)
            and (self.codes is None or answer.code in self.codes)
            and (self.subcodes is None or answer.subcode in self.subcodes)
            and (self.calls is None or answer.call in self.calls)
            and (self.when is None or self.when(answer))
        )

    def verdict_for(self, creates: bool) -> Verdict:
        return self.on_create if creates and self.on_create is not None else self.verdict


@dataclass(frozen=True)
class ErrorPolicy:
    """A platform's error policy: its rules in order; the last one matches every answer."""

    platform: str
    rules: tuple[Rule, ...]
    quote: Callable[[Answer], str] = Answer.said  # how `{said}` quotes the answer

    def __post_init__(self) -> None:
        last = self.rules[-1]
        if not (last.status is None and last.codes is None and last.subcodes is None
                and last.calls is None and last.when is None):
            raise ValueError(f"{self.platform}: the last rule must match every answer")

    def rule_for(self, answer: Answer) -> Rule:
        return next(rule for rule in self.rules if rule.matches(answer))

    def error(self, answer: Answer, *, what: str, story: str | None, creates: bool,
              context: Mapping[str, str] | None = None) -> PublishError:
        """Our error for one failed answer, with the reason and the fix in plain words."""
        rule = self.rule_for(answer)
        verdict = rule.verdict_for(creates)
        reset = rule.reset(answer) if rule.reset is not None and verdict == "retryable" else None
        # The table's words are marked with N_() and translated here, where they are shown;
        # `what` is marked where the call is made ("uploading the card").
        at = (_("at {moment} UTC").format(moment=f"{reset:%Y-%m-%d %H:%M}")
              if reset is not None else _("later"))
        values = {"what": _(what), "said": self.quote(answer), "at": at, **(context or {})}
        message = _(rule.reason).format(**values)
        fix = rule.fix_on_create if creates and rule.on_create and rule.fix_on_create else rule.fix
        if fix:
            message = _("{reason}: {fix}").format(reason=message, fix=_(fix).format(**values))
        p = self.platform
        if verdict == "retryable":
            return PostRetryable(p, message, story=story, reset_at=reset)
        if verdict == "unknown":
            return OutcomeUnknown(p, message, story=story)
        if verdict == "version_refused":
            return VersionRefused(p, message, version=values.get("version", ""))
        return PostRejected(p, message, story=story)


class ApiError(Exception):
    """The platform's answer as it came, kept as the cause of our error."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.status = answer.status
        self.code = answer.code
        self.subcode = answer.subcode
        super().__init__(f"HTTP {answer.status}, code {answer.code}, subcode {answer.subcode}")


def api_cause(exc: BaseException) -> ApiError | None:
    """The platform's answer behind one of our errors, if it came from one."""
    cause = exc.__cause__
    return cause if isinstance(cause, ApiError) else None


def json_object(response: requests.Response) -> dict[str, Any]:
    """The answer's JSON object, or {} when it has none."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


#: Reads a failed answer the platform's way: (response, call, secrets to redact) -> Answer.
Reader = Callable[[requests.Response, str, Sequence[str]], Answer]


def plain_reader(message_keys: Sequence[str] = ("message", "error")) -> Reader:
    """A reader for platforms whose error body is `{"message": ...}` or `{"error": ...}`."""

    def read(response: requests.Response, call: str, secrets: Sequence[str]) -> Answer:
        body = json_object(response)
        words = next((str(body[k]) for k in message_keys if body.get(k)), "")
        return Answer(
            status=response.status_code,
            message=redact((words or response.reason or _("no detail"))[:300], extra=secrets),
            headers=response.headers, call=call, body_error=bool(body),
        )

    return read


class ApiClient:
    """Calls one platform's HTTP API and turns every failure into one of our errors."""

    def __init__(
        self,
        platform: str,
        base_url: str,
        session: requests.Session,
        policy: ErrorPolicy,
        read: Reader,
        *,
        secrets: Callable[[], Sequence[str]] = tuple,
        context: Mapping[str, str] | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        failed: Callable[[requests.Response], bool] = lambda r: r.status_code >= 400,
    ) -> None:
        self.platform = platform
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.policy = policy
        self.read = read
        self.secrets = secrets
        self.context = dict(context or {})
        self.timeout = timeout
        self.failed = failed

    def request(self, method: str, url: str, *, what: str, story: str | None = None,
                creates: bool = False, call: str = "", **kwargs: Any) -> requests.Response:
        """One call to `url` (absolute, or a path under the base URL); the answer, if it
        did not fail, else our error (rejected, retryable, unknown) with the answer as cause."""
        if not url.startswith(("http://", "https://")):
            url = self.base_url + url
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise network_error(self.platform, exc, what=what, creates=creates,
                                story=story) from exc
        if not self.failed(response):
            return response
        answer = self.read(response, call, tuple(s for s in self.secrets() if s))
        raise self.policy.error(answer, what=what, story=story, creates=creates,
                                context=self.context) from ApiError(answer)


__all__ = [
    "SERVER_ERRORS",
    "Answer",
    "ApiClient",
    "ApiError",
    "ErrorPolicy",
    "Reader",
    "Rule",
    "Verdict",
    "api_cause",
    "json_object",
    "plain_reader",
]
