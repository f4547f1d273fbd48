"""The platforms' official or reference clients post an image with alt text to the sandbox.

Each client is used unchanged, only pointed at the sandbox: tweepy through a transport
adapter on its session (its host is hard-coded), Mastodon.py and the atproto SDK by
their base URL. The post is then read back from the sandbox (`/_sandbox/posts`) to
check that the caption and the alt text arrived.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
import requests

from campaign.publishers.transport import RedirectAdapter
from campaign.sandbox import Sandbox
from campaign.sandbox.bluesky import HANDLE

CARD = Path(__file__).resolve().parent.parent / "fixtures" / "cards" / "card_landscape_1600x900.jpg"
ALT = "Kaart met de tekst: Vraag door. Jij kent je lichaam het best."


def posted(sandbox: Sandbox, platform: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    return [p for p in answer if p["platform"] == platform]


def test_tweepy_uploads_with_media_type_adds_alt_text_and_creates_the_tweet(
    sandbox: Sandbox,
) -> None:
    tweepy = pytest.importorskip("tweepy")
    keys = sandbox.platforms["x"].credentials()
    client = tweepy.Client(
        consumer_key=keys["X_API_KEY"], consumer_secret=keys["X_API_SECRET"],
        access_token=keys["X_ACCESS_TOKEN"], access_token_secret=keys["X_ACCESS_TOKEN_SECRET"],
    )
    api = tweepy.API(tweepy.OAuth1UserHandler(
        keys["X_API_KEY"], keys["X_API_SECRET"], keys["X_ACCESS_TOKEN"],
        keys["X_ACCESS_TOKEN_SECRET"],
    ))
    adapter = RedirectAdapter(sandbox.api_url("x"), (5, 30))
    client.session.mount("https://api.twitter.com", adapter)
    api.session.mount("https://upload.twitter.com", adapter)

    # tweepy.Client has no media method: tweepy-based clients send the v2 one-shot upload
    # through Client.request, with media_type (platform-apis.md §1.4).
    upload = client.request("POST", "/2/media/upload", json={
        "media": base64.b64encode(CARD.read_bytes()).decode("ascii"),
        "media_category": "tweet_image", "media_type": "image/jpeg",
    }, user_auth=True)
    media_id = upload.json()["data"]["id"]
    api.create_media_metadata(media_id, ALT)  # tweepy's alt-text method (v1.1 endpoint)
    tweet = client.create_tweet(text="Vraag door. #ZeldzameKanker", media_ids=[media_id])

    [post] = posted(sandbox, "x")
    assert post["id"] == tweet.data["id"]
    assert post["caption"] == "Vraag door. #ZeldzameKanker"
    assert post["alt_text"] == ALT
    assert (post["image_type"], post["width"], post["height"]) == ("image/jpeg", 1600, 900)


def test_mastodon_py_posts_media_with_its_description_then_the_status(sandbox: Sandbox) -> None:
    mastodon = pytest.importorskip("mastodon")
    client = mastodon.Mastodon(access_token=sandbox.env()["MASTODON_TOKEN"],
                               api_base_url=sandbox.api_url("mastodon"))
    media = client.media_post(str(CARD), mime_type="image/jpeg", description=ALT)
    status = client.status_post("Vraag door. #ZeldzameKanker", media_ids=[media])

    [post] = posted(sandbox, "mastodon")
    assert post["id"] == str(status["id"])
    assert post["caption"] == "Vraag door. #ZeldzameKanker"
    assert post["alt_text"] == ALT
    assert status["media_attachments"][0]["description"] == ALT


def test_atproto_sdk_logs_in_and_sends_an_image_with_alt_text(sandbox: Sandbox) -> None:
    atproto = pytest.importorskip("atproto")
    client = atproto.Client(base_url=f"{sandbox.api_url('bluesky')}/xrpc")
    profile = client.login(HANDLE, sandbox.env()["BLUESKY_APP_PASSWORD"])  # getProfile inside
    assert profile.handle == HANDLE
    sent = client.send_image(text="Vraag door. #ZeldzameKanker", image=CARD.read_bytes(),
                             image_alt=ALT)

    [post] = posted(sandbox, "bluesky")
    assert post["id"] == sent.uri
    assert post["caption"] == "Vraag door. #ZeldzameKanker"
    assert post["alt_text"] == ALT
    assert post["image_type"] == "image/jpeg"


# -- the numbers (issue 18): each client reads the sandbox's metrics answer as our publisher ---


def _publish_and_age(sandbox: Sandbox, platform: str) -> tuple[Any, str]:
    """One post of ours on `platform`, two days old by the sandbox clock."""
    from datetime import timedelta

    from tests.publishers.test_contract import CASES, make_request

    case = next(c for c in CASES if c.platform == platform)
    session = requests.Session()
    publisher = case.build(session, 15.0)
    remote_id = publisher.publish(make_request(case)).remote_id
    sandbox.clock.set(advance=timedelta(days=2))
    return publisher, remote_id


def test_tweepy_get_tweets_reads_the_same_numbers(sandbox: Sandbox,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    tweepy = pytest.importorskip("tweepy")
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    publisher, tweet_id = _publish_and_age(sandbox, "x")
    keys = sandbox.platforms["x"].credentials()
    client = tweepy.Client(
        consumer_key=keys["X_API_KEY"], consumer_secret=keys["X_API_SECRET"],
        access_token=keys["X_ACCESS_TOKEN"], access_token_secret=keys["X_ACCESS_TOKEN_SECRET"],
    )
    client.session.mount("https://api.twitter.com", RedirectAdapter(sandbox.api_url("x"), (5, 30)))
    answer = client.get_tweets([tweet_id, "1"], user_auth=True, tweet_fields=[
        "public_metrics", "non_public_metrics", "organic_metrics"])
    [tweet] = answer.data
    ours = publisher.fetch_metrics([tweet_id])[tweet_id].values
    assert tweet.public_metrics["like_count"] == ours["likes"] > 0
    assert tweet.public_metrics["impression_count"] == ours["views"]
    assert tweet.non_public_metrics["url_link_clicks"] == ours["clicks"]
    assert [e["type"] for e in answer.errors] == [
        "https://api.twitter.com/2/problems/resource-not-found"]


def test_mastodon_py_reads_the_same_counts(sandbox: Sandbox,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    mastodon = pytest.importorskip("mastodon")
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    publisher, status_id = _publish_and_age(sandbox, "mastodon")
    client = mastodon.Mastodon(access_token=sandbox.env()["MASTODON_TOKEN"],
                               api_base_url=sandbox.api_url("mastodon"))
    status = client.status(status_id)
    ours = publisher.fetch_metrics([status_id])[status_id].values
    assert (status["favourites_count"], status["reblogs_count"], status["replies_count"],
            status["quotes_count"]) == (ours["likes"], ours["reposts"], ours["replies"],
                                        ours["quotes"])


def test_atproto_sdk_get_posts_reads_the_same_counts(sandbox: Sandbox,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    atproto = pytest.importorskip("atproto")
    for key, value in sandbox.env().items():
        monkeypatch.setenv(key, value)
    publisher, uri = _publish_and_age(sandbox, "bluesky")
    client = atproto.Client(base_url=f"{sandbox.api_url('bluesky')}/xrpc")
    client.login(HANDLE, sandbox.env()["BLUESKY_APP_PASSWORD"])
    [view] = client.get_posts([uri]).posts  # the SDK's models validate the postView
    ours = publisher.fetch_metrics([uri])[uri].values
    assert (view.like_count, view.repost_count, view.reply_count, view.quote_count) == (
        ours["likes"], ours["reposts"], ours["replies"], ours["quotes"])
