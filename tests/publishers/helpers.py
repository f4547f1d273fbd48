"""What the platform test files share: a sandbox per module, a session, and publishers
and requests built the way the tests need them."""

from __future__ import annotations

import re
from pathlib import Path

import requests

from campaign.captions import rich_text_facets
from campaign.platforms import BlueskySettings, LinkedInSettings, MastodonSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.bluesky import BlueskyPublisher
from campaign.publishers.linkedin import (
    LinkedInPublisher,
)
from campaign.publishers.mastodon import MastodonPublisher
from campaign.sandbox import Sandbox

CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")


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
