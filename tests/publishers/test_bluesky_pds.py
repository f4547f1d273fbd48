"""The Bluesky publisher against Bluesky's own PDS, and the sandbox's answers beside the PDS's.

The reference PDS (tests/servers/pds, fixture `real_pds`) judges what our reading of
the AT Protocol could get wrong: the publisher posts, reads back and deletes a post with
an image, alt text, a link and a tag facet; its error mapping meets the real server's
answers (over 300 graphemes, missing alt, a wrong app password, a garbage and an expired
access token); and the sandbox is sent the same requests as the PDS, answer for answer.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from campaign.captions import rich_text_facets
from campaign.errors import PostRejected
from campaign.platforms import BlueskySettings
from campaign.publishers.base import PublishRequest
from campaign.publishers.bluesky import POST, BlueskyPublisher, post_tid
from campaign.sandbox import Sandbox
from campaign.sandbox.bluesky import APP_PASSWORD, DID, HANDLE, BlueskyApi
from tests.servers.pds_fixture import RealPds, sign_hs256_jwt

pytestmark = pytest.mark.integration

CARDS = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
CARD = CARDS / "card_landscape_1600x900.jpg"
WRONG = "wrong-pass-word-7c1e"


def jpeg(width: int, height: int, noise: bool = False) -> bytes:
    if noise:
        rnd = random.Random(7)
        img = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), (30, 90, 200))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


class Recorder:
    """The XRPC methods a publisher's session called, in order."""

    def __init__(self, session: requests.Session) -> None:
        self.calls: list[str] = []
        session.hooks["response"].append(self._hook)

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls.append(str(response.request.path_url).split("?")[0].rsplit("/", 1)[-1])

    def count(self, nsid: str) -> int:
        return self.calls.count(nsid)


def publisher_for(pds: RealPds, http: requests.Session, password: str | None = None
                  ) -> BlueskyPublisher:
    env = {"BLUESKY_APP_PASSWORD": password or pds.app_password,
           "CAMPAIGN_BLUESKY_API_URL": pds.url}
    return BlueskyPublisher(BlueskySettings(handle=pds.handle), http, env, timeout=(5.0, 30.0))


def request_for(caption: str, key: str) -> PublishRequest:
    return PublishRequest(
        story_id=key.split("/")[0], post_key=key, card_path=CARD, caption=caption,
        alt_text="Kaart: 'Vraag door. Jij kent je lichaam het best.'",
        card_width=1600, card_height=900, facets=rich_text_facets(caption), language="nl",
    )


def get_record(pds: RealPds, rkey: str) -> requests.Response:
    return requests.get(pds.xrpc("com.atproto.repo.getRecord"),
                        params={"repo": pds.did, "collection": POST, "rkey": rkey}, timeout=30)


# -- the publisher on the real server ----------------------------------------------------


def test_publisher_posts_reads_back_and_deletes_on_the_real_pds(
    real_pds: RealPds, http: requests.Session
) -> None:
    calls = Recorder(http)
    publisher = publisher_for(real_pds, http)
    url = "https://example.org/verhalen/marieke"
    caption = f"Marieke 💙 zocht twee jaar naar een “diagnose”. Lees haar verhaal: {url} #ZeldzameKanker"
    request = request_for(caption, "real-marieke/bluesky")

    published = publisher.publish(request)

    rkey = post_tid(request.post_key)
    assert published.remote_id == f"at://{real_pds.did}/{POST}/{rkey}"
    assert published.url == f"https://bsky.app/profile/{real_pds.handle}/post/{rkey}"
    answer = get_record(real_pds, rkey)
    assert answer.status_code == 200, answer.text
    record = answer.json()["value"]
    assert record["text"] == caption
    assert record["langs"] == ["nl"]
    [image] = record["embed"]["images"]
    assert image["alt"] == request.alt_text
    assert image["aspectRatio"] == {"width": 1600, "height": 900}
    assert image["image"]["size"] == CARD.stat().st_size
    raw = caption.encode("utf-8")
    links = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#link")]
    tags = [f for f in record["facets"] if f["features"][0]["$type"].endswith("#tag")]
    assert [raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in links] == [url]
    assert [raw[f["index"]["byteStart"] : f["index"]["byteEnd"]].decode() for f in tags] == [
        "#ZeldzameKanker"
    ]

    recent = publisher.recent_posts(since=datetime.now(UTC) - timedelta(minutes=5))
    assert [(p.remote_id, p.text) for p in recent if p.remote_id == published.remote_id] == [
        (published.remote_id, caption)
    ]

    # The same post again (a retry after a lost answer) finds it: one record, no new write.
    again = publisher.publish(request)
    assert again.remote_id == published.remote_id
    listed = requests.get(real_pds.xrpc("com.atproto.repo.listRecords"),
                          params={"repo": real_pds.did, "collection": POST, "limit": "100"},
                          timeout=30).json()["records"]
    assert [r["uri"] for r in listed].count(published.remote_id) == 1

    publisher.delete(published.remote_id, story="real-marieke")
    gone = get_record(real_pds, rkey)
    assert (gone.status_code, gone.json()["error"]) == (400, "RecordNotFound")
    publisher.delete(published.remote_id)  # idempotent on the server: no error
    assert calls.count("com.atproto.server.createSession") == 1  # one login for all of it
    assert publisher.check_credentials().account.startswith(f"@{real_pds.handle}")


