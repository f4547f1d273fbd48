"""Error classification at the publishers' boundary, code by code (platform-apis.md §7).

The contract suite drives the common faults through the sandbox; this covers the
rest of the table with real `requests.Response` objects built here.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from campaign.errors import (
    OutcomeUnknown,
    PostRejected,
    PostRetryable,
    PublishError,
    VersionRefused,
)
from campaign.i18n import _
from campaign.models import PLATFORMS
from campaign.platforms import FacebookSettings, InstagramSettings, XSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.facebook import FacebookPublisher
from campaign.publishers.graph import GraphClient
from campaign.publishers.http import Answer, ErrorPolicy, Rule, api_cause
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.x import XPublisher, original_text, shorten_alt_text
from campaign.sandbox import Fault, Sandbox

CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
TOKEN = "EAAGsecret-page-token-42"


def graph_response(
    status: int, error: dict[str, object] | None, headers: dict[str, str] | None = None
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": error}).encode() if error is not None else b"<html>"
    response.headers.update(headers or {})
    return response


def classify(status: int, error: dict[str, object] | None, *, creates: bool = False,
             headers: dict[str, str] | None = None) -> PublishError:
    client = GraphClient("facebook", "http://127.0.0.1:9", TOKEN, requests.Session(),
                         token_variable="FACEBOOK_PAGE_TOKEN")
    response = graph_response(status, error, headers)
    body = response.json() if error is not None else None
    return client.error(response, body, what="posting", story="s", creates=creates)


@pytest.mark.parametrize(
    ("code", "subcode", "expected"),
    [
        (1, None, PostRetryable), (2, None, PostRetryable), (341, None, PostRetryable),
        (4, None, PostRetryable), (17, None, PostRetryable), (32, None, PostRetryable),
        (613, None, PostRetryable), (80001, None, PostRetryable),
        (9, 2207042, PostRetryable),  # Instagram publishing quota
        (-1, 2207001, PostRetryable), (-2, 2207003, PostRetryable), (-1, 2207032, PostRetryable),
        (9007, 2207027, PostRetryable),  # container not ready yet
        (190, 463, PostRejected), (190, 460, PostRejected), (190, None, PostRejected),
        (10, None, PostRejected), (200, None, PostRejected), (299, None, PostRejected),
        (368, None, PostRejected), (4, 2207051, PostRetryable), (506, None, PostRejected),
        (100, None, PostRejected), (36000, 2207004, PostRejected), (1609005, None, PostRejected),
    ],
)
def test_graph_codes_map_to_our_classes(code: int, subcode: int | None, expected: type) -> None:
    error: dict[str, object] = {"message": "m", "type": "OAuthException", "code": code}
    if subcode:
        error["error_subcode"] = subcode
    assert type(classify(400, error)) is expected


def test_graph_token_errors_name_the_variable_and_expired_says_so() -> None:
    expired = classify(400, {"message": "Session has expired", "code": 190, "error_subcode": 463})
    assert "has expired" in str(expired) and "FACEBOOK_PAGE_TOKEN" in str(expired)


def test_a_token_echoed_by_the_platform_is_not_repeated() -> None:
    error = classify(400, {"message": f"Invalid token {TOKEN}", "code": 190})
    assert TOKEN not in str(error)
    assert "[redacted]" in str(error)


def test_graph_throttling_reads_the_regain_time_from_the_buc_header() -> None:
    usage = {"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    error = classify(400, {"message": "limit", "code": 32},
                     headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
    assert isinstance(error, PostRetryable) and error.reset_at is not None
    assert timedelta(minutes=6) < error.reset_at - datetime.now(UTC) <= timedelta(minutes=7)


def test_graph_5xx_without_a_body() -> None:
    assert isinstance(classify(502, None), PostRetryable)
    # Graph has no idempotency key: a 502 after the photo was sent may have posted it.
    assert isinstance(classify(502, None, creates=True), OutcomeUnknown)
    assert isinstance(classify(404, None, creates=True), OutcomeUnknown)
    assert isinstance(classify(404, None, creates=False), PostRetryable)


@pytest.mark.parametrize("platform", ["x", "facebook", "instagram"])
def test_connection_refused_is_retryable_and_names_the_fix(
    platform: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "X_API_KEY": "k-123456", "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": "t-123456",
        "X_ACCESS_TOKEN_SECRET": "ts-123456", "FACEBOOK_PAGE_TOKEN": "f-123456",
        "INSTAGRAM_TOKEN": "i-123456",
        f"CAMPAIGN_{platform.upper()}_API_URL": "http://127.0.0.1:9",  # nothing listens there
    }
    session = requests.Session()
    card, size = {
        "x": ("card_landscape_1600x900.jpg", (1600, 900)),
        "facebook": ("card_square_1080x1080.jpg", (1080, 1080)),
        "instagram": ("card_portrait_1080x1350.jpg", (1080, 1350)),
    }[platform]
    publisher = {
        "x": lambda: XPublisher(XSettings(), session, env),
        "facebook": lambda: FacebookPublisher(FacebookSettings(page_id="1"), session, env),
        "instagram": lambda: InstagramPublisher(
            InstagramSettings(account_id="1", media_dir="/tmp/unused", media_base_url="https://e.org"),
            session, env),
    }[platform]()
    request = PublishRequest("s", f"s/{platform}", CARDS / card, "tekst", "alt", *size)
    with pytest.raises(PostRetryable) as caught:
        publisher.publish(request)
    assert "could not reach" in str(caught.value)


def test_instagram_refuses_a_card_it_cannot_take_before_any_call() -> None:
    env = {"INSTAGRAM_TOKEN": "i-123456", "CAMPAIGN_INSTAGRAM_API_URL": "http://127.0.0.1:9"}
    publisher = InstagramPublisher(
        InstagramSettings(account_id="1", media_dir="/tmp/unused", media_base_url="https://e.org"),
        requests.Session(), env,
    )
    png = PublishRequest("s", "s/instagram", CARDS / "card_square_1080x1080.png", "t", "a", 1080, 1080)
    with pytest.raises(PostRejected) as caught:
        publisher.publish(png)
    assert "JPEG" in str(caught.value)
    wide = PublishRequest("s", "s/instagram", CARDS / "card_too_wide_2000x800.jpg", "t", "a", 2000, 800)
    with pytest.raises(PostRejected) as caught:
        publisher.publish(wide)
    assert "4:5 to 1.91:1" in str(caught.value)


def test_x_alt_text_is_cut_at_a_word_within_1000_characters() -> None:
    long = "woord " * 300
    short = shorten_alt_text(long)
    assert len(short) <= 1000 and short.endswith("woord…")
    assert shorten_alt_text("kort") == "kort"


def test_x_text_is_restored_from_tco_links_and_escapes() -> None:
    text = "Lees &amp; deel: https://t.co/abcdefghij #Tag"
    entities = {"urls": [{"start": 19, "end": 42, "url": "https://t.co/abcdefghij",
                          "expanded_url": "https://www.example.org/verhalen/marieke"}]}
    assert original_text(text, entities) == (
        "Lees & deel: https://www.example.org/verhalen/marieke #Tag"
    )


# -- every row of every table, against the sandbox ---------------------------------------------
#
# For each row of each platform's ErrorPolicy, an answer that row is meant for (the platform's
# own error body, as recorded or documented), answered by the sandbox to the creating call
# (`answer` fault). The publisher must raise what the row says, with the row's words, post
# nothing, and show no secret.

class _in(str):
    """A reset header that many seconds after the moment the row is sent (not collected)."""

    def __new__(cls, seconds: int) -> _in:
        made = super().__new__(cls, f"in {seconds} s")
        made.seconds = seconds
        return made

    seconds: int


def _sent_now(headers: dict[str, str]) -> dict[str, str]:
    return {key: str(int((datetime.now(UTC) + timedelta(seconds=value.seconds)).timestamp()))
            if isinstance(value, _in) else value for key, value in headers.items()}


def _graph(code: int, message: str, sub: int | None = None, **extra: object) -> dict[str, object]:
    error: dict[str, object] = {"message": message, "type": "OAuthException", "code": code,
                                "fbtrace_id": "AbCdEf123"}
    if sub is not None:
        error["error_subcode"] = sub
    error.update(extra)
    return {"error": error}


_BUC = {"x-business-use-case-usage": json.dumps(
    {"100000000000001": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 5}]})}
GRAPH_ROWS: dict[str, tuple[int, object, dict[str, str]]] = {
    "server error without a body": (502, None, {}),
    "unexpected answer": (404, None, {}),
    "throttled": (400, _graph(32, "Page request limit reached"), _BUC),
    "publishing limit": (400, _graph(9, "Application request limit reached", 2207042), _BUC),
    "token expired": (400, _graph(190, "Error validating access token: Session has expired", 463), {}),
    "token refused": (400, _graph(190, "Invalid OAuth access token - Cannot parse access token"), {}),
    "too few viewers": (400, _graph(10, "(#10) Not enough viewers for the media to show "
                                        "insights"), {}),
    "insights permission": (403, _graph(200, "(#200) Requires extended permission: "
                                             "read_insights"), {}),
    "permission": (403, _graph(200, "(#200) Requires pages_manage_posts permission"), {}),
    "metric not valid": (400, _graph(100, "(#100) The value must be a valid insights metric"),
                         {}),
    "duplicate": (400, _graph(506, "Duplicate status message"), {}),
    "duplicate (368)": (400, _graph(368, "You've already posted this. Please try posting "
                                         "something different."), {}),
    "account blocked": (400, _graph(368, "It looks like you were misusing this feature by going "
                                         "too fast.", 1346003), {}),
    "account blocked (subcode)": (400, _graph(100, "The action is blocked", 2207051), {}),
    "transient": (400, _graph(2, "Service temporarily unavailable", is_transient=True), {}),
    "server error": (500, _graph(100, "An unknown error occurred"), {}),
    "refused": (400, _graph(100, "(#100) Invalid parameter"), {}),
}
ROWS: dict[str, dict[str, tuple[int, object, dict[str, str]]]] = {
    "x": {
        "rate limited": (429, {"title": "Too Many Requests", "detail": "Too Many Requests",
                               "type": "about:blank", "status": 429},
                         {"x-rate-limit-reset": _in(60), "x-rate-limit-remaining": "0"}),
        "credentials refused": (401, {"title": "Unauthorized", "type": "about:blank",
                                      "status": 401, "detail": "Unauthorized"}, {}),
        "duplicate": (403, {"detail": "You are not allowed to create a Tweet with duplicate "
                                      "content.", "type": "about:blank", "title": "Forbidden",
                            "status": 403}, {}),
        "kind of credentials": (403, {"title": "Unsupported Authentication", "detail":
                                      "Authenticating with OAuth 2.0 Application-Only is "
                                      "forbidden for this endpoint.", "status": 403}, {}),
        "forbidden": (403, {"title": "Forbidden", "detail": "You are not permitted to perform "
                                                           "this action.", "status": 403}, {}),
        "server error": (503, {"title": "Service Unavailable", "detail": "Service Unavailable",
                               "status": 503}, {}),
        "refused": (400, {"errors": [{"message": "One or more parameters to your request was "
                                                 "invalid."}], "title": "Invalid Request"}, {}),
        "unexpected": (409, {"title": "Conflict", "detail": "Conflict", "status": 409}, {}),
    },
    "facebook": GRAPH_ROWS,
    "instagram": GRAPH_ROWS,
    "linkedin": {
        "version sunset": (426, {"status": 426, "code": "NONEXISTENT_VERSION",
                                 "message": "Requested version 20240401 is not active"}, {}),
        "daily limit": (429, {"status": 429, "message": "Resource level throttle APPLICATION DAY "
                                                        "limit for calls to this resource is "
                                                        "reached."}, {}),
        "token refused": (401, {"status": 401, "serviceErrorCode": 65601, "code":
                                "REVOKED_ACCESS_TOKEN", "message": "The token used in the "
                                "request has been revoked by the user"}, {}),
        "statistics permission": (403, {"status": 403, "serviceErrorCode": 100, "code":
                                        "ACCESS_DENIED", "message": "Not enough permissions to "
                                        "access: organizationalEntityShareStatistics.GET."
                                        "NO_VERSION"}, {}),
        "permission": (403, {"status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
                             "message": "Not enough permissions to access: "
                                        "partnerApiPostsExternal.CREATE.20260501"}, {}),
        "duplicate": (422, {"status": 422, "message": "Content is a duplicate of "
                            "urn:li:share:7000000000000000001", "errorDetails": {"inputErrors": [
                                {"code": "DUPLICATE_POST", "description": "Duplicate post"}]}}, {}),
        "server error": (500, {"status": 500, "message": "Internal Server Error"}, {}),
        "refused": (400, {"status": 400, "message": "Invalid commentary"}, {}),
    },
    "mastodon": {
        "rate limited": (429, {"error": "Too many requests"},
                         {"X-RateLimit-Reset": (datetime.now(UTC) + timedelta(minutes=5))
                          .strftime("%Y-%m-%dT%H:%M:%S.000Z")}),
        "token refused": (401, {"error": "The access token is invalid"}, {}),
        "scope": (403, {"error": "This action is outside the authorized scopes"}, {}),
        "forbidden": (403, {"error": "This action is not allowed"}, {}),
        "server error": (503, {"error": "Service Unavailable"}, {}),
        "refused": (422, {"error": "Validation failed: Text character limit of 500 exceeded"}, {}),
    },
    "bluesky": {
        "rate limited": (429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                         {"RateLimit-Reset": _in(120)}),
        "rate limit by name": (400, {"error": "RateLimitExceeded", "message": "Too many writes"},
                               {"RateLimit-Reset": _in(120)}),
        "login needs a code": (401, {"error": "AuthFactorTokenRequired", "message": "A sign in "
                                     "code has been sent to your email address"}, {}),
        "account suspended": (401, {"error": "AccountTakedown", "message": "Account has been "
                                                                          "taken down"}, {}),
        "login refused": (401, {"error": "AuthenticationRequired", "message": "Invalid "
                                                                             "identifier or password"}, {}),
        "session refused": (400, {"error": "ExpiredToken", "message": "Token has expired"}, {}),
        "unauthorised": (401, {"error": "Unauthorized", "message": "Bad token scope"}, {}),
        "server error": (500, {"error": "InternalServerError", "message": "Internal Server Error"},
                         {}),
        "no AppView": (400, {"error": "InvalidRequest", "message": "No service configured for "
                                                                  "app.bsky.feed.getPosts"}, {}),
        "refused": (400, {"error": "InvalidRequest", "message": "Record/text must not be longer "
                                                                "than 300 graphemes"}, {}),
    },
}
# Rows that answer another call than the creating one, and how often (a session error is
# met again after the publisher logged in anew).
CALLS = {("bluesky", "login needs a code"): ("session", 1),
         ("bluesky", "account suspended"): ("session", 1),
         ("bluesky", "login refused"): ("session", 1),
         ("bluesky", "session refused"): ("create", 2),
         ("bluesky", "unauthorised"): ("create", 2)}
EXPECTED = {"rejected": PostRejected, "retryable": PostRetryable, "unknown": OutcomeUnknown,
            "version_refused": VersionRefused}


def policy_of(platform: str) -> ErrorPolicy:
    policy: ErrorPolicy = importlib.import_module(f"campaign.publishers.{platform}").POLICY
    return policy


def _rows() -> list[tuple[str, str]]:
    return [(platform, rule.name) for platform in PLATFORMS for rule in policy_of(platform).rules]


def test_every_row_of_every_table_has_an_answer_here() -> None:
    for platform in PLATFORMS:
        names = [rule.name for rule in policy_of(platform).rules]
        assert len(names) == len(set(names)), f"{platform}: rows need names of their own"
        assert set(names) == set(ROWS[platform]), platform


@pytest.mark.parametrize(("platform", "row"), _rows(), ids=[f"{p}: {r}" for p, r in _rows()])
def test_each_row_against_the_sandbox(platform: str, row: str, sandbox: Sandbox,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.publishers.test_contract import CASES, live, make_request

    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    case = next(c for c in CASES if c.platform == platform)
    status, body, headers = ROWS[platform][row]
    call, times = CALLS.get((platform, row), ("create", 1))
    sandbox.add_fault(Fault(platform, call, "answer", times=times, status=status, body=body,
                            headers=_sent_now(headers)))
    rule = next(r for r in policy_of(platform).rules if r.name == row)
    creates = call == "create"
    with requests.Session() as session:
        publisher = case.build(session, 15.0)
        with pytest.raises(PublishError) as raised:
            publisher.publish(make_request(case))
    error = raised.value
    assert type(error) is EXPECTED[rule.verdict_for(creates)], error
    if case.resolves_lost_answer and isinstance(error, OutcomeUnknown):
        # Instagram reads an unknown outcome itself (the container's status) and says so.
        assert "may exist" in str(error)
        assert live(sandbox, platform) == []
        return
    # The row's own words (translated where the error is made: the active language's, English
    # here), and the answer it classified was meant for this row.
    assert _(rule.reason).split("{")[0].strip() in str(error)
    cause = api_cause(error)
    if cause is not None:
        assert policy_of(platform).rule_for(cause.answer) is rule
    if isinstance(error, PostRetryable) and rule.reset is not None and platform != "linkedin":
        assert error.reset_at is not None and error.reset_at > datetime.now(UTC)
    assert live(sandbox, platform) == []
    for secret in case.secrets:
        assert sandbox.env()[secret] not in str(error)


def test_a_server_error_is_unknown_on_the_creating_call_only_without_an_idempotency_key() -> None:
    for platform in PLATFORMS:
        server = policy_of(platform).rule_for(Answer(status=503, message="x"))
        unknown = server.verdict_for(creates=True) == "unknown"
        assert unknown == (platform in {"x", "linkedin", "facebook", "instagram"}), platform
        assert server.verdict_for(creates=False) == "retryable"


def test_the_last_row_of_a_table_must_match_every_answer() -> None:
    with pytest.raises(ValueError, match="last rule"):
        ErrorPolicy("x", (Rule("retryable", "server error", status=(500,)),))
