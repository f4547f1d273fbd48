"""Error classification at the publishers' boundary, code by code (platform-apis.md §7).

The contract suite drives the common faults through the sandbox; this covers the
rest of the table with real `requests.Response` objects built here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.platforms import FacebookSettings, InstagramSettings, XSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.facebook import FacebookPublisher
from campaign.publishers.graph import GraphClient
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.x import XPublisher, original_text, shorten_alt_text

CARDS = Path(__file__).resolve().parent / "fixtures" / "cards"
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
    assert isinstance(classify(502, None, creates=True), PostRetryable)
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
