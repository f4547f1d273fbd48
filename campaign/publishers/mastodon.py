"""Mastodon: media, then a status (platform-apis.md §5).

1. The instance's limits are read once from `GET /api/v2/instance` (`configuration`).
2. `POST /api/v2/media`, multipart `file` + `description` (the alt text). 200 means
   processed; 202 means still processing: `GET /api/v1/media/:id` is polled (206 while
   processing) with a bounded wait.
3. `POST /api/v1/statuses` as a form, as Mastodon.py sends it: `status`,
   `media_ids[]`, `visibility`, `language`, with an `Idempotency-Key` derived from the
   post's identity, so a retry after an unknown outcome returns the same status
   (Mastodon keeps keys for an hour) instead of posting twice.

Statuses come back as HTML; `recent_posts` turns them back into plain text.

The numbers (`fetch_metrics`): `GET /api/v1/statuses/:id` per post, its counts.
"""

from __future__ import annotations

import hashlib
import html
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from campaign.counting import length_urls_as_23
from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, MastodonSettings
from campaign.publishers.base import (
    CredentialReport,
    PostMetrics,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.http import SERVER_ERRORS, ApiClient, ErrorPolicy, Rule, plain_reader
from campaign.publishers.transport import DEFAULT_TIMEOUT, unix_time
from campaign.publishers.x import shorten_alt_text
from campaign.secrets import api_base_url, read_secret

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "MASTODON_TOKEN"  # noqa: S105  (a variable name, not a secret)
#: `{variable}` is TOKEN_VARIABLE (the client's context).
CREDENTIALS_FIX = N_(
    "create a new access token (scopes write:media, write:statuses, read:accounts) under "
    "Preferences → Development on the instance and put it in {variable}"
)
DEFAULT_IMAGE_LIMIT = SPECS["mastodon"].image_byte_limit  # one value, in platforms.py


def idempotency_key(post_key: str) -> str:
    """The same key for every attempt of one post: Mastodon answers a repeat with the first."""
    return "campaign-" + hashlib.sha256(post_key.encode("utf-8")).hexdigest()[:40]


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_PARAGRAPH = re.compile(r"</p>\s*<p[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def status_text(content: str) -> str:
    """A status's HTML `content` as plain text: paragraphs, line breaks, whole links."""
    text = _PARAGRAPH.sub("\n\n", content)
    text = _BREAK.sub("\n", text)
    # Link text is split into invisible and visible spans; dropping the tags keeps all of it.
    return html.unescape(_TAG.sub("", text))


def reset_time(value: str | None) -> datetime | None:
    """`X-RateLimit-Reset`: ISO 8601 as Mastodon sends it, or Unix seconds."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return unix_time(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


#: What each failed answer means (see `http.py`). Mastodon's Idempotency-Key makes a repeat
#: of the creating call return the first status: a server error is never "unknown" here.
POLICY = ErrorPolicy("mastodon", (
    Rule("retryable", N_("rate limited while {what} {said}"),
         N_("it will be retried after the reset"), status=(429,),
         reset=lambda a: reset_time(a.headers.get("X-RateLimit-Reset")), name="rate limited"),
    Rule("rejected", N_("Mastodon refused the token while {what} {said}"), CREDENTIALS_FIX,
         status=(401,), name="token refused"),
    Rule("rejected", N_("the Mastodon token lacks a scope needed for {what} {said}"), N_("create "
         "a new access token with the scopes read:statuses, write:media and write:statuses under "
         "Preferences → Development on the instance and put it in {variable}"), status=(403,),
         when=lambda a: "outside the authorized scopes" in a.message, name="scope"),
    Rule("rejected", N_("Mastodon refused while {what} {said}"), N_("the token lacks a scope or "
         "the account is suspended; create a new access token (scopes write:media, "
         "write:statuses, read:accounts) under Preferences → Development on the instance and put "
         "it in {variable}"), status=(403,), name="forbidden"),
    Rule("retryable", N_("server error while {what} {said}"), status=SERVER_ERRORS,
         name="server error"),
    Rule("rejected", N_("Mastodon refused the request while {what} {said}"), N_("check the card "
         "and the caption against the instance's limits"), name="refused"),
))


class MastodonPublisher(Publisher):
    """Posts statuses with one image to one Mastodon account."""

    platform = "mastodon"

    def __init__(
        self,
        settings: MastodonSettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        poll_interval: float = 1.0,
        poll_timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.session = session
        self.timeout = timeout
        self.base_url = api_base_url("mastodon", settings.instance_url, settings.api_url, env)
        self._token = read_secret("mastodon", TOKEN_VARIABLE, env)
        self.api = ApiClient("mastodon", self.base_url, session, POLICY, plain_reader(("error",)),
                             secrets=lambda: (self._token,), timeout=timeout,
                             context={"variable": TOKEN_VARIABLE})
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self._sleep = sleep
        self._limits: dict[str, int] | None = None
        self._account_id: str | None = None

    # -- the interface -------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        limits = self.limits(story)
        data = request.card_path.read_bytes()
        problems = []
        if len(data) > limits["image_size_limit"]:
            problems.append(
                _("the card is {size} bytes; this instance takes at most {limit}: render it "
                  "smaller").format(size=format_number(len(data)),
                                    limit=format_number(limits["image_size_limit"]))
            )
        if length_urls_as_23(request.caption) > limits["max_characters"]:
            problems.append(
                _("the caption is over this instance's {limit} characters: shorten it or set "
                  "char_limit in [platforms.mastodon]").format(limit=limits["max_characters"])
            )
        if problems:
            raise PostRejected("mastodon", "; ".join(problems), story=story)
        mime = "image/png" if request.card_path.suffix.lower() == ".png" else "image/jpeg"
        alt = shorten_alt_text(request.alt_text, limits["description_limit"])
        media = self._call(
            "POST", "/api/v2/media", what=N_("uploading the card"), story=story,
            data={"description": alt},
            files={"file": (request.card_path.name, data, mime)},
        )
        media_id = str(_json(media).get("id", ""))
        if not media_id:
            raise PostRetryable(
                "mastodon", _("the media upload answered without an id: it will be retried"),
                story=story,
            )
        if media.status_code == 202:
            self._wait_for_media(media_id, story)
        response = self._call(
            "POST", "/api/v1/statuses", what=N_("creating the post"), story=story, creates=True,
            data={
                "status": request.caption,
                "media_ids[]": media_id,
                "visibility": self.settings.visibility,
                "language": request.language,
            },
            headers={"Idempotency-Key": idempotency_key(request.post_key)},
        )
        status = _json(response)
        status_id = str(status.get("id") or "")
        if not status_id:
            raise OutcomeUnknown(
                "mastodon", _("Mastodon answered without a status id: look at the account "
                              "before any retry"), story=story,
            )
        log.info("mastodon: posted %s as %s", request.post_key, status_id)
        url = status.get("url") or status.get("uri")
        return Published(
            "mastodon", status_id, str(url) if url else None,
            _time(status.get("created_at")) or datetime.now(UTC), {"media_id": media_id},
        )

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        account = self._me()
        params = {
            "limit": str(min(max(limit, 1), 40)),  # Mastodon's page holds at most 40
            "exclude_replies": "true",
            "exclude_reblogs": "true",
        }
        posts: list[RecentPost] = []
        reached_since = False
        for _page in range(10):  # a bound, should a server hand out the same page again
            response = self._call(
                "GET", f"/api/v1/accounts/{account}/statuses", what=N_("listing recent posts"),
                params=params,
            )
            try:
                items = response.json()
            except ValueError:
                items = []
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or "id" not in item:
                    continue
                when = _time(item.get("created_at"))
                if since is not None and when is not None and when < since:
                    reached_since = True
                    continue
                posts.append(
                    RecentPost(str(item["id"]), status_text(str(item.get("content", ""))),
                               when, item.get("url"))
                )
            # More than one page is asked for (reconciling asks 50): follow the Link
            # header's next page, by its max_id only, to our own base URL and token.
            older = _next_max_id(response)
            if len(posts) >= limit or reached_since or not items or older in (
                None, params.get("max_id")
            ):
                break
            params = {**params, "max_id": str(older)}
        return posts[:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        try:
            self._call(
                "DELETE", f"/api/v1/statuses/{remote_id}", what=N_("deleting the post"),
                story=story, params={"delete_media": "true"},
            )
        except PostRejected as exc:
            if getattr(exc.__cause__, "status", None) == 404:
                # Statuses are looked up among the account's own: 404 means gone.
                log.info("mastodon: status %s was already gone", remote_id)
                return
            raise

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """`GET /api/v1/statuses/:id` per post: favourites, reblogs, replies, and quotes where
        the instance counts them (Mastodon 4.4 and later). 404 means the post is gone."""
        out: dict[str, PostMetrics] = {}
        for status_id in dict.fromkeys(remote_ids):
            try:
                response = self._call("GET", f"/api/v1/statuses/{status_id}",
                                      what=N_("reading the post's numbers"))
            except PostRejected as exc:
                if getattr(exc.__cause__, "status", None) != 404:
                    raise
                out[status_id] = PostMetrics(
                    status_id, gone=True, detail=_("Mastodon says this post no longer exists"))
                continue
            out[status_id] = read_status_metrics(status_id, _json(response))
        return out

    def check_credentials(self) -> CredentialReport:
        response = self._call(
            "GET", "/api/v1/accounts/verify_credentials", what=N_("checking the token")
        )
        body = _json(response)
        self._account_id = str(body.get("id", "")) or None
        host = self.settings.instance_url.split("://", 1)[-1].rstrip("/")
        # Mastodon's tokens do not expire; verify_credentials does not list the scopes.
        return CredentialReport("mastodon", f"@{body.get('acct', '?')}@{host}", expiry_known=True)

    def limits(self, story: str | None = None) -> dict[str, int]:
        """The instance's limits (`GET /api/v2/instance`), read once per publisher."""
        if self._limits is None:
            response = self._call("GET", "/api/v2/instance", what=N_("reading the limits"),
                                  story=story, auth=False)
            config = _json(response).get("configuration") or {}
            statuses = config.get("statuses") or {}
            media = config.get("media_attachments") or {}
            self._limits = {
                "max_characters": _int(statuses.get("max_characters"), self.settings.char_limit),
                "image_size_limit": _int(media.get("image_size_limit"), DEFAULT_IMAGE_LIMIT),
                "description_limit": _int(
                    media.get("description_limit"), self.settings.alt_text_limit
                ),
            }
        return self._limits

    # -- helpers -------------------------------------------------------------------

    def _me(self) -> str:
        if self._account_id is None:
            self.check_credentials()
        if self._account_id is None:
            raise PostRetryable("mastodon", _("verify_credentials answered without an account "
                                              "id: it will be retried"))
        return self._account_id

    def _wait_for_media(self, media_id: str, story: str) -> None:
        deadline = time.monotonic() + self.poll_timeout
        while True:
            self._sleep(self.poll_interval)
            response = self._call(
                "GET", f"/api/v1/media/{media_id}", what=N_("waiting for the card to be processed"),
                story=story,
            )
            if response.status_code == 200 and _json(response).get("url"):
                return
            if time.monotonic() >= deadline:
                raise PostRetryable(
                    "mastodon", _("the card was still being processed after {seconds} s: "
                                  "nothing was posted; it will be retried").format(
                                      seconds=f"{self.poll_timeout:.0f}"),
                    story=story,
                )

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        story: str | None = None,
        creates: bool = False,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        files: Mapping[str, tuple[str, bytes, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
    ) -> requests.Response:
        sent = dict(headers or {})
        if auth:
            sent["Authorization"] = f"Bearer {self._token}"
        return self.api.request(method, path, what=what, story=story, creates=creates,
                                call=path, params=params, data=data, files=files, headers=sent)


#: Mastodon's status counts -> ours. `quotes_count` is new in Mastodon 4.4.
STATUS_COUNTS = {"favourites_count": "likes", "reblogs_count": "reposts",
                 "replies_count": "replies", "quotes_count": "quotes"}


def read_status_metrics(status_id: str, status: Mapping[str, object]) -> PostMetrics:
    """Our numbers from one status. An instance older than 4.4 has no `quotes_count`: quotes
    are then left out (the server does not count them), never 0."""
    values = {ours: value for theirs, ours in STATUS_COUNTS.items()
              if isinstance(value := status.get(theirs), int) and not isinstance(value, bool)}
    return PostMetrics(status_id, values)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _next_max_id(response: requests.Response) -> str | None:
    """The `max_id` of the `Link` header's `rel="next"` page, if there is one."""
    url = response.links.get("next", {}).get("url")
    if not url:
        return None
    values = parse_qs(urlsplit(url).query).get("max_id")
    return values[0] if values and values[0].isdigit() else None


def _int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


__all__ = ["MastodonPublisher", "idempotency_key", "read_status_metrics", "reset_time",
           "status_text"]
