"""LinkedIn: escapes its little text, turns hashtags into templates, pins its version,
and meets the duplicate rule."""

from __future__ import annotations

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from campaign.errors import PostRejected
from campaign.publishers.linkedin import (
    little_text,
    plain_text,
)
from campaign.sandbox import Sandbox
from campaign.sandbox.linkedin import readable, unescaped_reserved
from tests.publishers.helpers import (
    linkedin,
    request_for,
)

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