def test_the_deterministic_record_key_is_a_tid_the_real_pds_accepts(
    real_pds: RealPds, http: requests.Session
) -> None:
    publisher = publisher_for(real_pds, http)
    keys = [post_tid(f"story-{n}/bluesky") for n in range(5)]
    assert len(set(keys)) == 5
    for n in range(5):
        published = publisher.publish(request_for(f"Sleutel {n}", f"story-{n}/bluesky"))
        assert published.remote_id.endswith("/" + keys[n])
        publisher.delete(published.remote_id)


def test_over_300_graphemes_is_rejected_with_the_servers_words(
    real_pds: RealPds, http: requests.Session
) -> None:
    publisher = publisher_for(real_pds, http)
    with pytest.raises(PostRejected) as caught:
        publisher.publish(request_for("a" * 301, "too-long/bluesky"))
    assert "grapheme too big (maximum 300, got 301)" in str(caught.value)
    assert str(caught.value).startswith("bluesky (too-long): ")
    assert get_record(real_pds, post_tid("too-long/bluesky")).status_code == 400


def test_missing_alt_is_rejected_through_the_publishers_own_mapping(
    real_pds: RealPds, http: requests.Session
) -> None:
    # The publisher always sends alt; this sends a record without one through its own
    # transport and error mapping, to see what the real answer becomes.
    publisher = publisher_for(real_pds, http)
    blob = publisher._xrpc("POST", "com.atproto.repo.uploadBlob", what="uploading",
                           data=jpeg(60, 40), content_type="image/jpeg")["blob"]
    record = {"$type": POST, "text": "zonder alt", "createdAt": "2026-11-22T10:00:00.000Z",
              "embed": {"$type": "app.bsky.embed.images", "images": [{"image": blob}]}}
    with pytest.raises(PostRejected) as caught:
        publisher._xrpc("POST", "com.atproto.repo.putRecord", what="creating the post",
                        story="no-alt", creates=True,
                        json={"repo": real_pds.did, "collection": POST,
                              "rkey": post_tid("no-alt/bluesky"), "record": record})
    assert 'Missing required key \\"alt\\"' in str(caught.value) or (
        'Missing required key "alt"' in str(caught.value)
    )


def test_a_wrong_app_password_is_rejected_naming_the_variable_never_showing_it(
    real_pds: RealPds, http: requests.Session
) -> None:
    publisher = publisher_for(real_pds, http, password=WRONG)
    with pytest.raises(PostRejected) as caught:
        publisher.publish(request_for("Nooit", "wrong-password/bluesky"))
    assert "BLUESKY_APP_PASSWORD" in str(caught.value)
    assert "Invalid identifier or password" in str(caught.value)
    assert WRONG not in str(caught.value) and WRONG not in repr(caught.value.__cause__)


def test_an_expired_access_token_is_refreshed_once_not_logged_in_again(
    real_pds: RealPds, http: requests.Session
) -> None:
    calls = Recorder(http)
    publisher = publisher_for(real_pds, http)
    publisher.check_credentials()
    publisher._access = real_pds.expired_access_token()  # as if 120 minutes had passed

    published = publisher.publish(request_for("Na het verlopen token", "expired/bluesky"))

    assert calls.count("com.atproto.server.createSession") == 1
    assert calls.count("com.atproto.server.refreshSession") == 1
    assert get_record(real_pds, post_tid("expired/bluesky")).status_code == 200
    publisher.delete(published.remote_id)


