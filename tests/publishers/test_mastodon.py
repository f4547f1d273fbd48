"""Mastodon: waits for media still processing, reads its limits from the instance, and
reuses its Idempotency-Key so that a lost answer makes one status."""

from __future__ import annotations

import pytest
import requests

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable
from campaign.publishers.mastodon import reset_time, status_text
from campaign.sandbox import Fault, Sandbox
from campaign.sandbox.mastodon import to_html
from tests.publishers.helpers import (
    calls,
    mastodon,
    request_for,
)

# -- Mastodon ----------------------------------------------------------------------------------


def test_mastodon_waits_for_media_still_processing(sandbox: Sandbox, http: requests.Session) -> None:
    sandbox.add_fault(Fault(platform="mastodon", call="upload", kind="media_processing"))
    published = mastodon(sandbox, http).publish(request_for("mastodon"))
    paths = calls(sandbox, "mastodon")
    media_reads = [p for p in paths if p.startswith("/api/v1/media/")]
    assert len(media_reads) == 2  # 206, then 200
    assert paths.index(media_reads[-1]) < paths.index("/api/v1/statuses")
    assert [p["id"] for p in sandbox.posts()] == [published.remote_id]


def test_mastodon_media_that_never_finishes_is_retryable(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = mastodon(sandbox, http)
    publisher.poll_timeout = 0.0
    sandbox.add_fault(Fault(platform="mastodon", call="upload", kind="media_processing"))
    with pytest.raises(PostRetryable, match="still being processed"):
        publisher.publish(request_for("mastodon"))
    assert sandbox.posts() == []


def test_mastodon_reads_its_limits_from_the_instance(sandbox: Sandbox, http: requests.Session) -> None:
    publisher = mastodon(sandbox, http)
    assert publisher.limits() == {"max_characters": 500, "image_size_limit": 16 * 1024 * 1024,
                                  "description_limit": 1500}
    with pytest.raises(PostRejected, match="500 characters"):
        publisher.publish(request_for("mastodon", caption="woord " * 100))
    assert not any(p == "/api/v2/media" for p in calls(sandbox, "mastodon"))


def test_mastodon_a_lost_answer_then_a_retry_makes_one_status(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = mastodon(sandbox, http)
    sandbox.add_fault(Fault(platform="mastodon", call="statuses", kind="drop_response"))
    with pytest.raises(OutcomeUnknown):
        publisher.publish(request_for("mastodon"))
    again = publisher.publish(request_for("mastodon"))
    assert [p["id"] for p in sandbox.posts()] == [again.remote_id]


def test_mastodon_delete_removes_the_media_too(sandbox: Sandbox, http: requests.Session) -> None:
    publisher = mastodon(sandbox, http)
    published = publisher.publish(request_for("mastodon"))
    media_id = published.extra["media_id"]
    publisher.delete(published.remote_id)
    [entry] = [r for r in sandbox.requests if r["method"] == "DELETE"]
    assert entry["query"] == {"delete_media": ["true"]}
    token = sandbox.env()["MASTODON_TOKEN"]
    gone = requests.get(f"{sandbox.api_url('mastodon')}/api/v1/media/{media_id}", timeout=5,
                        headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404


def test_mastodon_html_back_to_the_text_that_was_sent() -> None:
    text = "Eerste alinea met <tekens> & een link https://www.example.org/verhalen/marieke-de-lange\n" \
           "tweede regel #ZeldzameKanker\n\nTweede alinea."
    assert status_text(to_html(text)) == text


def test_mastodon_rate_limit_reset_in_either_form() -> None:
    assert reset_time("2026-11-22T10:05:00.000000Z") is not None
    iso, unix = reset_time("2026-11-22T10:05:00.000Z"), reset_time("1795341900")
    assert iso is not None and unix is not None and iso.tzinfo is not None
    assert reset_time("") is None
