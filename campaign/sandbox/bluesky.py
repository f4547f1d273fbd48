"""The Bluesky (AT Protocol) calls the Bluesky publisher makes, answering as the reference PDS.

Status codes, `error` names and `message` texts are copied from what @atproto/pds 0.5.35
answered (tests/servers/pds/observed.md); tests/publishers/test_bluesky_pds.py sends the same
requests to both and compares. Sessions are HS256 JWTs like the PDS's (access 120
minutes, refresh 90 days, a refresh token is spent once used). Records: post keys must
be TIDs; `createRecord` on a taken key answers the PDS's bare 500; `putRecord` is an
upsert (an identical record writes nothing). `listRecords` is in key order, newest key
first, as the PDS serves it.

Stricter than the PDS in one way, on purpose: facet byte offsets are checked (the PDS
does not; a wrong offset makes a link land on the wrong words).

Posts' numbers: `app.bsky.feed.getPosts` (call `metrics`), as a PDS with an AppView answers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from typing import Any, ClassVar

import regex

from campaign.sandbox.core import Fault, PlatformApi, Request, Response, SandboxPost, inspect_image

HANDLE = "kankercentrum.example.org"  # the example campaign.toml's handle
DID = "did:plc:campaignsandboxblueskyaa"
SERVICE_DID = "did:web:sandbox.localhost"
APP_PASSWORD = "sand-boxb-lues-kyap"  # noqa: S105  (the sandbox's fake credential)
POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_TEXT_BYTES = 3000
MAX_BLOB_BYTES = 2_000_000
UPLOAD_LIMIT = 5 * 1024 * 1024  # PDS_BLOB_UPLOAD_LIMIT default
MAX_GET_POSTS = 25  # app.bsky.feed.getPosts: uris maxLength
ACCESS_SECONDS = 120 * 60
REFRESH_SECONDS = 90 * 24 * 3600
_TID = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def xrpc_error(status: int, error: str, message: str, headers: dict[str, str] | None = None
               ) -> Response:
    return Response.json(status, {"error": error, "message": message}, headers)


def invalid(message: str) -> Response:
    return xrpc_error(400, "InvalidRequest", message)


def invalid_record(detail: str) -> Response:
    return invalid(f"Invalid {POST} record: {detail}")


def cid_for(data: bytes, codec: int) -> str:
    """A CIDv1 (sha2-256) in base32, as the PDS names blobs (raw, bafkrei) and records."""
    raw = bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(data).digest()
    bits = "".join(f"{b:08b}" for b in raw)
    bits += "0" * (-len(bits) % 5)
    return "b" + "".join(_B32[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def tid_now() -> str:
    value = (time.time_ns() // 1000 << 10) | secrets.randbelow(1024)
    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    return "".join(alphabet[(value >> (5 * i)) & 31] for i in reversed(range(13)))


class BlueskyApi(PlatformApi):
    name = "bluesky"
    title = "Bluesky"
    calls: ClassVar[dict[str, str]] = {
        "session": "POST /xrpc/com.atproto.server.createSession",
        "refresh": "POST /xrpc/com.atproto.server.refreshSession",
        "me": "GET /xrpc/com.atproto.server.getSession",
        "upload": "POST /xrpc/com.atproto.repo.uploadBlob",
        "create": "POST /xrpc/com.atproto.repo.putRecord or createRecord",
        "read": "GET /xrpc/com.atproto.repo.getRecord",
        "lookup": "GET /xrpc/com.atproto.repo.listRecords",
        "delete": "POST /xrpc/com.atproto.repo.deleteRecord",
        "profile": "GET /xrpc/app.bsky.actor.getProfile (a PDS proxies it to its AppView)",
        "metrics": "GET /xrpc/app.bsky.feed.getPosts (the posts' numbers; AppView, via the PDS)",
    }
    call_aliases: ClassVar[dict[str, str]] = {
        "createSession": "session", "refreshSession": "refresh", "getSession": "me",
        "uploadBlob": "upload", "putRecord": "create", "createRecord": "create",
        "getRecord": "read", "listRecords": "lookup", "deleteRecord": "delete",
        "getProfile": "profile", "get_profile": "profile",
        "send_post": "create", "post": "create",
        "getPosts": "metrics", "get_posts": "metrics",
    }
    # No "duplicate": the platform has no duplicate detection (platform-apis.md §6.4).
    fault_kinds: ClassVar[tuple[str, ...]] = (
        "rate_limit", "server_error", "timeout", "drop_response", "slow_response",
        "expired_token",
    )

    def setup(self) -> None:
        self.secret = secrets.token_bytes(32)
        self.blobs: dict[str, dict[str, Any]] = {}  # cid -> {data, mime, info}
        self.records: dict[str, dict[str, Any]] = {}  # rkey -> {value, cid, created}
        self.spent_refresh: set[str] = set()
        x = r"/xrpc/"
        self.route("POST", x + r"com\.atproto\.server\.createSession", "session", self.create_session)
        self.route("POST", x + r"com\.atproto\.server\.refreshSession", "refresh", self.refresh_session)
        self.route("GET", x + r"com\.atproto\.server\.getSession", "me", self.get_session)
        self.route("POST", x + r"com\.atproto\.repo\.uploadBlob", "upload", self.upload_blob)
        self.route("POST", x + r"com\.atproto\.repo\.createRecord", "create", self.create_record)
        self.route("POST", x + r"com\.atproto\.repo\.putRecord", "create", self.put_record)
        self.route("GET", x + r"com\.atproto\.repo\.getRecord", "read", self.get_record)
        self.route("GET", x + r"com\.atproto\.repo\.listRecords", "lookup", self.list_records)
        self.route("POST", x + r"com\.atproto\.repo\.deleteRecord", "delete", self.delete_record)
        self.route("GET", x + r"app\.bsky\.actor\.getProfile", "profile", self.get_profile)
        self.route("GET", x + r"app\.bsky\.feed\.getPosts", "metrics", self.get_posts)

    def credentials(self) -> dict[str, str]:
        return {"BLUESKY_APP_PASSWORD": APP_PASSWORD}

    def settings_env(self) -> dict[str, str]:
        return {"CAMPAIGN_SANDBOX_BLUESKY_HANDLE": HANDLE}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.blobs.clear()
            self.records.clear()
            self.spent_refresh.clear()

    # -- tokens ------------------------------------------------------------------------

    def make_jwt(self, scope: str, seconds: int, *, iat: int | None = None) -> str:
        now = int(time.time()) if iat is None else iat
        claims: dict[str, Any] = {"scope": scope, "aud": SERVICE_DID, "sub": DID, "iat": now,
                                  "exp": now + seconds}
        header = {"typ": "refresh+jwt" if scope == "com.atproto.refresh" else "at+jwt",
                  "alg": "HS256"}
        if scope == "com.atproto.refresh":
            claims["jti"] = secrets.token_urlsafe(24)
        signing = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                   + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = hmac.new(self.secret, signing.encode(), hashlib.sha256).digest()
        return signing + "." + _b64url(signature)

    def expired_access_token(self) -> str:
        """An access token of this sandbox that expired an hour ago (for tests)."""
        return self.make_jwt("com.atproto.appPass", 3600, iat=int(time.time()) - 7200)

    def _claims(self, token: str) -> dict[str, Any] | None:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        expected = hmac.new(self.secret, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(expected, _unb64url(parts[2])):
                return None
            claims = json.loads(_unb64url(parts[1]))
        except (ValueError, TypeError):
            return None
        return claims if isinstance(claims, dict) else None

    def _session(self, refresh: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "accessJwt": self.make_jwt("com.atproto.appPass", ACCESS_SECONDS),
            "refreshJwt": self.make_jwt("com.atproto.refresh", REFRESH_SECONDS),
            "handle": HANDLE, "did": DID, "email": "campaign@example.org",
            "emailConfirmed": True, "active": True,
        }
        if not refresh:
            del body["accessJwt"], body["refreshJwt"]
        return body

    # -- auth and faults ----------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.path.endswith("createSession"):
            return None
        if request.path.endswith(("getRecord", "listRecords")):
            return None  # public reads: the PDS ignores any token on them (observed)
        header = request.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return xrpc_error(401, "AuthMissing", "Authentication Required")
        if request.path.endswith("uploadBlob") and token.strip().count(".") != 2:
            # Observed on @atproto/pds 0.5.35: uploadBlob with a token that is not a JWT at
            # all answers a bare 500 (createRecord answers 400 InvalidToken).
            return xrpc_error(500, "InternalServerError", "Internal Server Error")
        claims = self._claims(token.strip())
        wanted = "com.atproto.refresh" if request.path.endswith("refreshSession") else None
        if claims is None or (wanted and claims.get("scope") != wanted) or (
            not wanted and claims.get("scope") == "com.atproto.refresh"
        ):
            return xrpc_error(400, "InvalidToken", "Token could not be verified")
        if int(claims.get("exp", 0)) <= time.time():
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        if wanted and claims.get("jti") in self.spent_refresh:
            return xrpc_error(400, "ExpiredToken", "Token has been revoked")
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            reset = int(time.time()) + fault.reset_after
            return xrpc_error(429, "RateLimitExceeded", "Rate Limit Exceeded", {
                "RateLimit-Limit": "30", "RateLimit-Remaining": "0",
                "RateLimit-Reset": str(reset), "RateLimit-Policy": "30;w=300",
                "Retry-After": str(fault.reset_after),
            })
        if fault.kind == "server_error":
            return xrpc_error(500, "InternalServerError", "Internal Server Error")
        if fault.kind == "expired_token":
            if request.path.endswith("createSession"):
                # The app password is the long-lived credential: revoked, it answers this.
                return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            if request.path.endswith("refreshSession"):
                return xrpc_error(400, "ExpiredToken", "Token has been revoked")
            return xrpc_error(400, "ExpiredToken", "Token has expired")
        raise ValueError(fault.kind)

    def not_found(self, request: Request) -> Response:
        return xrpc_error(501, "MethodNotImplemented", "Method Not Implemented")

    # -- server ---------------------------------------------------------------------------

    def create_session(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else None
        if body is None:
            return invalid("Input must be an object")
        for key in ("identifier", "password"):
            if not isinstance(body.get(key), str):
                return invalid(f'Input must have the property "{key}"')
        identifier = body["identifier"].lower().lstrip("@")
        if identifier not in (HANDLE, DID) or body["password"] != APP_PASSWORD:
            return xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
        return Response.json(200, self._session())

    def refresh_session(self, request: Request) -> Response:
        token = (request.headers.get("Authorization") or "").partition(" ")[2].strip()
        claims = self._claims(token) or {}
        with self.lock:
            self.spent_refresh.add(str(claims.get("jti")))
        return Response.json(200, self._session())

    def get_session(self, request: Request) -> Response:
        return Response.json(200, self._session(refresh=False))

    def get_profile(self, request: Request) -> Response:
        """`app.bsky.actor.defs#profileViewDetailed` of the sandbox's account.

        A PDS with an AppView (bsky.social's do) proxies this to the AppView and merges in
        the caller's own profile record (recordings: atproto packages/pds getProfile.ts);
        the atproto SDK's `Client.login()` calls it. Other actors are not known here.
        """
        actor = request.param("actor")
        if not actor:
            return invalid('Params must have the property "actor"')
        if actor.lower().lstrip("@") not in (HANDLE, DID):
            return invalid("Profile not found")
        with self.lock:
            count = len(self.records)
        return Response.json(200, {
            "did": DID, "handle": HANDLE, "displayName": "Campaign sandbox",
            "description": "", "followersCount": 0, "followsCount": 0, "postsCount": count,
            "associated": {"lists": 0, "feedgens": 0, "starterPacks": 0, "labeler": False},
            "indexedAt": "2026-01-01T00:00:00.000Z", "createdAt": "2026-01-01T00:00:00.000Z",
            "viewer": {"muted": False, "blockedBy": False}, "labels": [],
        })

    def get_posts(self, request: Request) -> Response:
        """`app.bsky.feed.getPosts?uris=...&uris=...`: a `postView` per post that exists, with
        its counts (lexicon app.bsky.feed.defs#postView); a deleted or unknown post is left
        out, as the AppView does. At most 25 uris (the lexicon's maxLength)."""
        uris = request.query.get("uris", [])
        if not uris:
            return invalid('Params must have the property "uris"')
        if len(uris) > MAX_GET_POSTS:
            return invalid(f"Error: uris must not have more than {MAX_GET_POSTS} elements")
        views = []
        for uri in uris:
            with self.lock:
                post = self.posts.get(uri)
                record = self.records.get(post.extra["rkey"]) if post is not None else None
            if post is None or record is None:
                continue
            n = self.metrics_of(post)
            views.append({
                "uri": uri, "cid": record["cid"],
                "author": {"did": DID, "handle": HANDLE, "displayName": "Campaign sandbox",
                           "labels": [], "createdAt": "2026-01-01T00:00:00.000Z"},
                "record": record["value"],
                "replyCount": n.replies, "repostCount": n.reposts, "likeCount": n.likes,
                "quoteCount": n.quotes, "bookmarkCount": n.saves,
                "indexedAt": post.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                "viewer": {"threadMuted": False, "embeddingDisabled": False}, "labels": [],
            })
        return Response.json(200, {"posts": views})

    # -- blobs and records --------------------------------------------------------------------

    def upload_blob(self, request: Request) -> Response:
        data = request.body
        if len(data) > UPLOAD_LIMIT:
            # The PDS's own cap; its wording is UNCONFIRMED.
            return xrpc_error(400, "BlobTooLarge", "This file is too large")
        info = inspect_image(data)
        mime = request.content_type or (info.mime if info else "application/octet-stream")
        cid = cid_for(data, 0x55)
        with self.lock:
            self.blobs[cid] = {"data": data, "mime": mime, "info": info}
        return Response.json(200, {"blob": {"$type": "blob", "ref": {"$link": cid},
                                            "mimeType": mime, "size": len(data)}})

    def _write_input(self, request: Request) -> dict[str, Any] | Response:
        body = request.json if isinstance(request.json, dict) else None
        if body is None:
            return invalid("Input must be an object")
        for key in ("repo", "collection", "record"):
            if key not in body:
                return invalid(f'Input must have the property "{key}"')
        if body["repo"] not in (DID, HANDLE):
            return invalid(f"Could not find repo: {body['repo']}")  # wording UNCONFIRMED
        if body["collection"] != POST:
            return invalid(f"the sandbox stores {POST} records only")
        return body

    def _check_post(self, record: Any) -> Response | None:
        """The lexicon checks, in the PDS's words (observed.md), plus the facet offsets."""
        if not isinstance(record, dict):
            return invalid_record("Record must be an object")
        text = record.get("text", "")
        if not isinstance(text, str):
            return invalid_record('Record/text must be a string')
        if "createdAt" not in record:
            return invalid_record('Missing required key "createdAt" at $.record')
        graphemes = len(regex.findall(r"\X", text))
        if graphemes > MAX_GRAPHEMES:
            return invalid_record(
                f"grapheme too big (maximum {MAX_GRAPHEMES}, got {graphemes}) at $.record.text"
            )
        size = len(text.encode("utf-8"))
        if size > MAX_TEXT_BYTES:
            return invalid_record(
                f"string too big (maximum {MAX_TEXT_BYTES}, got {size}) at $.record.text"
            )
        embed = record.get("embed")
        if isinstance(embed, dict) and embed.get("$type") == "app.bsky.embed.images":
            images = embed.get("images")
            if not isinstance(images, list):
                return invalid_record('Missing required key "images" at $.record.embed')
            if len(images) > 4:
                return invalid_record(
                    f"array too big (maximum 4, got {len(images)}) at $.record.embed.images"
                )
            for i, image in enumerate(images):
                where = f"$.record.embed.images[{i}]"
                if not isinstance(image, dict) or "image" not in image:
                    return invalid_record(f'Missing required key "image" at {where}')
                if "alt" not in image:
                    return invalid_record(f'Missing required key "alt" at {where}')
                blob = image["image"]
                blob_size = blob.get("size") if isinstance(blob, dict) else None
                if isinstance(blob_size, int) and blob_size > MAX_BLOB_BYTES:
                    return invalid_record(
                        f"blob too big (maximum {MAX_BLOB_BYTES}, got {blob_size}) at {where}.image"
                    )
        return self._check_facets(text, record.get("facets"))

    @staticmethod
    def _check_facets(text: str, facets: Any) -> Response | None:
        raw = text.encode("utf-8")
        for i, facet in enumerate(facets or []):
            index = facet.get("index") if isinstance(facet, dict) else None
            start = index.get("byteStart") if isinstance(index, dict) else None
            end = index.get("byteEnd") if isinstance(index, dict) else None
            where = f"$.record.facets[{i}]"
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
                return invalid_record(f"facet byte range outside the text at {where} "
                                      "(sandbox check: the PDS does not check offsets)")
            try:
                covered = raw[start:end].decode("utf-8")
            except UnicodeDecodeError:
                return invalid_record(f"facet byte range splits a character at {where} "
                                      "(sandbox check)")
            for feature in facet.get("features") or []:
                kind = feature.get("$type") if isinstance(feature, dict) else None
                wanted = (feature.get("uri") if kind == "app.bsky.richtext.facet#link"
                          else "#" + str(feature.get("tag")) if kind == "app.bsky.richtext.facet#tag"
                          else None)
                if wanted is not None and covered != wanted:
                    return invalid_record(
                        f"facet covers {covered!r}, not {wanted!r} at {where} (sandbox check: "
                        "offsets must be UTF-8 bytes)"
                    )
        return None

    def _store(self, rkey: str, record: dict[str, Any], request: Request) -> tuple[str, bool]:
        """Write the record (and its post); the record's cid and whether anything changed."""
        encoded = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        cid = cid_for(encoded, 0x71)
        uri = f"at://{DID}/{POST}/{rkey}"
        current = self.records.get(rkey)
        if current is not None and current["cid"] == cid:
            return cid, False
        self.records[rkey] = {"value": record, "cid": cid}
        image_data, info, alt = b"", None, ""
        embed = record.get("embed")
        if isinstance(embed, dict) and isinstance(embed.get("images"), list) and embed["images"]:
            first = embed["images"][0]
            alt = str(first.get("alt", ""))
            link = ((first.get("image") or {}).get("ref") or {}).get("$link")
            blob = self.blobs.get(str(link))
            if blob is not None:
                image_data, info = blob["data"], blob["info"]
        self.posts.pop(uri, None)
        self.posts[uri] = SandboxPost(
            platform="bluesky", id=uri, caption=str(record.get("text", "")), alt_text=alt,
            image=image_data, image_type=info.mime if info else "",
            width=info.width if info else 0, height=info.height if info else 0,
            account=f"@{HANDLE}", url=f"https://bsky.app/profile/{HANDLE}/post/{rkey}",
            extra={"rkey": rkey, "langs": ",".join(record.get("langs") or [])},
        )
        return cid, True

    def _blob_missing(self, record: dict[str, Any]) -> Response | None:
        embed = record.get("embed")
        for image in embed.get("images", []) if isinstance(embed, dict) else []:
            link = ((image.get("image") or {}).get("ref") or {}).get("$link")
            if str(link) not in self.blobs:
                return invalid(f"Could not find blob: {link}")  # wording UNCONFIRMED
        return None

    def _write(self, request: Request, put: bool) -> Response:
        body = self._write_input(request)
        if isinstance(body, Response):
            return body
        rkey = body.get("rkey")
        if put and not isinstance(rkey, str):
            return invalid('Input must have the property "rkey"')
        if rkey is not None and (not isinstance(rkey, str) or not _TID.match(rkey)):
            return invalid(f'Invalid record key for {POST}: Invalid TID string (got "{rkey}") at $')
        record = body["record"]
        problem = self._check_post(record)
        if problem is not None:
            return problem
        with self.lock:
            missing = self._blob_missing(record)
            if missing is not None:
                return missing
            key = rkey or tid_now()
            if not put and key in self.records:
                # The PDS answers a taken key with a bare 500 (observed.md).
                return xrpc_error(500, "InternalServerError", "Internal Server Error")
            cid, changed = self._store(key, record, request)
        answer: dict[str, Any] = {"uri": f"at://{DID}/{POST}/{key}", "cid": cid}
        if changed:
            answer["commit"] = {"cid": cid_for(cid.encode(), 0x71), "rev": tid_now()}
        answer["validationStatus"] = "valid"
        return Response.json(200, answer)

    def create_record(self, request: Request) -> Response:
        return self._write(request, put=False)

    def put_record(self, request: Request) -> Response:
        return self._write(request, put=True)

    def get_record(self, request: Request) -> Response:
        repo, collection, rkey = (request.param(k) for k in ("repo", "collection", "rkey"))
        if not repo or not collection or not rkey:
            return invalid('Params must have the property "repo", "collection" and "rkey"')
        uri = f"at://{repo}/{collection}/{rkey}"
        with self.lock:
            found = self.records.get(rkey) if repo in (DID, HANDLE) and collection == POST else None
        if found is None:
            return xrpc_error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Response.json(200, {"uri": f"at://{DID}/{POST}/{rkey}", "cid": found["cid"],
                                   "value": found["value"]})

    def list_records(self, request: Request) -> Response:
        repo, collection = request.param("repo"), request.param("collection")
        if not repo or not collection:
            return invalid('Params must have the property "repo" and "collection"')
        limit = int(request.param("limit") or 50)
        if not 1 <= limit <= 100:
            return invalid("limit must be between 1 and 100")  # wording UNCONFIRMED
        cursor = request.param("cursor")
        reverse = (request.param("reverse") or "").lower() == "true"
        with self.lock:
            keys = sorted(self.records, reverse=not reverse) if repo in (DID, HANDLE) and (
                collection == POST) else []
            if cursor:
                keys = [k for k in keys if (k > cursor if reverse else k < cursor)]
            page = keys[:limit]
            records = [{"uri": f"at://{DID}/{POST}/{k}", "cid": self.records[k]["cid"],
                        "value": self.records[k]["value"]} for k in page]
        body: dict[str, Any] = {"records": records}
        if len(page) == limit:
            body["cursor"] = page[-1]
        return Response.json(200, body)

    def delete_record(self, request: Request) -> Response:
        body = request.json if isinstance(request.json, dict) else None
        if body is None or not all(k in body for k in ("repo", "collection", "rkey")):
            return invalid('Input must have the property "repo", "collection" and "rkey"')
        rkey = str(body["rkey"])
        with self.lock:
            record = self.records.pop(rkey, None) if body["repo"] in (DID, HANDLE) else None
            if record is None:
                return Response.json(200, {})
            self.remove(f"at://{DID}/{POST}/{rkey}")
        return Response.json(200, {"commit": {"cid": cid_for(rkey.encode(), 0x71),
                                              "rev": tid_now()}})


PLATFORM_API = BlueskyApi