def test_an_access_token_the_server_cannot_verify_means_one_new_login(
    real_pds: RealPds, http: requests.Session
) -> None:
    # As after the PDS's signing key changed: both tokens are JWTs it no longer verifies.
    # (A token that is not a JWT at all makes uploadBlob answer a bare 500: observed.md.)
    calls = Recorder(http)
    publisher = publisher_for(real_pds, http)
    publisher.check_credentials()
    now = int(time.time())
    claims = {"scope": "com.atproto.appPass", "aud": real_pds.server.service_did,
              "sub": real_pds.did, "iat": now, "exp": now + 3600}
    forged = sign_hs256_jwt({"typ": "at+jwt", "alg": "HS256"}, claims, "not-the-pds-secret")
    publisher._access = publisher._refresh = forged

    published = publisher.publish(request_for("Na een kapot token", "garbage/bluesky"))

    assert calls.count("com.atproto.server.createSession") == 2
    publisher.delete(published.remote_id)


# -- the sandbox beside the real server ---------------------------------------------------


@dataclass
class Target:
    """One server to send the same requests to: the real PDS or the sandbox."""

    url: str
    handle: str
    did: str
    password: str
    expired_token: Callable[[], str]

    def xrpc(self, nsid: str) -> str:
        return f"{self.url}/xrpc/{nsid}"

    def token(self) -> str:
        r = requests.post(self.xrpc("com.atproto.server.createSession"),
                          json={"identifier": self.handle, "password": self.password}, timeout=30)
        assert r.status_code == 200, r.text
        return str(r.json()["accessJwt"])


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


