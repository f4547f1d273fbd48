"""The Mastodon calls the Mastodon publisher makes (platform-apis.md §5), with Mastodon's errors.

`POST /api/v2/media` (multipart `file`, `description`) answers 200 with the attachment,
or 202 while "processing" (the `media_processing` fault; `GET /api/v1/media/:id` then
answers 206 once, then 200). `POST /api/v1/statuses` takes a form or JSON, keeps
`Idempotency-Key`s (a repeat answers the first status), and answers the status with its
text as Mastodon's HTML. `GET /api/v2/instance` gives the limits.

Stricter than PyPI mastodon-mock, on purpose: a form field `media_ids` without `[]` is
refused (real Mastodon's strong parameters drop it, and the status goes out without its
image, which no test would notice); unknown media ids, and media still processing, are
refused as real Mastodon does.
"""

from __future__ import annotations

import html
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs

from campaign.counting import length_urls_as_23
from campaign.sandbox.core import Counter, Fault, PlatformApi, Request, Response, SandboxPost, inspect_image

DOMAIN = "mastodon.example"  # the example campaign.toml's instance
ACCOUNT_ID = "109000000000000001"
USERNAME = "campaign"
MAX_CHARACTERS = 500
DESCRIPTION_LIMIT = 1500
IMAGE_SIZE_LIMIT = 16 * 1024 * 1024
IMAGE_MATRIX_LIMIT = 33_177_600
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/avif"}
VISIBILITIES = {"public", "unlisted", "private", "direct"}
STATUS_PARAMS = {
    "status", "media_ids[]", "media_ids", "visibility", "language", "sensitive",
    "spoiler_text", "in_reply_to_id", "scheduled_at", "quote_id", "quote_approval_policy",
}
_URL = re.compile(r"https?://[^\s<]+[^\s<.,;:!?)\"']")
_HASHTAG = re.compile(r"(?<![\w/])#(\w+)")


def mastodon_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response.json(status, {"error": message}, headers)


def to_html(text: str) -> str:
    """Plain text as Mastodon's formatter renders it: paragraphs, <br />, links, hashtags."""

    def line(chunk: str) -> str:
        out, position = [], 0
        for match in _URL.finditer(chunk):
            out.append(_tags(chunk[position : match.start()]))
            url = match.group()
            scheme, _, rest = url.partition("://")
            prefix = scheme + "://" + ("www." if rest.startswith("www.") else "")
            shown = url[len(prefix) :]
            visible, hidden = shown[:30], shown[30:]
            out.append(
                f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" '
                f'translate="no"><span class="invisible">{html.escape(prefix)}</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(visible)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>'
            )
            position = match.end()
        out.append(_tags(chunk[position:]))
        return "".join(out)

    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join(
        "<p>" + "<br />".join(line(part) for part in p.split("\n")) + "</p>" for p in paragraphs
    )


