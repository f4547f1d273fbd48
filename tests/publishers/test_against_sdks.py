"""Checks that do not rest on our own reading of the platforms' docs.

The sandbox and the publishers were written from the same notes, so they could
share a misunderstanding. Here the platforms' own SDKs judge: X's generated
`xdk` schemas validate every body the X publisher sends (no field they do not
know), Meta's `facebook-business` SDK lists every parameter name our Graph
publishers may send, and Meta's SDK itself posts through the sandbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from facebook_business.adobjects.contentpublishinglimitresponse import (
    ContentPublishingLimitResponse,
)
from facebook_business.adobjects.igmedia import IGMedia
from facebook_business.adobjects.iguser import IGUser
from facebook_business.adobjects.page import Page
from facebook_business.adobjects.pagepost import PagePost
from facebook_business.adobjects.shadowigmediabuilder import ShadowIGMediaBuilder
from facebook_business.api import FacebookAdsApi
from pydantic import BaseModel
from xdk.schemas import CreateMediaMetadataRequest, CreatePostsRequest, MediaUploadRequest

from campaign.platforms import FacebookSettings, InstagramSettings, XSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.facebook import FacebookPublisher
from campaign.publishers.graph import GRAPH_VERSION
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.x import XPublisher
from campaign.sandbox import Sandbox

CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
PAGE_ID = "100000000000001"
IG_ID = "17841400000000001"


@pytest.fixture(scope="module")
def running() -> Iterator[Sandbox]:
    with Sandbox(port=0) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox(running: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    running.reset()
    for key, value in running.env().items():
        monkeypatch.setenv(key, value)
    return running


def request_for(card: str, size: tuple[int, int], platform: str) -> PublishRequest:
    return PublishRequest(
        story_id="marieke",
        post_key=f"marieke/{platform}",
        card_path=CARDS / card,
        caption="Vraag door. Jij kent je lichaam het best. #ZeldzameKanker https://example.org/m",
        alt_text="Kaart met de tekst: Vraag door. Jij kent je lichaam het best.",
        card_width=size[0],
        card_height=size[1],
    )


def sent(sandbox: Sandbox, platform: str) -> list[dict[str, Any]]:
    return [r for r in sandbox.requests if r["platform"] == platform]


def unknown_fields(model: BaseModel, where: str = "$") -> list[str]:
    """Every field (at any depth) that the schema does not declare."""
    found = [f"{where}.{key}" for key in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, BaseModel):
                found += unknown_fields(item, f"{where}.{name}")
    return found


# -- X against xdk ---------------------------------------------------------------------


def test_every_x_body_validates_against_xs_own_sdk_schemas(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        publisher = XPublisher(XSettings(username="campaign_sandbox"), session)
        publisher.publish(request_for("card_landscape_1600x900.jpg", (1600, 900), "x"))

    bodies = {r["path"]: r["json"] for r in sent(sandbox, "x") if r["method"] == "POST"}
    assert set(bodies) == {"/2/media/upload", "/2/media/metadata", "/2/tweets"}
    schemas: dict[str, type[BaseModel]] = {
        "/2/media/upload": MediaUploadRequest,
        "/2/media/metadata": CreateMediaMetadataRequest,
        "/2/tweets": CreatePostsRequest,
    }
    for path, schema in schemas.items():
        model = schema.model_validate(bodies[path])  # raises on a missing or mistyped field
        assert unknown_fields(model) == [], path
    assert bodies["/2/media/upload"]["media_category"] == "tweet_image"
    assert bodies["/2/tweets"]["media"]["media_ids"] == [bodies["/2/media/metadata"]["id"]]
    assert set(r["content_type"] for r in sent(sandbox, "x") if r["method"] == "POST") == {
        "application/json"
    }


def test_the_schema_check_would_catch_an_unknown_field() -> None:
    model = MediaUploadRequest.model_validate(
        {"media": "AAAA", "media_category": "tweet_image", "media_type": "image/jpeg"}
    )
    assert unknown_fields(model) == ["$.media_type"]


# -- Facebook and Instagram against facebook-business ------------------------------------


def sdk_params(pending_request: Any) -> set[str]:
    """The parameter names Meta's SDK declares for one call."""
    return set(pending_request._param_checker._type_check_info)


def sdk_fields(field_class: type) -> set[str]:
    return {v for k, v in vars(field_class).items() if not k.startswith("_") and isinstance(v, str)}


def form_names(entry: dict[str, Any]) -> set[str]:
    return set(entry["form"]) | set(entry["query"])


