"""Bluesky: renews an expired session without a new login, cannot post twice (its record
keys are the posts' own), and sends langs, facets, alt text and aspect ratio."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from campaign.errors import PostRejected
from campaign.publishers.base import PublishRequest
from campaign.publishers.bluesky import encode_tid, post_tid
from campaign.sandbox import Fault, Sandbox
from tests.publishers.helpers import (
    CARDS,
    TID,
    bluesky,
    calls,
    request_for,
)

# -- Bluesky ---------------------------------------------------------------------------------


def test_bluesky_record_keys_are_deterministic_tids() -> None:
    assert post_tid("01-marieke/bluesky") == post_tid("01-marieke/bluesky")
    assert post_tid("01-marieke/bluesky") != post_tid("02-joost/bluesky")
    assert all(TID.match(post_tid(f"story-{n}/bluesky")) for n in range(200))
    # The encoding is atproto's: 53 bits of microseconds, 10 of clock id, base32-sortable.
    assert encode_tid(0, 0) == "2222222222222"
    assert encode_tid(1, 0) < encode_tid(2, 0) < encode_tid(2, 1)


def test_bluesky_expired_session_is_refreshed_and_the_call_sent_once_more(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = bluesky(sandbox, http)
    publisher.check_credentials()
    sandbox.add_fault(Fault(platform="bluesky", call="create", kind="expired_token"))

    published = publisher.publish(request_for("bluesky"))

    paths = calls(sandbox, "bluesky")
    assert paths.count("/xrpc/com.atproto.server.createSession") == 1
    assert paths.count("/xrpc/com.atproto.server.refreshSession") == 1
    assert paths.count("/xrpc/com.atproto.repo.putRecord") == 2
    assert [p["id"] for p in sandbox.posts()] == [published.remote_id]


def test_bluesky_spent_refresh_token_falls_back_to_one_login(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = bluesky(sandbox, http)
    publisher.check_credentials()
    sandbox.add_fault(Fault(platform="bluesky", call="upload", kind="expired_token"))
    sandbox.add_fault(Fault(platform="bluesky", call="refresh", kind="expired_token"))

    publisher.publish(request_for("bluesky"))

    paths = calls(sandbox, "bluesky")
    assert paths.count("/xrpc/com.atproto.server.createSession") == 2
    assert len(sandbox.posts()) == 1


def test_bluesky_expired_twice_in_a_row_is_rejected_not_looped(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = bluesky(sandbox, http)
    publisher.check_credentials()
    sandbox.add_fault(Fault(platform="bluesky", call="create", kind="expired_token", times=2))
    with pytest.raises(PostRejected) as caught:
        publisher.publish(request_for("bluesky"))
    assert "BLUESKY_APP_PASSWORD" in str(caught.value)
    assert calls(sandbox, "bluesky").count("/xrpc/com.atproto.repo.putRecord") == 2


def test_bluesky_retry_of_a_post_that_exists_does_not_write_again(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = bluesky(sandbox, http)
    sandbox.add_fault(Fault(platform="bluesky", call="create", kind="slow_response", delay=2))
    # The client gives up after 1 s while the written post's answer is held: the record
    # key is the post's own, so getRecord finds it instead of leaving the outcome unknown.
    first = publisher.publish(request_for("bluesky"))
    again = publisher.publish(request_for("bluesky"))  # a later retry: found, not written
    assert first.remote_id == again.remote_id
    assert [p["id"] for p in sandbox.posts()] == [again.remote_id]
    assert calls(sandbox, "bluesky").count("/xrpc/com.atproto.repo.putRecord") == 1


def test_bluesky_record_has_langs_facets_alt_and_aspect_ratio(
    sandbox: Sandbox, http: requests.Session
) -> None:
    publisher = bluesky(sandbox, http)
    request = request_for("bluesky", caption="Één “verhaal” 💙 https://example.org/a #Zorg")
    published = publisher.publish(request)
    [write] = [r for r in sandbox.requests if r["path"].endswith("putRecord")]
    record = write["json"]["record"]
    assert record["langs"] == ["nl"]
    assert record["facets"] == [dict(f) for f in request.facets]
    [image] = record["embed"]["images"]
    assert image["alt"] == request.alt_text
    assert image["aspectRatio"] == {"width": 1600, "height": 900}
    assert published.remote_id.endswith("/" + post_tid(request.post_key))


def test_bluesky_card_over_two_million_bytes_is_refused_before_upload(
    sandbox: Sandbox, http: requests.Session, tmp_path: Path
) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes((CARDS / "card_landscape_1600x900.jpg").read_bytes() + b"\0" * 2_000_001)
    request = request_for("bluesky")
    request = PublishRequest(**{**request.__dict__, "card_path": big})
    with pytest.raises(PostRejected, match="2,000,000"):
        bluesky(sandbox, http).publish(request)
    assert not any(p.endswith("uploadBlob") for p in calls(sandbox, "bluesky"))


def test_bluesky_card_with_metadata_is_refused_before_upload(
    sandbox: Sandbox, http: requests.Session, tmp_path: Path
) -> None:
    from PIL import Image

    tagged = tmp_path / "tagged.jpg"
    with Image.open(CARDS / "card_landscape_1600x900.jpg") as image:
        exif = Image.Exif()
        exif[0x010F] = "CameraMaker"  # Make
        image.save(tagged, "JPEG", exif=exif.tobytes())
    request = PublishRequest(**{**request_for("bluesky").__dict__, "card_path": tagged})
    with pytest.raises(PostRejected, match="metadata"):
        bluesky(sandbox, http).publish(request)
    assert not any(p.endswith("uploadBlob") for p in calls(sandbox, "bluesky"))


def test_the_bluesky_sandbox_checks_facet_offsets_the_pds_does_not(sandbox: Sandbox) -> None:
    base = sandbox.api_url("bluesky") + "/xrpc/"
    session = requests.post(base + "com.atproto.server.createSession", timeout=5, json={
        "identifier": "kankercentrum.example.org",
        "password": sandbox.env()["BLUESKY_APP_PASSWORD"]}).json()
    text = "Één link: https://example.org"
    wrong = text.index("https")  # a str index, not a UTF-8 byte offset
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-11-22T10:00:00Z",
              "facets": [{"index": {"byteStart": wrong, "byteEnd": wrong + 19}, "features": [
                  {"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org"}]}]}
    answer = requests.post(base + "com.atproto.repo.createRecord", timeout=5,
                           headers={"Authorization": f"Bearer {session['accessJwt']}"},
                           json={"repo": session["did"], "collection": "app.bsky.feed.post",
                                 "record": record})
    assert answer.status_code == 400
    assert "UTF-8 bytes" in answer.json()["message"]
