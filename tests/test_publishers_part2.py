"""LinkedIn, Mastodon and Bluesky: what the shared contract does not cover.

Bluesky renews an expired session without a new login and cannot post twice; Mastodon
waits for media still processing and reuses its Idempotency-Key; LinkedIn escapes its
little text and warns before its pinned version's sunset. The sandbox answers each with
the platform's own error bodies, and shows the posts on its feed pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from campaign.captions import rich_text_facets
from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable
from campaign.platforms import BlueskySettings, LinkedInSettings, MastodonSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.bluesky import BlueskyPublisher, encode_tid, post_tid
from campaign.publishers.linkedin import (
    LinkedInPublisher,
    little_text,
    plain_text,
)
from campaign.publishers.mastodon import MastodonPublisher, reset_time, status_text
from campaign.sandbox import Fault, Sandbox
from campaign.sandbox.linkedin import readable, unescaped_reserved
from campaign.sandbox.mastodon import to_html

CARDS = Path(__file__).resolve().parent / "fixtures" / "cards"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running: Sandbox) -> Sandbox:
    running.reset()
    return running


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def calls(sandbox: Sandbox, platform: str) -> list[str]:
    return [r["path"] for r in sandbox.requests if r["platform"] == platform]


def request_for(platform: str, story: str = "marieke", caption: str | None = None,
                card: str = "card_landscape_1600x900.jpg", size: tuple[int, int] = (1600, 900)
                ) -> PublishRequest:
    text = caption or "Vraag door (marieke). #ZeldzameKanker https://example.org/verhalen/marieke"
    return PublishRequest(
        story_id=story, post_key=f"{story}/{platform}", card_path=CARDS / card, caption=text,
        alt_text="Kaart met de tekst: Vraag door.", card_width=size[0], card_height=size[1],
        facets=rich_text_facets(text) if platform == "bluesky" else (),
    )


def bluesky(sandbox: Sandbox, http: requests.Session) -> BlueskyPublisher:
    return BlueskyPublisher(BlueskySettings(handle="kankercentrum.example.org"), http,
                            sandbox.env(), timeout=(2.0, 1.0))


def mastodon(sandbox: Sandbox, http: requests.Session) -> MastodonPublisher:
    return MastodonPublisher(MastodonSettings(instance_url="https://mastodon.example"), http,
                             sandbox.env(), timeout=(2.0, 1.0), poll_interval=0.01)


def linkedin(sandbox: Sandbox, http: requests.Session) -> LinkedInPublisher:
    return LinkedInPublisher(LinkedInSettings(organization_id="1000001"), http, sandbox.env())


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


# -- LinkedIn ----------------------------------------------------------------------------------


def test_little_text_escapes_and_turns_hashtags_into_templates() -> None:
    caption = "Vraag (echt) door: a_b *c* ~d~ <e> [f] {g} @h | \\ #ZeldzameKanker"
    escaped = little_text(caption)
    assert "{hashtag|\\#|ZeldzameKanker}" in escaped
    assert unescaped_reserved(escaped) is None
    assert plain_text(escaped) == readable(escaped) == caption


@given(st.text(alphabet=st.sampled_from(list("ab #_()[]{}<>@|\\*~é\n")), max_size=40))
def test_little_text_round_trips_any_text(text: str) -> None:
    escaped = little_text(text)
    assert unescaped_reserved(escaped) is None
    assert readable(escaped) == text


def test_linkedin_sends_version_protocol_and_escaped_commentary(
    sandbox: Sandbox, http: requests.Session
) -> None:
    captured: list[requests.PreparedRequest] = []
    http.hooks["response"].append(lambda r, *a, **k: captured.append(r.request))
    caption = "Vraag door (echt)! #ZeldzameKanker https://example.org/m"
    published = linkedin(sandbox, http).publish(
        request_for("linkedin", caption=caption, card="card_square_1080x1080.jpg",
                    size=(1080, 1080)))
    assert published.remote_id.startswith("urn:li:share:")
    assert published.url == f"https://www.linkedin.com/feed/update/{published.remote_id}/"
    rest = [p for p in captured if "/rest/" in (p.url or "")]
    assert {p.headers["X-Restli-Protocol-Version"] for p in rest} == {"2.0.0"}
    assert len({p.headers["LinkedIn-Version"] for p in rest}) == 1
    [create] = [r for r in sandbox.requests if r["path"] == "/rest/posts" and r["method"] == "POST"]
    assert create["json"]["commentary"] == (
        "Vraag door \\(echt\\)! {hashtag|\\#|ZeldzameKanker} https://example.org/m")
    [post] = sandbox.posts()
    assert post["caption"] == caption


def test_linkedin_sandbox_refuses_unescaped_text_an_old_version_and_a_wrong_token(
    sandbox: Sandbox,
) -> None:
    base = sandbox.api_url("linkedin") + "/rest/posts"
    headers = {"Authorization": f"Bearer {sandbox.env()['LINKEDIN_TOKEN']}",
               "LinkedIn-Version": "202605", "X-Restli-Protocol-Version": "2.0.0"}
    body = {"author": "urn:li:organization:1000001", "commentary": "Haakjes (niet escaped)",
            "visibility": "PUBLIC", "distribution": {"feedDistribution": "MAIN_FEED"},
            "lifecycleState": "PUBLISHED"}
    assert requests.post(base, json=body, headers=headers, timeout=5).status_code == 422
    old = requests.post(base, json=body, headers={**headers, "LinkedIn-Version": "202301"},
                        timeout=5)
    assert (old.status_code, old.json()["code"]) == (426, "NONEXISTENT_VERSION")
    wrong = requests.post(base, json=body, headers={**headers, "Authorization": "Bearer x"},
                          timeout=5)
    assert (wrong.status_code, wrong.json()["serviceErrorCode"]) == (401, 65600)
    assert sandbox.posts() == []


def test_linkedin_second_identical_post_is_a_duplicate(sandbox: Sandbox, http: requests.Session
                                                       ) -> None:
    publisher = linkedin(sandbox, http)
    publisher.publish(request_for("linkedin", card="card_square_1080x1080.jpg", size=(1080, 1080)))
    with pytest.raises(PostRejected, match="duplicate"):
        publisher.publish(request_for("linkedin", card="card_square_1080x1080.jpg",
                                      size=(1080, 1080)))
    assert len(sandbox.posts()) == 1


# -- the sandbox's pages and fault names -------------------------------------------------------


def test_feed_pages_show_the_three_platforms_posts_with_their_images(
    sandbox: Sandbox, http: requests.Session
) -> None:
    published = {
        "linkedin": linkedin(sandbox, http).publish(request_for(
            "linkedin", card="card_square_1080x1080.jpg", size=(1080, 1080))),
        "mastodon": mastodon(sandbox, http).publish(request_for("mastodon")),
        "bluesky": bluesky(sandbox, http).publish(request_for("bluesky")),
    }
    for platform in published:
        page = requests.get(f"{sandbox.url}/_sandbox/feed/{platform}", timeout=5).text
        src = re.search(r'<img src="([^"]+)"', page)
        assert src is not None, platform
        image = requests.get(sandbox.url + src.group(1), timeout=5)
        assert image.status_code == 200 and image.headers["Content-Type"] == "image/jpeg"
        assert "Kaart met de tekst" in page


@pytest.mark.parametrize(("platform", "alias"), [("mastodon", "statuses"), ("linkedin", "posts"),
                                                 ("bluesky", "putRecord")])
def test_rehearsal_fault_names_are_aliases_of_create(sandbox: Sandbox, platform: str,
                                                     alias: str) -> None:
    answer = requests.post(f"{sandbox.url}/_sandbox/faults", timeout=5, json={
        "platform": platform, "call": alias, "kind": "server_error"})
    assert answer.status_code == 201
    assert answer.json()["fault"]["call"] == "create"
