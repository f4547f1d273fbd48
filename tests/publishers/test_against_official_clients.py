"""Mastodon and LinkedIn judged by code we did not write (issue 7).

* Mastodon: the publisher's contract runs against PyPI mastodon-mock (an independently
  written server) as well as against our sandbox; and the requests it sends match, field
  for field, the ones Mastodon's reference client (Mastodon.py) sends for the same post.
* LinkedIn: LinkedIn's official client (linkedin-api-client) completes an image upload,
  a post, a lookup and a delete against the sandbox, and addresses posts as we do.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from campaign.errors import PostRejected, PostRetryable
from campaign.platforms import LinkedInSettings, MastodonSettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.linkedin import LINKEDIN_VERSION, LinkedInPublisher, urn_path
from campaign.publishers.mastodon import MastodonPublisher, idempotency_key
from campaign.sandbox import Fault, Sandbox

CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
CARD = CARDS / "card_landscape_1600x900.jpg"
WRONG = "WRONG-mastodon-token-51f0"


def request_for(story: str, caption: str | None = None) -> PublishRequest:
    return PublishRequest(
        story_id=story, post_key=f"{story}/mastodon", card_path=CARD,
        caption=caption or f"Vraag door ({story}). #ZeldzameKanker https://example.org/verhalen",
        alt_text=f"Kaart met de tekst: Vraag door. ({story})",
        card_width=1600, card_height=900,
    )


# -- Mastodon: one contract, two servers ---------------------------------------------------


@dataclass
class MastodonServer:
    name: str
    url: str
    token: str
    sandbox: Sandbox | None

    def fault(self, kind: str, reset_after: int = 120) -> None:
        if self.sandbox is not None:
            self.sandbox.add_fault(Fault(platform="mastodon", call="create", kind=kind,
                                         reset_after=reset_after))
            return
        effect: dict[str, Any] = (
            {"type": "ratelimit", "headers": {
                "X-RateLimit-Reset": str(int(datetime.now(UTC).timestamp()) + reset_after)}}
            if kind == "rate_limit" else {"type": "status", "status": 503,
                                          "body": {"error": "Service Unavailable"}}
        )
        r = requests.post(f"{self.url}/api/v1/_mock/faults", json={
            "match": {"methods": ["POST"], "path": "/api/v1/statuses"}, "effect": effect,
            "count": 1}, timeout=10)
        assert r.status_code == 200, r.text

    def status(self, status_id: str) -> requests.Response:
        return requests.get(f"{self.url}/api/v1/statuses/{status_id}",
                            headers={"Authorization": f"Bearer {self.token}"}, timeout=10)


@pytest.fixture(params=["sandbox", "mastodon-mock"])
def server(request: pytest.FixtureRequest, sandbox: Sandbox) -> MastodonServer:
    if request.param == "sandbox":
        return MastodonServer("sandbox", sandbox.api_url("mastodon"),
                              sandbox.env()["MASTODON_TOKEN"], sandbox)
    mock = request.getfixturevalue("mastodon_mock")
    requests.delete(f"{mock.url}/api/v1/_mock/faults", timeout=10)
    return MastodonServer("mastodon-mock", mock.url, mock.token, None)


def mastodon_publisher(server: MastodonServer, session: requests.Session,
                       token: str | None = None) -> MastodonPublisher:
    env = {"MASTODON_TOKEN": token or server.token, "CAMPAIGN_MASTODON_API_URL": server.url}
    return MastodonPublisher(MastodonSettings(instance_url="https://mastodon.example"), session,
                             env, timeout=(2.0, 15.0), poll_interval=0.01)


def test_mastodon_publish_read_back_list_and_delete(server: MastodonServer) -> None:
    with requests.Session() as session:
        publisher = mastodon_publisher(server, session)
        request = request_for(f"contract-{server.name}")
        published = publisher.publish(request)

        status = server.status(published.remote_id).json()
        [media] = status["media_attachments"]
        assert media["description"] == request.alt_text
        assert (status["visibility"], status["language"]) == ("public", "nl")
        assert published.url and published.url.startswith(("http://", "https://"))

        recent = publisher.recent_posts(since=datetime.now(UTC) - timedelta(minutes=5))
        assert recent[0].remote_id == published.remote_id
        assert recent[0].text == request.caption  # back from HTML, links whole
        assert "campaign" in publisher.check_credentials().account

        publisher.delete(published.remote_id, story=request.story_id)
        assert server.status(published.remote_id).status_code == 404
        publisher.delete(published.remote_id)  # already gone: not an error
        assert all(p.remote_id != published.remote_id for p in publisher.recent_posts())


def test_mastodon_retry_with_the_same_key_returns_the_first_status(server: MastodonServer) -> None:
    with requests.Session() as session:
        publisher = mastodon_publisher(server, session)
        request = request_for(f"idem-{server.name}")
        first = publisher.publish(request)
        second = publisher.publish(request)  # as the scheduler's retry after an unknown outcome
        assert second.remote_id == first.remote_id
        texts = [p.text for p in publisher.recent_posts(limit=10)]
        assert texts.count(request.caption) == 1
        publisher.delete(first.remote_id)


@pytest.mark.parametrize("kind", ["rate_limit", "server_error"])
def test_mastodon_faults_are_retryable(server: MastodonServer, kind: str) -> None:
    with requests.Session() as session:
        publisher = mastodon_publisher(server, session)
        server.fault(kind)
        with pytest.raises(PostRetryable) as caught:
            publisher.publish(request_for(f"{kind}-{server.name}"))
    if kind == "rate_limit":
        assert caught.value.reset_at is not None
        assert timedelta(seconds=100) < caught.value.reset_at - datetime.now(UTC) <= timedelta(
            seconds=121)


def test_mastodon_wrong_token_is_rejected_and_never_shown(server: MastodonServer) -> None:
    with requests.Session() as session:
        publisher = mastodon_publisher(server, session, token=WRONG)
        with pytest.raises(PostRejected) as caught:
            publisher.check_credentials()
    assert "MASTODON_TOKEN" in str(caught.value)
    assert WRONG not in str(caught.value)


# -- Mastodon: the same requests as Mastodon.py ----------------------------------------------


class Capture:
    """Every request a `requests.Session` sent, as prepared."""

    def __init__(self, session: requests.Session) -> None:
        self.sent: list[requests.PreparedRequest] = []
        session.hooks["response"].append(lambda r, *a, **k: self.sent.append(r.request))

    def one(self, method: str, path: str) -> requests.PreparedRequest:
        [found] = [p for p in self.sent
                   if p.method == method and urlsplit(p.url or "").path.endswith(path)]
        return found


def multipart_fields(prepared: requests.PreparedRequest) -> dict[str, tuple[str | None, str, bytes]]:
    """name -> (filename, content type, bytes) of each part."""
    body = prepared.body if isinstance(prepared.body, bytes) else str(prepared.body).encode()
    header = prepared.headers["Content-Type"]
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + header.encode() + b"\r\n\r\n" + body
    )
    out = {}
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        out[str(part.get_param("name", header="content-disposition"))] = (
            part.get_filename(), part.get_content_type(),
            payload if isinstance(payload, bytes) else b"",
        )
    return out


def form_fields(prepared: requests.PreparedRequest) -> dict[str, list[str]]:
    body = prepared.body
    text = body.decode() if isinstance(body, bytes) else str(body or "")
    return parse_qs(text, keep_blank_values=True)


def test_mastodon_requests_match_what_mastodon_py_sends(sandbox: Sandbox) -> None:
    from mastodon import Mastodon  # the reference client (test-only dependency)

    request = request_for("mastodon-py")
    key = idempotency_key(request.post_key)
    with requests.Session() as theirs_session:
        theirs = Capture(theirs_session)
        client = Mastodon(access_token=sandbox.env()["MASTODON_TOKEN"],
                          api_base_url=sandbox.api_url("mastodon"), session=theirs_session)
        # (it reads the version from /api/v1/instance first, and so uses /api/v2/media)
        media = client.media_post(CARD.read_bytes(), mime_type="image/jpeg",
                                  description=request.alt_text, file_name=CARD.name)
        client.status_post(request.caption, media_ids=[media], language="nl",
                           visibility="public", idempotency_key=key)
    sandbox.reset()
    with requests.Session() as ours_session:
        ours = Capture(ours_session)
        mastodon_publisher(MastodonServer("sandbox", sandbox.api_url("mastodon"),
                                          sandbox.env()["MASTODON_TOKEN"], sandbox),
                           ours_session).publish(request)

    their_media, our_media = (multipart_fields(c.one("POST", "/api/v2/media")) for c in (theirs, ours))
    assert set(our_media) == set(their_media) == {"file", "description"}
    for name in ("file", "description"):
        assert our_media[name] == their_media[name], name

    their_status = theirs.one("POST", "/api/v1/statuses")
    our_status = ours.one("POST", "/api/v1/statuses")
    assert our_status.headers["Content-Type"] == their_status.headers["Content-Type"]
    their_form, our_form = form_fields(their_status), form_fields(our_status)
    media_ids = {"media_ids[]"}
    assert media_ids <= set(our_form) and media_ids <= set(their_form)
    assert set(their_form) - set(our_form) == {"sensitive"} and their_form["sensitive"] == ["0"]
    for name in set(our_form) - media_ids:
        assert our_form[name] == their_form[name], name
    assert our_status.headers["Idempotency-Key"] == their_status.headers["Idempotency-Key"] == key


def test_the_sandbox_is_stricter_than_mastodon_mock_about_media_ids(sandbox: Sandbox) -> None:
    base, token = sandbox.api_url("mastodon"), sandbox.env()["MASTODON_TOKEN"]
    auth = {"Authorization": f"Bearer {token}"}
    media = requests.post(f"{base}/api/v2/media", headers=auth, timeout=10,
                          files={"file": (CARD.name, CARD.read_bytes(), "image/jpeg")},
                          data={"description": "kaart"}).json()
    bare = requests.post(f"{base}/api/v1/statuses", headers=auth, timeout=10,
                         data={"status": "zonder haken", "media_ids": media["id"]})
    assert bare.status_code == 422 and "media_ids[]" in bare.json()["error"]
    unknown = requests.post(f"{base}/api/v1/statuses", headers=auth, timeout=10,
                            data={"status": "onbekend", "media_ids[]": "999"})
    assert unknown.status_code == 422 and "999" in unknown.json()["error"]
    assert sandbox.posts() == []


# -- LinkedIn: the official client against the sandbox ---------------------------------------


def test_linkedins_official_client_uploads_posts_finds_and_deletes(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linkedin_api.common.constants as constants
    from linkedin_api.clients.restli.client import RestliClient

    monkeypatch.setattr(constants, "VERSIONED_BASE_URL", sandbox.api_url("linkedin") + "/rest")
    monkeypatch.setattr(constants, "NON_VERSIONED_BASE_URL", sandbox.api_url("linkedin") + "/v2")
    token = sandbox.env()["LINKEDIN_TOKEN"]
    owner = "urn:li:organization:" + sandbox.env()["CAMPAIGN_SANDBOX_LINKEDIN_ORGANIZATION_ID"]
    client = RestliClient()
    card = CARDS / "card_square_1080x1080.jpg"

    init = client.action(resource_path="/images", action_name="initializeUpload",
                         action_params={"initializeUploadRequest": {"owner": owner}},
                         access_token=token, version_string=LINKEDIN_VERSION)
    assert init.status_code == 200, init.response.text
    upload_url, image = init.value["uploadUrl"], init.value["image"]
    put = requests.put(upload_url, data=card.read_bytes(), timeout=10,
                       headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/octet-stream"})
    assert put.status_code == 201, put.text

    created = client.create(resource_path="/posts", access_token=token,
                            version_string=LINKEDIN_VERSION, entity={
        "author": owner, "commentary": "Via de officiële client \\(sandbox\\)",
        "visibility": "PUBLIC",
        "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                         "thirdPartyDistributionChannels": []},
        "content": {"media": {"id": image, "altText": "Een vierkante kaart"}},
        "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False,
    })
    assert created.status_code == 201, created.response.text
    urn = created.entity_id
    [post] = sandbox.posts()
    assert (post["id"], post["caption"], post["alt_text"]) == (
        urn, "Via de officiële client (sandbox)", "Een vierkante kaart")
    assert post["image_bytes"] == card.stat().st_size

    found = client.finder(resource_path="/posts", finder_name="author",
                          query_params={"author": owner}, access_token=token,
                          version_string=LINKEDIN_VERSION)
    assert found.status_code == 200, found.response.text
    assert [e["id"] for e in found.elements] == [urn]

    # Our publisher reads the client's post back, and addresses it exactly as the client does.
    env = {"LINKEDIN_TOKEN": token, "CAMPAIGN_LINKEDIN_API_URL": sandbox.api_url("linkedin")}
    with requests.Session() as session:
        publisher = LinkedInPublisher(LinkedInSettings(organization_id=owner.rsplit(":", 1)[1]),
                                      session, env)
        assert [(p.remote_id, p.text) for p in publisher.recent_posts()] == [
            (urn, "Via de officiële client (sandbox)")]
    deleted = client.delete(resource_path="/posts/{id}", path_keys={"id": urn},
                            access_token=token, version_string=LINKEDIN_VERSION)
    assert deleted.status_code == 204
    client_path = [r["path"] for r in sandbox.requests if r["method"] == "DELETE"][-1]
    assert client_path == f"/rest/posts/{urn_path(urn)}"
    assert sandbox.posts() == []


def test_linkedins_official_client_asks_the_statistics_as_our_publisher_does(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    import linkedin_api.common.constants as constants
    from linkedin_api.clients.restli.client import RestliClient

    monkeypatch.setattr(constants, "VERSIONED_BASE_URL", sandbox.api_url("linkedin") + "/rest")
    token = sandbox.env()["LINKEDIN_TOKEN"]
    owner = "urn:li:organization:" + sandbox.env()["CAMPAIGN_SANDBOX_LINKEDIN_ORGANIZATION_ID"]
    env = {"LINKEDIN_TOKEN": token, "CAMPAIGN_LINKEDIN_API_URL": sandbox.api_url("linkedin")}
    with requests.Session() as session:
        publisher = LinkedInPublisher(LinkedInSettings(organization_id=owner.rsplit(":", 1)[1]),
                                      session, env)
        urn = publisher.publish(request_for("linkedin")).remote_id
        sandbox.clock.set(advance=timedelta(days=2))
        ours = publisher.fetch_metrics([urn])[urn].values
    found = RestliClient().finder(
        resource_path="/organizationalEntityShareStatistics", finder_name="organizationalEntity",
        query_params={"organizationalEntity": owner, "shares": [urn]}, access_token=token,
        version_string=LINKEDIN_VERSION)
    assert found.status_code == 200, found.response.text
    [element] = found.elements
    stats = element["totalShareStatistics"]
    assert element["share"] == urn
    assert (stats["impressionCount"], stats["likeCount"]) == (ours["views"], ours["likes"])
    theirs, mine = ([r for r in sandbox.requests
                     if r["path"] == "/rest/organizationalEntityShareStatistics"][i] for i in (1, 0))
    assert theirs["query"] == mine["query"]  # the same List(...) and URN encoding, decoded