def _tags(text: str) -> str:
    escaped = html.escape(text, quote=False)
    return _HASHTAG.sub(
        lambda m: f'<a href="https://{DOMAIN}/tags/{m.group(1).lower()}" '
        f'class="mention hashtag" rel="tag">#<span>{m.group(1)}</span></a>',
        escaped,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class MastodonApi(PlatformApi):
    name = "mastodon"
    title = "Mastodon"
    calls: ClassVar[dict[str, str]] = {
        "instance": "GET /api/v2/instance (and /api/v1/instance)",
        "upload": "POST /api/v2/media",
        "media": "GET /api/v1/media/:id",
        "create": "POST /api/v1/statuses",
        "lookup": "GET /api/v1/accounts/:id/statuses",
        "read": "GET /api/v1/statuses/:id",
        "delete": "DELETE /api/v1/statuses/:id",
        "me": "GET /api/v1/accounts/verify_credentials",
    }
    call_aliases: ClassVar[dict[str, str]] = {
        "statuses": "create", "status_post": "create", "media_post": "upload",
        "status_delete": "delete", "account_statuses": "lookup",
        "verify_credentials": "me", "account_verify_credentials": "me",
    }
    fault_kinds: ClassVar[tuple[str, ...]] = (
        "rate_limit", "server_error", "timeout", "drop_response", "slow_response",
        "expired_token", "media_processing",
    )
    token = "sandbox-mastodon-token"  # noqa: S105  (the sandbox's fake credential)

    def setup(self) -> None:
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}  # key -> (status id, time)
        self.ids = Counter(113_000_000_000_000_000)
        self.create_lock = threading.Lock()
        self.route("GET", r"/api/v[12]/instance/?", "instance", self.instance)
        self.route("POST", r"/api/v2/media", "upload", self.upload)
        self.route("GET", r"/api/v1/media/(?P<id>\d+)", "media", self.read_media)
        self.route("POST", r"/api/v1/statuses", "create", self.create)
        self.route("GET", r"/api/v1/accounts/verify_credentials", "me", self.me)
        self.route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses", "lookup", self.lookup)
        self.route("GET", r"/api/v1/statuses/(?P<id>\d+)", "read", self.read)
        self.route("DELETE", r"/api/v1/statuses/(?P<id>\d+)", "delete", self.delete)

    def credentials(self) -> dict[str, str]:
        return {"MASTODON_TOKEN": self.token}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.media.clear()
            self.idempotency.clear()

    # -- auth and faults ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.path.rstrip("/").endswith("/instance"):
            return None  # public
        header = request.headers.get("Authorization") or ""
        if not header:
            return mastodon_error(401, "The access token is invalid")
        if header != f"Bearer {self.token}":
            return mastodon_error(401, "The access token is invalid")
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            reset = datetime.now(UTC) + timedelta(seconds=fault.reset_after)
            return mastodon_error(429, "Too many requests", {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            })
        if fault.kind == "server_error":
            return mastodon_error(503, "Service Unavailable")
        if fault.kind == "expired_token":
            # Mastodon tokens do not expire by default; a revoked one answers this.
            return mastodon_error(401, "The access token is invalid")
        if fault.kind == "media_processing":
            request.fault = fault
            if request.path == "/api/v2/media":
                return self.upload(request)
            return mastodon_error(422, "media_processing applies to the upload call only")
        raise ValueError(fault.kind)

    def not_found(self, request: Request) -> Response:
        return mastodon_error(404, "Record not found")

    # -- instance and account -----------------------------------------------------------

    def instance(self, request: Request) -> Response:
        return Response.json(200, {
            "domain": DOMAIN, "title": "Campaign sandbox", "version": "4.4.0",
            # 4.3 and later report their API version; the number for 4.4 is UNCONFIRMED.
            "api_versions": {"mastodon": 6},
            "source_url": "https://github.com/mastodon/mastodon",
            "configuration": {
                "urls": {"streaming": f"wss://{DOMAIN}"},
                "accounts": {"max_featured_tags": 10},
                "statuses": {"max_characters": MAX_CHARACTERS, "max_media_attachments": 4,
                             "characters_reserved_per_url": 23},
                "media_attachments": {
                    "supported_mime_types": sorted(IMAGE_TYPES),
                    "description_limit": DESCRIPTION_LIMIT,
                    "image_size_limit": IMAGE_SIZE_LIMIT,
                    "image_matrix_limit": IMAGE_MATRIX_LIMIT,
                    "video_size_limit": 103_809_024, "video_frame_rate_limit": 120,
                    "video_matrix_limit": 8_294_400,
                },
            },
        })

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID, "username": USERNAME, "acct": USERNAME,
            "display_name": "Campaign sandbox", "url": f"https://{DOMAIN}/@{USERNAME}",
            "locked": False, "bot": False, "created_at": "2026-01-01T00:00:00.000Z",
        }

    def me(self, request: Request) -> Response:
        return Response.json(200, {**self._account(), "source": {"privacy": "public",
                                                                  "language": "nl"}})

    # -- media --------------------------------------------------------------------------

    def _media_json(self, media_id: str, media: dict[str, Any]) -> dict[str, Any]:
        info = media["info"]
        ready = media["ready"]
        return {
            "id": media_id, "type": "image",
            "url": f"https://{DOMAIN}/system/media_attachments/{media_id}/original.jpg"
            if ready else None,
            "preview_url": f"https://{DOMAIN}/system/media_attachments/{media_id}/small.jpg",
            "remote_url": None,
            "meta": {"original": {"width": info.width, "height": info.height,
                                  "size": f"{info.width}x{info.height}",
                                  "aspect": round(info.width / info.height, 4)}},
            "description": media["description"] or None, "blurhash": "UFF5?-~q-;of~qofWBof",
        }

    def upload(self, request: Request) -> Response:
        upload = request.files.get("file")
        if upload is None:
            return mastodon_error(422, "Validation failed: File can't be blank")
        unknown = sorted(set(request.form) - {"description", "focus", "thumbnail"})
        if unknown:
            return mastodon_error(422, f"Unknown parameter: {unknown[0]} (sandbox check)")
        description = request.form.get("description", "")
        if len(description) > DESCRIPTION_LIMIT:
            return mastodon_error(422, "Validation failed: Description is too long (maximum is "
                                  f"{DESCRIPTION_LIMIT} characters)")
        info = inspect_image(upload.data)
        if info is None or info.mime not in IMAGE_TYPES:
            return mastodon_error(422, "Validation failed: File content type is invalid, File "
                                  "is invalid")
        if len(upload.data) > IMAGE_SIZE_LIMIT:
            return mastodon_error(422, "Validation failed: File file size must be less than "
                                  "16 MB")
        processing = request.fault is not None and request.fault.kind == "media_processing"
        media_id = self.ids.next()
        media = {"data": upload.data, "info": info, "description": description,
                 "ready": not processing, "polls": 0, "attached": False}
        with self.lock:
            self.media[media_id] = media
        return Response.json(202 if processing else 200, self._media_json(media_id, media))

    def read_media(self, request: Request) -> Response:
        with self.lock:
            media = self.media.get(request.group("id"))
            if media is None:
                return mastodon_error(404, "Record not found")
            if not media["ready"]:
                media["polls"] += 1
                if media["polls"] >= 2:
                    media["ready"] = True
                else:
                    return Response.json(206, self._media_json(request.group("id"), media))
        return Response.json(200, self._media_json(request.group("id"), media))

    # -- statuses -----------------------------------------------------------------------

    def _status_params(self, request: Request) -> tuple[dict[str, Any], list[str]] | Response:
        if request.content_type == "application/json":
            body = request.json
            if not isinstance(body, dict):
                return mastodon_error(422, "Validation failed: the body is not a JSON object")
            ids = body.get("media_ids") or []
            if not isinstance(ids, list):
                return mastodon_error(422, "media_ids must be a list")
            return body, [str(i) for i in ids]
        form = parse_qs(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        if request.content_type == "multipart/form-data":
            form = {k: [v] for k, v in request.form.items()}
        if "media_ids" in form:
            return mastodon_error(
                422, "media_ids must be sent as media_ids[] in a form: real Mastodon ignores a "
                "bare media_ids and posts without the image (sandbox check)",
            )
        unknown = sorted(k for k in form if k not in STATUS_PARAMS and not k.startswith("poll["))
        if unknown:
            return mastodon_error(422, f"Unknown parameter: {unknown[0]} (sandbox check)")
        params = {k: v[0] for k, v in form.items()}
        return params, form.get("media_ids[]", [])

    def create(self, request: Request) -> Response:
        parsed = self._status_params(request)
        if isinstance(parsed, Response):
            return parsed
        params, media_ids = parsed
        key = request.headers.get("Idempotency-Key")
        with self.create_lock:
            if key:
                with self.lock:
                    known = self.idempotency.get(key)
                    if known and time.time() - known[1] < 3600 and known[0] in self.posts:
                        return Response.json(200, self._status_json(self.posts[known[0]]))
            text = str(params.get("status") or "")
            visibility = str(params.get("visibility") or "public")
            if visibility not in VISIBILITIES:
                return mastodon_error(422, f"Validation failed: Visibility '{visibility}' is not "
                                      "a valid visibility")
            if not text and not media_ids:
                return mastodon_error(422, "Validation failed: Text can't be blank")
            if length_urls_as_23(text) > MAX_CHARACTERS:
                return mastodon_error(422, "Validation failed: Text character limit of "
                                      f"{MAX_CHARACTERS} exceeded")
            if len(media_ids) > 4:
                return mastodon_error(422, "Validation failed: You can attach at most 4 files")
            with self.lock:
                missing = [m for m in media_ids if m not in self.media or self.media[m]["attached"]]
                if missing:
                    # en.yml media_attachments.validations.not_found; wording UNCONFIRMED
                    return mastodon_error(422, f"Media {', '.join(missing)} not found or already "
                                          "attached to another post")
                if any(not self.media[m]["ready"] for m in media_ids):
                    return mastodon_error(422, "Cannot attach files that have not finished "
                                          "processing. Try again in a moment!")
                status_id = self.ids.next()
                first = self.media[media_ids[0]] if media_ids else None
                for m in media_ids:
                    self.media[m]["attached"] = True
                info = first["info"] if first else None
                language = str(params.get("language") or "")
                self.posts[status_id] = SandboxPost(
                    platform="mastodon", id=status_id, caption=text,
                    alt_text=first["description"] if first else "",
                    image=first["data"] if first else b"", image_type=info.mime if info else "",
                    width=info.width if info else 0, height=info.height if info else 0,
                    account=f"@{USERNAME}@{DOMAIN}",
                    url=f"https://{DOMAIN}/@{USERNAME}/{status_id}",
                    extra={"visibility": visibility, "language": language,
                           "media_ids": ",".join(media_ids)},
                )
                if key:
                    self.idempotency[key] = (status_id, time.time())
                post = self.posts[status_id]
        return Response.json(200, self._status_json(post))

    def _status_json(self, post: SandboxPost, with_source: bool = False) -> dict[str, Any]:
        media = []
        for media_id in filter(None, post.extra.get("media_ids", "").split(",")):
            with self.lock:
                item = self.media.get(media_id)
            if item is not None:
                media.append(self._media_json(media_id, item))
        out: dict[str, Any] = {
            "id": post.id, "created_at": _iso(post.created_at),
            "in_reply_to_id": None, "in_reply_to_account_id": None, "sensitive": False,
            "spoiler_text": "", "visibility": post.extra.get("visibility", "public"),
            "language": post.extra.get("language") or None,
            "uri": f"https://{DOMAIN}/users/{USERNAME}/statuses/{post.id}", "url": post.url,
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
            "content": to_html(post.caption), "reblog": None, "account": self._account(),
            "media_attachments": media, "mentions": [], "tags": [], "emojis": [],
            "card": None, "poll": None,
        }
        if with_source:
            out["text"] = post.caption
        return out

    def lookup(self, request: Request) -> Response:
        if request.group("id") != ACCOUNT_ID:
            return Response.json(200, [])
        limit = max(1, min(int(request.param("limit") or 20), 40))
        posts = list(reversed(self.live_posts()))[:limit]
        return Response.json(200, [self._status_json(p) for p in posts])

    def read(self, request: Request) -> Response:
        with self.lock:
            post = self.posts.get(request.group("id"))
        if post is None:
            return mastodon_error(404, "Record not found")
        return Response.json(200, self._status_json(post))

    def delete(self, request: Request) -> Response:
        post = self.remove(request.group("id"))
        if post is None:
            return mastodon_error(404, "Record not found")
        delete_media = (request.param("delete_media") or "").lower() in ("true", "1")
        if delete_media:
            with self.lock:
                for media_id in filter(None, post.extra.get("media_ids", "").split(",")):
                    self.media.pop(media_id, None)
        post.extra["media_deleted"] = "true" if delete_media else "false"
        return Response.json(200, self._status_json(post, with_source=True))


PLATFORM_API = MastodonApi
