"""Smoke tests of the independent-check servers (issue 7), with raw `requests` only.

* Bluesky's reference PDS (tests/servers/pds): post with image, alt, langs and a link facet,
  read back, delete; plus the real server's answers to the errors the publisher must map.
  Every answer is also written to test-artifacts/pds-observed.json, the source of
  tests/servers/pds/observed.md (the sandbox copies those bodies).
* mastodon-mock (PyPI): media + status with the form fields Mastodon.py sends.

Skipped when a server is not installed, failed instead when CAMPAIGN_REQUIRE_REAL_SERVERS=1.
"""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from tests.servers.pds_fixture import RealPds, create_account, run_pds

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parent.parent
OBSERVED_PATH = REPO / "test-artifacts" / "pds-observed.json"
POST = "app.bsky.feed.post"
OBSERVED: dict[str, Any] = {}


def jpeg(width: int = 120, height: int = 80, noise: bool = False) -> bytes:
    if noise:
        import random

        rnd = random.Random(7)
        img = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), (200, 30, 90))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=95)
    return buf.getvalue()


TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable


def tid(when: datetime, clock_id: int) -> str:
    """An atproto TID: 53 bits of microseconds since the epoch, then a 10-bit clock id."""
    value = (int(when.timestamp() * 1_000_000) << 10) | (clock_id & 0x3FF)
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def observe(name: str, request: dict[str, Any], r: requests.Response) -> dict[str, Any]:
    """Keep what the real server answered (status, JSON body, notable headers)."""
    try:
        body: Any = r.json()
    except ValueError:
        body = r.text
    headers = {
        k: v
        for k, v in r.headers.items()
        if k.lower().startswith(("ratelimit", "www-authenticate", "content-type", "retry-after"))
    }
    OBSERVED[name] = {"request": request, "status": r.status_code, "headers": headers, "body": body}
    OBSERVED_PATH.parent.mkdir(exist_ok=True)
    OBSERVED_PATH.write_text(json.dumps(OBSERVED, indent=2, ensure_ascii=False) + "\n")
    return body if isinstance(body, dict) else {"_text": body}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def session(pds: RealPds) -> dict[str, Any]:
    r = requests.post(
        pds.xrpc("com.atproto.server.createSession"),
        json={"identifier": pds.handle, "password": pds.app_password},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r.json()


def upload(pds: RealPds, token: str, data: bytes) -> dict[str, Any]:
    r = requests.post(
        pds.xrpc("com.atproto.repo.uploadBlob"),
        data=data,
        headers={**bearer(token), "Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()["blob"]


def create_record(
    pds: RealPds, token: str, record: dict[str, Any], rkey: str | None = None
) -> requests.Response:
    body: dict[str, Any] = {"repo": pds.did, "collection": POST, "record": record}
    if rkey is not None:
        body["rkey"] = rkey
    return requests.post(
        pds.xrpc("com.atproto.repo.createRecord"), json=body, headers=bearer(token), timeout=30
    )


def post_record(text: str, **extra: Any) -> dict[str, Any]:
    return {"$type": POST, "text": text, "createdAt": now_iso(), "langs": ["nl"], **extra}


def test_pds_post_with_image_alt_and_link_facet_roundtrip(real_pds: RealPds) -> None:
    s = session(real_pds)
    assert s["did"] == real_pds.did
    assert s["handle"] == real_pds.handle
    token = s["accessJwt"]

    blob = upload(real_pds, token, jpeg(120, 80))
    assert blob["$type"] == "blob"
    assert blob["mimeType"] == "image/jpeg"
    assert blob["ref"]["$link"].startswith("bafkrei")

    url = "https://example.org/verhalen/anne"
    text = f"Lees het verhaal van Anne 💙 — “zorg” op {url} #zorgweek"
    raw = text.encode("utf-8")
    start = raw.index(url.encode())
    tag_start = raw.index(b"#zorgweek")
    assert start != text.index(url)  # the emoji and quotes make bytes and str indices differ
    record = post_record(
        text,
        facets=[
            {
                "index": {"byteStart": start, "byteEnd": start + len(url.encode())},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": url}],
            },
            {
                "index": {"byteStart": tag_start, "byteEnd": len(raw)},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "zorgweek"}],
            },
        ],
        embed={
            "$type": "app.bsky.embed.images",
            "images": [
                {
                    "alt": "Anne in de tuin, met een rode achtergrond",
                    "image": blob,
                    "aspectRatio": {"width": 120, "height": 80},
                }
            ],
        },
    )
    r = create_record(real_pds, token, record)
    created = observe("createRecord_ok", {"record": "post with image, alt, facets"}, r)
    assert r.status_code == 200, r.text
    assert created["uri"].startswith(f"at://{real_pds.did}/{POST}/")
    assert created.get("validationStatus") == "valid"
    rkey = created["uri"].rsplit("/", 1)[1]

    r = requests.get(
        real_pds.xrpc("com.atproto.repo.getRecord"),
        params={"repo": real_pds.did, "collection": POST, "rkey": rkey},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["uri"] == created["uri"]
    assert got["cid"] == created["cid"]
    assert got["value"] == record

    r = requests.post(
        real_pds.xrpc("com.atproto.repo.deleteRecord"),
        json={"repo": real_pds.did, "collection": POST, "rkey": rkey},
        headers=bearer(token),
        timeout=30,
    )
    observe("deleteRecord_ok", {"rkey": rkey}, r)
    assert r.status_code == 200, r.text

    r = requests.get(
        real_pds.xrpc("com.atproto.repo.getRecord"),
        params={"repo": real_pds.did, "collection": POST, "rkey": rkey},
        timeout=30,
    )
    body = observe("getRecord_after_delete", {"rkey": rkey}, r)
    assert r.status_code == 400
    assert body["error"] == "RecordNotFound"

    r = requests.post(
        real_pds.xrpc("com.atproto.repo.deleteRecord"),
        json={"repo": real_pds.did, "collection": POST, "rkey": rkey},
        headers=bearer(token),
        timeout=30,
    )
    observe("deleteRecord_again", {"rkey": rkey, "note": "already deleted"}, r)
    assert r.status_code == 200  # "Delete a repository record, or ensure it doesn't exist"


def test_pds_error_answers(real_pds: RealPds) -> None:
    token = session(real_pds)["accessJwt"]
    blob = upload(real_pds, token, jpeg(60, 40))
    image = {"alt": "x", "image": blob, "aspectRatio": {"width": 60, "height": 40}}

    # Over 300 graphemes (301 ASCII letters).
    r = create_record(real_pds, token, post_record("a" * 301))
    body = observe("text_301_graphemes", {"text": "'a' * 301"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidRequest")

    # Exactly 300 graphemes, but 7,500 UTF-8 bytes (maxLength is 3,000).
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    r = create_record(real_pds, token, post_record(family * 300))
    body = observe("text_300_graphemes_7500_bytes", {"text": "family emoji (25 bytes) * 300"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidRequest")

    # Images embed without alt.
    no_alt = {k: v for k, v in image.items() if k != "alt"}
    r = create_record(
        real_pds,
        token,
        post_record("zonder alt", embed={"$type": "app.bsky.embed.images", "images": [no_alt]}),
    )
    body = observe("images_embed_without_alt", {"embed": "images[0] without alt"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidRequest")

    # Empty alt is allowed.
    r = create_record(
        real_pds,
        token,
        post_record(
            "lege alt",
            embed={"$type": "app.bsky.embed.images", "images": [{**image, "alt": ""}]},
        ),
    )
    observe("images_embed_empty_alt", {"embed": 'images[0].alt = ""'}, r)
    assert r.status_code == 200, r.text

    # Five images (the lexicon allows four).
    r = create_record(
        real_pds,
        token,
        post_record("vijf", embed={"$type": "app.bsky.embed.images", "images": [image] * 5}),
    )
    body = observe("images_embed_five_images", {"embed": "5 images"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidRequest")

    # Bad tokens.
    record = post_record("token")
    r = requests.post(
        real_pds.xrpc("com.atproto.repo.createRecord"),
        json={"repo": real_pds.did, "collection": POST, "record": record},
        timeout=30,
    )
    body = observe("createRecord_no_authorization_header", {}, r)
    assert (r.status_code, body["error"]) == (401, "AuthMissing")

    r = create_record(real_pds, "garbage", record)
    body = observe("createRecord_garbage_token", {"Authorization": "Bearer garbage"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidToken")

    forged = token.rsplit(".", 1)[0] + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    r = create_record(real_pds, forged, record)
    body = observe("createRecord_bad_signature_token", {"Authorization": "real JWT, bad signature"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidToken")

    r = create_record(real_pds, real_pds.expired_access_token(), record)
    body = observe("createRecord_expired_token", {"Authorization": "validly signed, exp 1 h ago"}, r)
    assert (r.status_code, body["error"]) == (400, "ExpiredToken")

    r = requests.post(
        real_pds.xrpc("com.atproto.server.createSession"),
        json={"identifier": real_pds.handle, "password": "abcd-efgh-ijkl-mnop"},
        timeout=30,
    )
    body = observe("createSession_wrong_app_password", {"password": "wrong"}, r)
    assert r.status_code == 401

    r = requests.get(real_pds.xrpc("com.atproto.server.getSession"), headers=bearer(token), timeout=30)
    observe("getSession_ok", {}, r)
    assert r.status_code == 200

    # A caller-chosen rkey: app.bsky.feed.post's lexicon has key "tid", so a free-form key
    # is refused; a deterministic TID (from the post's identity) is accepted, once.
    r = create_record(real_pds, token, post_record("vrije sleutel"), rkey="campaign-anne-1")
    body = observe("createRecord_rkey_not_a_tid", {"rkey": "campaign-anne-1"}, r)
    assert (r.status_code, body["error"]) == (400, "InvalidRequest")

    rkey = tid(datetime(2026, 11, 22, 10, 0, tzinfo=UTC), clock_id=0x2A5)
    r = create_record(real_pds, token, post_record("eerste"), rkey=rkey)
    observe("createRecord_rkey_first", {"rkey": rkey}, r)
    assert r.status_code == 200, r.text
    r = create_record(real_pds, token, post_record("tweede"), rkey=rkey)
    body = observe("createRecord_rkey_second", {"rkey": rkey, "note": "same rkey again"}, r)
    assert r.status_code >= 400

    # putRecord with the same TID twice: an upsert, so a retry of it cannot duplicate.
    put_rkey = tid(datetime(2026, 11, 22, 11, 0, tzinfo=UTC), clock_id=0x2A5)
    put = {"repo": real_pds.did, "collection": POST, "rkey": put_rkey, "record": post_record("put")}
    for attempt in ("first", "second"):
        r = requests.post(
            real_pds.xrpc("com.atproto.repo.putRecord"), json=put, headers=bearer(token), timeout=30
        )
        observe(f"putRecord_same_rkey_{attempt}", {"rkey": put_rkey, "record": "identical"}, r)
        assert r.status_code == 200, r.text
    r = requests.get(
        real_pds.xrpc("com.atproto.repo.listRecords"),
        params={"repo": real_pds.did, "collection": POST, "limit": 100},
        timeout=30,
    )
    assert sum(rec["uri"].endswith("/" + put_rkey) for rec in r.json()["records"]) == 1

    # A link facet whose byte range lies past the end of the text.
    r = create_record(
        real_pds,
        token,
        post_record(
            "kort",
            facets=[
                {
                    "index": {"byteStart": 2, "byteEnd": 40},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://example.org/"}],
                }
            ],
        ),
    )
    observe("facet_past_end_of_text", {"text": "kort", "byteEnd": 40}, r)

    # refreshSession: with the refresh token, and with an access token instead.
    s = session(real_pds)
    r = requests.post(
        real_pds.xrpc("com.atproto.server.refreshSession"), headers=bearer(s["refreshJwt"]), timeout=30
    )
    refreshed = observe("refreshSession_ok", {}, r)
    assert r.status_code == 200, r.text
    assert refreshed["did"] == real_pds.did
    assert refreshed["refreshJwt"] != s["refreshJwt"]  # new jti; the access JWT can be equal
    r = requests.post(
        real_pds.xrpc("com.atproto.server.refreshSession"), headers=bearer(s["accessJwt"]), timeout=30
    )
    observe("refreshSession_with_access_token", {}, r)
    assert r.status_code == 400

    # An image over the lexicon's 2,000,000 bytes (the PDS's own upload cap is 5 MB).
    big = jpeg(1400, 1400, noise=True)
    assert len(big) > 2_000_000
    r = requests.post(
        real_pds.xrpc("com.atproto.repo.uploadBlob"),
        data=big,
        headers={**bearer(token), "Content-Type": "image/jpeg"},
        timeout=60,
    )
    up = observe("uploadBlob_over_2MB", {"bytes": len(big)}, r)
    if r.status_code == 200:
        big_image = {**image, "image": up["blob"]}
        r = create_record(
            real_pds,
            token,
            post_record("groot", embed={"$type": "app.bsky.embed.images", "images": [big_image]}),
        )
        observe("createRecord_image_over_2MB", {"bytes": len(big)}, r)
        assert r.status_code == 400


def test_pds_createsession_rate_limit(tmp_path: Path) -> None:
    """With the production rate limits on, the 31st createSession within 5 minutes is refused."""
    with run_pds(tmp_path, {"PDS_RATE_LIMITS_ENABLED": "true"}) as server:
        pds = create_account(server, "ratelimit")
        last: requests.Response | None = None
        started = time.monotonic()
        for _ in range(31):
            last = requests.post(
                pds.xrpc("com.atproto.server.createSession"),
                json={"identifier": pds.handle, "password": pds.app_password},
                timeout=30,
            )
            if last.status_code != 200:
                break
        assert last is not None
        body = observe(
            "createSession_rate_limited", {"attempts_within_s": round(time.monotonic() - started)}, last
        )
        assert (last.status_code, body["error"]) == (429, "RateLimitExceeded")
        assert "RateLimit-Reset" in last.headers


@pytest.mark.parametrize("as_json", [False, True])
def test_mastodon_mock_media_and_status(mastodon_mock: Any, as_json: bool) -> None:
    base, token = mastodon_mock.url, mastodon_mock.token
    auth = {"Authorization": f"Bearer {token}"}
    r = requests.get(f"{base}/api/v2/instance", timeout=10)
    assert r.status_code == 200
    assert r.json()["configuration"]["statuses"]["max_characters"] > 0

    r = requests.post(
        f"{base}/api/v2/media",
        files={"file": ("kaart.jpg", jpeg(), "image/jpeg")},
        data={"description": "Alt-tekst bij de kaart"},
        headers=auth,
        timeout=30,
    )
    assert r.status_code in (200, 202), r.text
    media = r.json()
    assert media["description"] == "Alt-tekst bij de kaart"

    status_fields = {
        "status": "Lees het verhaal van Anne 💙 https://example.org/verhalen/anne",
        "language": "nl",
        "visibility": "public",
    }
    headers = {**auth, "Idempotency-Key": f"campaign-test-{as_json}"}
    if as_json:
        r = requests.post(
            f"{base}/api/v1/statuses",
            json={**status_fields, "media_ids": [media["id"]]},
            headers=headers,
            timeout=30,
        )
    else:  # what Mastodon.py sends: form fields, media_ids[] repeated
        r = requests.post(
            f"{base}/api/v1/statuses",
            data=[*status_fields.items(), ("media_ids[]", media["id"])],
            headers=headers,
            timeout=30,
        )
    assert r.status_code == 200, r.text
    status = r.json()
    assert status["language"] == "nl"
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    assert status["media_attachments"][0]["description"] == "Alt-tekst bij de kaart"

    r = requests.delete(
        f"{base}/api/v1/statuses/{status['id']}", params={"delete_media": "true"}, headers=auth, timeout=30
    )
    assert r.status_code == 200, r.text
    r = requests.get(f"{base}/api/v1/statuses/{status['id']}", headers=auth, timeout=30)
    assert r.status_code == 404
