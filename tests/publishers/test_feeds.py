"""The sandbox's feed pages show the publishers' posts, and the rehearsal's fault names
are aliases of the create call."""

from __future__ import annotations

import re

import pytest
import requests

from campaign.sandbox import Sandbox
from tests.publishers.helpers import (
    bluesky,
    linkedin,
    mastodon,
    request_for,
)

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