def test_facebook_sends_only_names_metas_sdk_lists(sandbox: Sandbox) -> None:
    with requests.Session() as session:
        publisher = FacebookPublisher(FacebookSettings(page_id=PAGE_ID), session)
        published = publisher.publish(
            request_for("card_square_1080x1080.jpg", (1080, 1080), "facebook")
        )
        publisher.recent_posts(limit=5)

    [create] = [r for r in sent(sandbox, "facebook") if r["method"] == "POST"]
    assert create["path"] == f"/{GRAPH_VERSION}/{PAGE_ID}/photos"
    assert form_names(create) <= sdk_params(Page(PAGE_ID).create_photo(pending=True))
    assert {"caption", "alt_text_custom"} <= form_names(create)
    # The bytes go as a file part, which the SDK's parameter list does not name.
    assert list(create["files"]) == ["source"]
    post_fields = sdk_fields(PagePost.Field)
    for read in (r for r in sent(sandbox, "facebook") if r["method"] == "GET"):
        assert set(read["query"]["fields"][0].split(",")) <= post_fields, read["path"]
    assert published.url


def test_instagram_sends_only_names_metas_sdk_lists(sandbox: Sandbox) -> None:
    settings = InstagramSettings(account_id=IG_ID, media_dir="/unused", media_base_url="https://e.org")
    with requests.Session() as session:
        publisher = InstagramPublisher(settings, session, poll_interval=0.05)
        publisher.publish(request_for("card_portrait_1080x1350.jpg", (1080, 1350), "instagram"))
        publisher.recent_posts(limit=5)

    calls = sent(sandbox, "instagram")
    [container] = [r for r in calls if r["path"].endswith(f"{IG_ID}/media") and r["method"] == "POST"]
    [publish] = [r for r in calls if r["path"].endswith("/media_publish")]
    assert form_names(container) <= sdk_params(IGUser(IG_ID).create_media(pending=True))
    assert {"image_url", "caption", "alt_text"} <= form_names(container)
    assert form_names(publish) == {"creation_id"}
    assert form_names(publish) <= sdk_params(IGUser(IG_ID).create_media_publish(pending=True))
    known_fields = (
        sdk_fields(IGMedia.Field)
        | sdk_fields(ShadowIGMediaBuilder.Field)
        | sdk_fields(ContentPublishingLimitResponse.Field)
        | sdk_fields(IGUser.Field)
    )
    for read in (r for r in calls if r["method"] == "GET"):
        assert set(read["query"]["fields"][0].split(",")) <= known_fields, read["path"]


# -- Meta's SDK posting through the sandbox ------------------------------------------------


def meta_api(sandbox: Sandbox, platform: str, token_variable: str) -> FacebookAdsApi:
    api = FacebookAdsApi.init(
        access_token=sandbox.env()[token_variable], api_version=GRAPH_VERSION, crash_log=False
    )
    api._session.GRAPH = sandbox.api_url(platform)
    return api


def test_metas_sdk_posts_a_page_photo_to_the_sandbox(sandbox: Sandbox) -> None:
    api = meta_api(sandbox, "facebook", "FACEBOOK_PAGE_TOKEN")
    card = CARDS / "card_square_1080x1080.jpg"
    photo = Page(PAGE_ID, api=api).create_photo(
        params={"filename": str(card), "caption": "Via Meta's SDK", "alt_text_custom": "Een kaart"}
    )

    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert post["id"] == photo["post_id"]
    assert (post["caption"], post["alt_text"]) == ("Via Meta's SDK", "Een kaart")
    assert post["image_bytes"] == card.stat().st_size
    [create] = [r for r in sent(sandbox, "facebook") if r["method"] == "POST"]
    assert list(create["files"]) == ["filename"]  # the SDK's part name, accepted as Meta does
    assert "access_token" not in create["form"]  # the SDK puts it in the query string


def test_metas_sdk_publishes_to_instagram_through_the_sandbox(sandbox: Sandbox) -> None:
    api = meta_api(sandbox, "instagram", "INSTAGRAM_TOKEN")
    card = CARDS / "card_portrait_1080x1350.jpg"
    hosted = requests.put(
        f"{sandbox.url}/_sandbox/media/metasdkcard1.jpg", data=card.read_bytes(), timeout=5
    ).json()["url"]

    container = IGUser(IG_ID, api=api).create_media(
        params={"image_url": hosted, "caption": "Via Meta's SDK", "alt_text": "Een kaart"}
    )
    status = ""
    for _ in range(5):
        status = ShadowIGMediaBuilder(container["id"], api=api).api_get(fields=["status_code"])[
            "status_code"
        ]
        if status == "FINISHED":
            break
    assert status == "FINISHED"
    media = IGUser(IG_ID, api=api).create_media_publish(params={"creation_id": container["id"]})

    [post] = requests.get(f"{sandbox.url}/_sandbox/posts", timeout=5).json()
    assert post["id"] == media["id"]
    assert (post["platform"], post["alt_text"]) == ("instagram", "Een kaart")
