"""Bluesky: one post with an image, through the AT Protocol's XRPC (platform-apis.md §6).

The session: `createSession` with the app password once per publisher; the tokens are
kept and, when the access token has expired (HTTP 400 `ExpiredToken`), renewed with
`refreshSession` and the call retried once. A login is never made per post:
`createSession` is limited to 30 per 5 minutes. Only when the refresh token is itself
expired or revoked is the app password used again.

The post: the card goes up with `uploadBlob` (raw bytes, at most 2,000,000), then the
record is written with `putRecord` under a record key derived from the post's identity
(`post_tid`). That key makes a retry safe: `getRecord` first tells whether the post
exists already, and `putRecord` is an idempotent upsert, so a repeated or late request
cannot make a second post. (A repeated `createRecord` with the same key answers 500 on
the reference PDS, tests/servers/pds/observed.md: a "5xx is transient" loop would never
end.) The record has `langs`, the caption's link and tag facets (UTF-8 byte offsets, from
`campaign.captions`) and an `app.bsky.embed.images` embed with `alt` and `aspectRatio`.

Reading back uses `com.atproto.repo.listRecords` / `getRecord`, which every PDS serves
itself (no app view needed).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import requests
from PIL import Image

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.platforms import SPECS, BlueskySettings
from campaign.publishers.base import (
    CredentialReport,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.transport import DEFAULT_TIMEOUT, network_error, unix_time
from campaign.secrets import api_base_url, read_secret, redact

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "BLUESKY_APP_PASSWORD"  # noqa: S105  (a variable name, not a secret)
POST = "app.bsky.feed.post"
MAX_BLOB_BYTES = SPECS["bluesky"].image_byte_limit  # one value, in platforms.py
CREDENTIALS_FIX = (
    f"make a new app password (Settings → Privacy and security → App passwords) for the "
    f"account in [platforms.bluesky] handle and put it in {PASSWORD_VARIABLE}"
)
# How many listRecords pages recent_posts reads: the campaign's record keys are not in
# time order, so the newest posts are found by reading the collection and sorting.
MAX_LIST_PAGES = 10

TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"  # base32-sortable
# Deterministic keys put their timestamp in 2023 (in the past, before any campaign):
# a TID is only syntax to the PDS, and a key in the past sorts behind fresh posts.
_TID_WINDOW_START_US = int(datetime(2023, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
_TID_WINDOW_US = 365 * 24 * 3600 * 1_000_000


def encode_tid(micros: int, clock_id: int) -> str:
    """An atproto TID: 53 bits of microseconds, then a 10-bit clock id, in 13 characters."""
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def post_tid(post_key: str) -> str:
    """The record key of one post: the same TID for every attempt of that post."""
    digest = int.from_bytes(hashlib.sha256(f"campaign:{post_key}".encode()).digest()[:16], "big")
    micros = _TID_WINDOW_START_US + digest % _TID_WINDOW_US
    return encode_tid(micros, (digest >> 64) & 0x3FF)


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class XrpcError(Exception):
    """An XRPC error answer as it came (status, `error` name, message)."""

    def __init__(self, status: int, error: str, message: str, headers: Mapping[str, str]) -> None:
        self.status = status
        self.error = error
        self.message = message
        self.headers = dict(headers)
        super().__init__(f"HTTP {status} {error}: {message}")


class BlueskyPublisher(Publisher):
    """Posts to one Bluesky account with its handle and an app password."""

    platform = "bluesky"

    def __init__(
        self,
        settings: BlueskySettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.http = session
        self.timeout = timeout
        self.base_url = api_base_url("bluesky", settings.pds_url, settings.api_url, env)
        self._password = read_secret("bluesky", PASSWORD_VARIABLE, env)
        self._access: str | None = None
        self._refresh: str | None = None
        self.did: str | None = None
        self.handle: str = settings.handle

    # -- the interface -------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        rkey = post_tid(request.post_key)
        existing = self._get_record(rkey, story)
        if existing is not None:
            log.info("bluesky: %s exists already as %s: not posted again", request.post_key, rkey)
            return self._published(existing["uri"], rkey, existing.get("value"))
        data = self._card_bytes(request)
        mime = "image/png" if request.card_path.suffix.lower() == ".png" else "image/jpeg"
        upload = self._xrpc(
            "POST", "com.atproto.repo.uploadBlob", what="uploading the card", story=story,
            data=data, content_type=mime,
        )
        blob = upload.get("blob")
        if not isinstance(blob, dict):
            raise PostRetryable(
                "bluesky", "uploadBlob answered without a blob: it will be retried", story=story
            )
        record: dict[str, Any] = {
            "$type": POST,
            "text": request.caption,
            "createdAt": now_iso(),
            "langs": [request.language],
            "embed": {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "alt": request.alt_text,
                        "image": blob,
                        "aspectRatio": {
                            "width": request.card_width, "height": request.card_height,
                        },
                    }
                ],
            },
        }
        if request.facets:
            record["facets"] = [dict(f) for f in request.facets]
        try:
            answer = self._xrpc(
                "POST", "com.atproto.repo.putRecord", what="creating the post", story=story,
                creates=True,
                json={"repo": self._repo(story), "collection": POST, "rkey": rkey,
                      "record": record},
            )
        except (OutcomeUnknown, PostRetryable) as exc:
            # The key is the post's own: whether the write happened can be read back.
            found = self._lookup_after_failure(rkey, story)
            if found is not None:
                log.info("bluesky: the answer was lost but %s exists: posted", request.post_key)
                return self._published(found["uri"], rkey, found.get("value"))
            raise exc
        uri = str(answer.get("uri") or "")
        if not uri:
            raise OutcomeUnknown(
                "bluesky", "putRecord answered without a uri: look at the account before any "
                "retry", story=story,
            )
        log.info("bluesky: posted %s as %s", request.post_key, uri)
        return self._published(uri, rkey, record)

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        records: list[dict[str, Any]] = []
        cursor: str | None = None
        for _page in range(MAX_LIST_PAGES):
            params = {"repo": self._repo(None), "collection": POST, "limit": "100"}
            if cursor:
                params["cursor"] = cursor
            body = self._xrpc(
                "GET", "com.atproto.repo.listRecords", what="listing recent posts", params=params
            )
            page = [r for r in body.get("records", []) if isinstance(r, dict)]
            records += page
            cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
            if not cursor or not page:
                break
        posts = []
        for item in records:
            value = item.get("value") if isinstance(item.get("value"), dict) else {}
            assert isinstance(value, dict)
            when = parse_time(value.get("createdAt"))
            if since is not None and when is not None and when < since:
                continue
            uri = str(item.get("uri", ""))
            posts.append(RecentPost(uri, str(value.get("text", "")), when, self.post_url(uri)))
        posts.sort(key=lambda p: p.created_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return posts[:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        # deleteRecord is idempotent: "Delete a repository record, or ensure it doesn't exist".
        rkey = remote_id.rsplit("/", 1)[-1]
        self._xrpc(
            "POST", "com.atproto.repo.deleteRecord", what="deleting the post", story=story,
            json={"repo": self._repo(story), "collection": POST, "rkey": rkey},
        )

    def check_credentials(self) -> CredentialReport:
        body = self._xrpc("GET", "com.atproto.server.getSession", what="checking the session")
        handle = str(body.get("handle") or self.handle)
        warnings: tuple[str, ...] = ()
        if handle.lower() != self.settings.handle.lower():
            warnings = (
                f"the app password belongs to @{handle}, not to handle {self.settings.handle} "
                "in [platforms.bluesky]",
            )
        # App passwords do not expire (they are revoked by hand) and carry no scopes.
        return CredentialReport("bluesky", f"@{handle} ({body.get('did', self.did)})",
                                expiry_known=True, warnings=warnings)

    def post_url(self, uri: str) -> str:
        rkey = uri.rsplit("/", 1)[-1]
        return f"https://bsky.app/profile/{self.handle}/post/{rkey}"

    # -- posting helpers -------------------------------------------------------------

    def _published(self, uri: str, rkey: str, record: object) -> Published:
        created = parse_time(record.get("createdAt")) if isinstance(record, dict) else None
        return Published("bluesky", uri, self.post_url(uri), created or datetime.now(UTC),
                         {"rkey": rkey})

    def _card_bytes(self, request: PublishRequest) -> bytes:
        data = request.card_path.read_bytes()
        problems = []
        if len(data) > MAX_BLOB_BYTES:
            problems.append(
                f"the card is {len(data):,} bytes; Bluesky takes at most {MAX_BLOB_BYTES:,}: "
                "render it smaller (JPEG quality)"
            )
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.getexif() or "exif" in image.info or "xmp" in image.info:
                    problems.append(
                        "the card carries metadata (EXIF/XMP), which must never leave the "
                        "machine: render the card again"
                    )
        except OSError:
            problems.append("the card is not an image: render it again")
        if problems:
            raise PostRejected("bluesky", "; ".join(problems), story=request.story_id)
        return data

    def _get_record(self, rkey: str, story: str | None) -> dict[str, Any] | None:
        try:
            body = self._xrpc(
                "GET", "com.atproto.repo.getRecord", what="looking the post up", story=story,
                params={"repo": self._repo(story), "collection": POST, "rkey": rkey},
            )
        except PostRejected as exc:
            cause = exc.__cause__
            if isinstance(cause, XrpcError) and cause.error == "RecordNotFound":
                return None
            raise
        return body if body.get("uri") else None

    def _lookup_after_failure(self, rkey: str, story: str) -> dict[str, Any] | None:
        try:
            return self._get_record(rkey, story)
        except PublishError as exc:
            log.warning("bluesky: could not look up %s after a failed write: %s", rkey, exc)
            return None

    def _repo(self, story: str | None) -> str:
        if self.did is None:
            self._login(story)
        assert self.did is not None
        return self.did

    # -- the session -----------------------------------------------------------------

    def _login(self, story: str | None) -> None:
        body = self._send(
            "POST", "com.atproto.server.createSession", what="logging in", story=story,
            json={"identifier": self.settings.handle, "password": self._password},
            token=None,
        )
        self._take_session(body)

    def _renew(self, story: str | None) -> None:
        """New tokens: refreshSession, or a new login when the refresh token is spent."""
        if self._refresh is not None:
            try:
                body = self._send(
                    "POST", "com.atproto.server.refreshSession", what="refreshing the session",
                    story=story, token=self._refresh,
                )
            except PostRejected as exc:
                cause = exc.__cause__
                if not (isinstance(cause, XrpcError) and cause.error in (
                    "ExpiredToken", "InvalidToken", "AuthMissing", "AuthenticationRequired"
                )):
                    raise
                log.info("bluesky: the refresh token is no longer valid: logging in again")
            else:
                self._take_session(body)
                return
        self._access = self._refresh = None
        self._login(story)

    def _take_session(self, body: dict[str, Any]) -> None:
        access, refresh = body.get("accessJwt"), body.get("refreshJwt")
        if not isinstance(access, str) or not isinstance(refresh, str):
            raise PostRetryable("bluesky", "the session answer had no tokens: it will be retried")
        self._access, self._refresh = access, refresh
        self.did = str(body.get("did") or self.did or "")
        self.handle = str(body.get("handle") or self.handle)

    def _xrpc(
        self,
        method: str,
        nsid: str,
        *,
        what: str,
        story: str | None = None,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """One authenticated call; an expired token is renewed and the call sent once more."""
        if self._access is None:
            self._login(story)
        try:
            return self._send(method, nsid, what=what, story=story, creates=creates,
                              params=params, json=json, data=data, content_type=content_type,
                              token=self._access)
        except PostRejected as exc:
            cause = exc.__cause__
            if not isinstance(cause, XrpcError):
                raise
            if cause.error == "ExpiredToken":
                self._renew(story)
            elif cause.error in ("InvalidToken", "AuthMissing") or cause.status == 401:
                # The tokens are no good (the PDS's secret changed, say): log in again.
                self._access = self._refresh = None
                self._login(story)
            else:
                raise
        return self._send(method, nsid, what=what, story=story, creates=creates, params=params,
                          json=json, data=data, content_type=content_type, token=self._access)

    def _send(
        self,
        method: str,
        nsid: str,
        *,
        what: str,
        story: str | None,
        token: str | None,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        try:
            response = self.http.request(
                method, f"{self.base_url}/xrpc/{nsid}", params=params, json=json, data=data,
                headers=headers, timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise network_error("bluesky", exc, what=what, creates=creates, story=story) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code < 400:
            return body if isinstance(body, dict) else {}
        error = body if isinstance(body, dict) else {}
        cause = XrpcError(
            response.status_code, str(error.get("error") or ""),
            redact(str(error.get("message") or response.reason or "")[:300],
                   extra=[t for t in (self._password, self._access, self._refresh) if t]),
            response.headers,
        )
        raise self._error(cause, what, story, nsid) from cause

    def _error(self, cause: XrpcError, what: str, story: str | None, nsid: str) -> PublishError:
        said = f"({cause.status} {cause.error or 'error'}: {cause.message or 'no detail'})"
        p = "bluesky"
        if cause.status == 429 or cause.error == "RateLimitExceeded":
            reset = unix_time(cause.headers.get("RateLimit-Reset") or cause.headers.get(
                "ratelimit-reset"))
            return PostRetryable(p, f"rate limited while {what} {said}: it will be retried after "
                                 "the reset", story=story, reset_at=reset)
        if nsid == "com.atproto.server.createSession":
            if cause.error == "AuthFactorTokenRequired":
                return PostRejected(p, f"the login needs an e-mail code {said}: use an app "
                                    f"password, not the main password: {CREDENTIALS_FIX}",
                                    story=story)
            if cause.error in ("AccountTakedown", "AccountDeactivated"):
                return PostRejected(p, f"the account is suspended or deactivated {said}: a human "
                                    "must look at the account", story=story)
            if cause.status in (400, 401):
                return PostRejected(p, f"Bluesky refused the login {said}: {CREDENTIALS_FIX}",
                                    story=story)
        if cause.error in ("ExpiredToken", "InvalidToken", "AuthMissing") or cause.status == 401:
            return PostRejected(p, f"Bluesky refused the session while {what} {said}: "
                                f"{CREDENTIALS_FIX}", story=story)
        if cause.status >= 500:
            # Even for the creating call: its record key is the post's own, and every
            # attempt reads it back (getRecord) before writing, so a retry cannot duplicate.
            return PostRetryable(p, f"server error while {what} {said}", story=story)
        return PostRejected(p, f"Bluesky refused the request while {what} {said}: check the card "
                            "and the caption (at most 300 graphemes)", story=story)


__all__ = ["BlueskyPublisher", "XrpcError", "encode_tid", "post_tid"]