def run_cases(t: Target) -> dict[str, tuple[int, str, str]]:
    """The same requests as observed.md lists; each answer as (status, error, message)."""
    out: dict[str, tuple[int, str, str]] = {}

    def keep(name: str, r: requests.Response) -> dict[str, Any]:
        body = r.json()
        message = str(body.get("message", "")).replace(t.did, "DID")
        out[name] = (r.status_code, str(body.get("error", "")), message)
        return dict(body)

    def write(nsid: str, record: dict[str, Any], rkey: str | None, token: str | None
              ) -> requests.Response:
        body: dict[str, Any] = {"repo": t.did, "collection": POST, "record": record}
        if rkey is not None:
            body["rkey"] = rkey
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.post(t.xrpc(nsid), json=body, headers=headers, timeout=30)

    def post(text: str, **extra: Any) -> dict[str, Any]:
        return {"$type": POST, "text": text, "createdAt": "2026-11-22T10:00:00.000Z", **extra}

    keep("wrong password", requests.post(t.xrpc("com.atproto.server.createSession"),
                                         json={"identifier": t.handle, "password": WRONG},
                                         timeout=30))
    token = t.token()
    keep("no auth", write("com.atproto.repo.createRecord", post("x"), None, None))
    keep("garbage token", write("com.atproto.repo.createRecord", post("x"), None, "garbage"))
    keep("expired token", write("com.atproto.repo.createRecord", post("x"), None,
                                t.expired_token()))
    for name, bad in (("garbage", "garbage"), ("expired", t.expired_token())):
        keep(f"uploadBlob, {name} token", requests.post(
            t.xrpc("com.atproto.repo.uploadBlob"), data=jpeg(20, 20),
            headers={"Authorization": f"Bearer {bad}", "Content-Type": "image/jpeg"}, timeout=30))
        keep(f"getRecord, {name} token", requests.get(
            t.xrpc("com.atproto.repo.getRecord"),
            params={"repo": t.did, "collection": POST, "rkey": post_tid("none/compare")},
            headers={"Authorization": f"Bearer {bad}"}, timeout=30))
    keep("refresh with the access token", requests.post(
        t.xrpc("com.atproto.server.refreshSession"),
        headers={"Authorization": f"Bearer {token}"}, timeout=30))
    blob = requests.post(t.xrpc("com.atproto.repo.uploadBlob"), data=jpeg(60, 40),
                         headers={"Authorization": f"Bearer {token}",
                                  "Content-Type": "image/jpeg"}, timeout=30).json()["blob"]
    image = {"alt": "x", "image": blob, "aspectRatio": {"width": 60, "height": 40}}
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    for nsid, rkey in (("com.atproto.repo.createRecord", None),
                       ("com.atproto.repo.putRecord", post_tid("cmp/compare"))):
        short = nsid.rsplit(".", 1)[1]
        keep(f"{short}: 301 graphemes", write(nsid, post("a" * 301), rkey, token))
        keep(f"{short}: 7500 bytes", write(nsid, post(family * 300), rkey, token))
        no_alt = {k: v for k, v in image.items() if k != "alt"}
        keep(f"{short}: no alt", write(nsid, post("n", embed={
            "$type": "app.bsky.embed.images", "images": [no_alt]}), rkey, token))
        keep(f"{short}: 5 images", write(nsid, post("v", embed={
            "$type": "app.bsky.embed.images", "images": [image] * 5}), rkey, token))
        keep(f"{short}: rkey not a TID", write(nsid, post("k"), "campaign-anne-1", token))
    big = requests.post(t.xrpc("com.atproto.repo.uploadBlob"), data=jpeg(1400, 1000, noise=True),
                        headers={"Authorization": f"Bearer {token}",
                                 "Content-Type": "image/jpeg"}, timeout=60).json()["blob"]
    keep("blob over 2 MB", write("com.atproto.repo.createRecord", post("groot", embed={
        "$type": "app.bsky.embed.images", "images": [{**image, "image": big}]}), None, token))
    rkey = post_tid("twice/compare")
    first = keep("createRecord: new rkey", write("com.atproto.repo.createRecord", post("een"),
                                                  rkey, token))
    assert first.get("uri", "").endswith(rkey)
    keep("createRecord: same rkey again", write("com.atproto.repo.createRecord", post("een"),
                                                 rkey, token))
    put_key = post_tid("put/compare")
    put1 = write("com.atproto.repo.putRecord", post("twee"), put_key, token).json()
    put2 = write("com.atproto.repo.putRecord", post("twee"), put_key, token).json()
    out["putRecord twice: commit on the first only"] = (
        int("commit" in put1), str(put1["cid"] == put2["cid"]), str("commit" in put2))
    for key in (rkey, put_key):
        requests.post(t.xrpc("com.atproto.repo.deleteRecord"),
                      json={"repo": t.did, "collection": POST, "rkey": key},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    keep("getRecord after delete", requests.get(
        t.xrpc("com.atproto.repo.getRecord"),
        params={"repo": t.did, "collection": POST, "rkey": rkey}, timeout=30))
    again = requests.post(t.xrpc("com.atproto.repo.deleteRecord"),
                          json={"repo": t.did, "collection": POST, "rkey": rkey},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)
    out["deleteRecord again"] = (again.status_code, str(again.json()), "")
    return out


def test_the_sandbox_answers_as_the_real_pds_does(real_pds: RealPds, sandbox: Sandbox) -> None:
    api = sandbox.platforms["bluesky"]
    assert isinstance(api, BlueskyApi)
    real = run_cases(Target(real_pds.url, real_pds.handle, real_pds.did, real_pds.app_password,
                            real_pds.expired_access_token))
    ours = run_cases(Target(sandbox.api_url("bluesky"), HANDLE, DID, APP_PASSWORD,
                            api.expired_access_token))
    assert len(real) == len(ours) > 20
    differences = {name: (real[name], ours[name]) for name in real if real[name] != ours[name]}
    assert differences == {}


def test_metrics_on_the_real_pds_never_turn_a_missing_appview_into_deleted_posts(
    real_pds: RealPds, http: requests.Session
) -> None:
    """getPosts is an AppView method: a PDS hands it to its AppView. This test PDS has none,
    so it refuses the whole call in its own words; the publisher must say so, never call the
    posts gone. (With an AppView configured, the numbers come back.)"""
    publisher = publisher_for(real_pds, http)
    published = publisher.publish(request_for("Cijfers? #ZeldzameKanker", "real-numbers/bluesky"))
    refused: PostRejected | None = None
    try:
        answer = publisher.fetch_metrics([published.remote_id])
    except PostRejected as exc:
        refused = exc
    finally:
        publisher.delete(published.remote_id)
    if refused is None:
        assert not answer[published.remote_id].gone, answer
        assert set(answer[published.remote_id].values) == {"likes", "reposts", "replies",
                                                           "quotes"}
    else:
        # The reference PDS without an AppView: 400 InvalidRequest "No service configured
        # for app.bsky.feed.getPosts" (observed), the policy's "no AppView" row.
        assert "does not give the posts' numbers" in str(refused), refused
        assert "pds_url" in str(refused), refused
