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

The numbers (`fetch_metrics`) come from `app.bsky.feed.getPosts`, 25 uris a call, which a
PDS hands to its AppView (bsky.social's do; a PDS without one refuses it).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import requests
from PIL import Image

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, BlueskySettings
from campaign.publishers.base import (
    CredentialReport,
    PostMetrics,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.http import (
    SERVER_ERRORS,
    Answer,
    ApiClient,
    ApiError,
    ErrorPolicy,
    Rule,
    json_object,
)
from campaign.publishers.transport import DEFAULT_TIMEOUT, unix_time
from campaign.secrets import api_base_url, read_secret, redact

log = logging.getLogger(__name__)

PASSWORD_VARIABLE = "BLUESKY_APP_PASSWORD"  # noqa: S105  (a variable name, not a secret)
POST = "app.bsky.feed.post"
MAX_BLOB_BYTES = SPECS["bluesky"].image_byte_limit  # one value, in platforms.py
#: `{variable}` is PASSWORD_VARIABLE (the client's context).
CREDENTIALS_FIX = N_(
    "make a new app password (Settings → Privacy and security → App passwords) for the "
    "account in [platforms.bluesky] handle and put it in {variable}"
)
# How many listRecords pages recent_posts reads: the campaign's record keys are not in
# time order, so the newest posts are found by reading the collection and sorting.
MAX_LIST_PAGES = 10
MAX_GET_POSTS = 25  # app.bsky.feed.getPosts: "uris" maxLength
#: The counts of app.bsky.feed.defs#postView -> ours. Bluesky counts no views.
POST_COUNTS = {"likeCount": "likes", "repostCount": "reposts", "replyCount": "replies",
               "quoteCount": "quotes"}

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


def _read_error(response: requests.Response, call: str, secrets: Sequence[str]) -> Answer:
    """An XRPC error body: `{"error": "ExpiredToken", "message": ...}`."""
    body = json_object(response)
    return Answer(status=response.status_code, code=str(body.get("error") or "") or None,
                  message=redact(str(body.get("message") or response.reason or "")[:300],
                                 extra=secrets),
                  headers=response.headers, call=call, body_error=bool(body))


def _rate_reset(answer: Answer) -> datetime | None:
    return unix_time(answer.headers.get("RateLimit-Reset") or answer.headers.get("ratelimit-reset"))


_LOGIN = frozenset({"com.atproto.server.createSession"})
_SESSION = frozenset({"ExpiredToken", "InvalidToken", "AuthMissing"})

#: What each failed answer means (see `http.py`). A server error is never "unknown", even
#: for the creating call: its record key is the post's own, and every attempt reads it back
#: (getRecord) before writing, so a retry cannot duplicate.
POLICY = ErrorPolicy("bluesky", (
    Rule("retryable", N_("rate limited while {what} {said}"),
         N_("it will be retried after the reset"), status=(429,), reset=_rate_reset,
         name="rate limited"),
    Rule("retryable", N_("rate limited while {what} {said}"),
         N_("it will be retried after the reset"), codes=frozenset({"RateLimitExceeded"}),
         reset=_rate_reset, name="rate limit by name"),
    Rule("rejected", N_("the login needs an e-mail code {said}"), N_("use an app password, not "
         "the main password: make a new app password (Settings → Privacy and security → App "
         "passwords) for the account in [platforms.bluesky] handle and put it in {variable}"),
         calls=_LOGIN, codes=frozenset({"AuthFactorTokenRequired"}), name="login needs a code"),
    Rule("rejected", N_("the account is suspended or deactivated {said}"), N_("a human must look "
         "at the account"), calls=_LOGIN,
         codes=frozenset({"AccountTakedown", "AccountDeactivated"}), name="account suspended"),
    Rule("rejected", N_("Bluesky refused the login {said}"), CREDENTIALS_FIX, calls=_LOGIN,
         status=(400, 401), name="login refused"),
    Rule("rejected", N_("Bluesky refused the session while {what} {said}"), CREDENTIALS_FIX,
         codes=_SESSION, name="session refused"),
    Rule("rejected", N_("Bluesky refused the session while {what} {said}"), CREDENTIALS_FIX,
         status=(401,), name="unauthorised"),
    Rule("retryable", N_("server error while {what} {said}"), status=SERVER_ERRORS,
         name="server error"),
    Rule("rejected", N_("the Bluesky server does not give the posts' numbers {said}"),
         N_("the numbers come from an AppView, which this server does not have: set "
            "[platforms.bluesky] pds_url to a server that has one (such as https://bsky.social)"),
         when=lambda a: "no service configured" in a.message.lower(), name="no AppView"),
    Rule("rejected", N_("Bluesky refused the request while {what} {said}"), N_("check the card "
         "and the caption (at most 300 graphemes)"), name="refused"),
))


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
        self.api = ApiClient(
            "bluesky", self.base_url, session, POLICY, _read_error, timeout=timeout,
            context={"variable": PASSWORD_VARIABLE},
            secrets=lambda: tuple(t for t in (self._password, self._access, self._refresh) if t))
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
            "POST", "com.atproto.repo.uploadBlob", what=N_("uploading the card"), story=story,
            data=data, content_type=mime,
        )
        blob = upload.get("blob")
        if not isinstance(blob, dict):
            raise PostRetryable(
                "bluesky", _("uploadBlob answered without a blob: it will be retried"),
                story=story,
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
                "POST", "com.atproto.repo.putRecord", what=N_("creating the post"), story=story,
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
                "bluesky", _("putRecord answered without a uri: look at the account before "
                             "any retry"), story=story,
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
                "GET", "com.atproto.repo.listRecords", what=N_("listing recent posts"), params=params
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
            "POST", "com.atproto.repo.deleteRecord", what=N_("deleting the post"), story=story,
            json={"repo": self._repo(story), "collection": POST, "rkey": rkey},
        )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """`app.bsky.feed.getPosts`, 25 uris a call, through the PDS (which hands it to its
        AppView). A post missing from the answer no longer exists."""
        ids = list(dict.fromkeys(remote_ids))
        out: dict[str, PostMetrics] = {}
        for start in range(0, len(ids), MAX_GET_POSTS):
            chunk = ids[start : start + MAX_GET_POSTS]
            body = self._xrpc("GET", "app.bsky.feed.getPosts",
                              what=N_("reading the posts' numbers"), params={"uris": chunk})
            views = {str(v.get("uri")): v for v in body.get("posts") or [] if isinstance(v, dict)}
            for uri in chunk:
                view = views.get(uri)
                out[uri] = (read_post_view(uri, view) if view is not None else PostMetrics(
                    uri, gone=True, detail=_("Bluesky says this post no longer exists")))
        return out

    def check_credentials(self) -> CredentialReport:
        body = self._xrpc("GET", "com.atproto.server.getSession", what=N_("checking the session"))
        handle = str(body.get("handle") or self.handle)
        warnings: tuple[str, ...] = ()
        if handle.lower() != self.settings.handle.lower():
            warnings = (
                _("the app password belongs to @{owner}, not to handle {handle} in "
                  "[platforms.bluesky]").format(owner=handle, handle=self.settings.handle),
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
                _("the card is {size} bytes; Bluesky takes at most {limit}: render it smaller "
                  "(JPEG quality)").format(size=format_number(len(data)),
                                           limit=format_number(MAX_BLOB_BYTES))
            )
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.getexif() or "exif" in image.info or "xmp" in image.info:
                    problems.append(
                        _("the card carries metadata (EXIF/XMP), which must never leave the "
                          "machine: render the card again")
                    )
        except OSError:
            problems.append(_("the card is not an image: render it again"))
        if problems:
            raise PostRejected("bluesky", "; ".join(problems), story=request.story_id)
        return data

    def _get_record(self, rkey: str, story: str | None) -> dict[str, Any] | None:
        try:
            body = self._xrpc(
                "GET", "com.atproto.repo.getRecord", what=N_("looking the post up"), story=story,
                params={"repo": self._repo(story), "collection": POST, "rkey": rkey},
            )
        except PostRejected as exc:
            cause = exc.__cause__
            if isinstance(cause, ApiError) and cause.code == "RecordNotFound":
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
            "POST", "com.atproto.server.createSession", what=N_("logging in"), story=story,
            json={"identifier": self.settings.handle, "password": self._password},
            token=None,
        )
        self._take_session(body)

    def _renew(self, story: str | None) -> None:
        """New tokens: refreshSession, or a new login when the refresh token is spent."""
        if self._refresh is not None:
            try:
                body = self._send(
                    "POST", "com.atproto.server.refreshSession", what=N_("refreshing the session"),
                    story=story, token=self._refresh,
                )
            except PostRejected as exc:
                cause = exc.__cause__
                if not (isinstance(cause, ApiError) and cause.code in (
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
            raise PostRetryable("bluesky", _("the session answer had no tokens: it will be "
                                             "retried"))
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
        params: Mapping[str, str | Sequence[str]] | None = None,
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
            if not isinstance(cause, ApiError):
                raise
            if cause.code == "ExpiredToken":
                self._renew(story)
            elif cause.code in ("InvalidToken", "AuthMissing") or cause.status == 401:
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
        params: Mapping[str, str | Sequence[str]] | None = None,
        json: Any = None,
        data: bytes | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        headers: dict[str, str] = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if content_type is not None:
            headers["Content-Type"] = content_type
        response = self.api.request(method, f"/xrpc/{nsid}", what=what, story=story,
                                    creates=creates, call=nsid, params=params, json=json,
                                    data=data, headers=headers)
        body = json_object(response)
        return body


def read_post_view(uri: str, view: Mapping[str, object]) -> PostMetrics:
    """Our numbers from one `postView` of getPosts."""
    values = {ours: value for theirs, ours in POST_COUNTS.items()
              if isinstance(value := view.get(theirs), int) and not isinstance(value, bool)}
    return PostMetrics(uri, values)


__all__ = ["BlueskyPublisher", "encode_tid", "post_tid", "read_post_view"]
