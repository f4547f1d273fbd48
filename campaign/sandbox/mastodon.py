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

A status's counts (favourites, reblogs, replies, quotes) grow with the sandbox clock.
"""

from __future__ import annotations

import html
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode

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


@dataclass(frozen=True)
class Bucket:
    """One of Mastodon's rate limits: `limit` requests per `period` seconds."""

    name: str
    limit: int
    period: int


# Mastodon's limits (platform-apis.md §5.4, masto-docs api/rate-limits.md), as the
# recordings show them: each family has its own counter and its own reset, on period
# boundaries (POST /api/v2/media: 30, reset on the half hour; POST statuses: 300, reset
# on a 3-hour boundary; other calls: 300, reset on 5 minutes).
API = Bucket("api", 300, 5 * 60)
STATUSES = Bucket("statuses", 300, 3 * 3600)  # posting statuses (RateLimiter :statuses)
MEDIA = Bucket("media", 30, 30 * 60)  # POST /api/v1/media and /api/v2/media
DELETES = Bucket("deletes", 30, 30 * 60)  # DELETE /api/v1/statuses/:id


def bucket_for(method: str, path: str) -> Bucket:
    if method == "POST" and re.fullmatch(r"/api/v[12]/media", path):
        return MEDIA
    if method == "POST" and path == "/api/v1/statuses":
        return STATUSES
    if method == "DELETE" and re.fullmatch(r"/api/v1/statuses/\d+", path):
        return DELETES
    return API


class RateLimits:
    """Counters per bucket, reset on each bucket's period boundary, as Rack::Attack does."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._used: dict[str, tuple[int, int]] = {}  # bucket -> (window start, used)

    def take(self, bucket: Bucket) -> tuple[bool, dict[str, str]]:
        """Count one request; whether it is allowed, and the X-RateLimit-* headers."""
        now = time.time()
        window = int(now) - int(now) % bucket.period
        with self._lock:
            start, used = self._used.get(bucket.name, (window, 0))
            if start != window:
                used = 0
            allowed = used < bucket.limit
            if allowed:
                used += 1
            self._used[bucket.name] = (window, used)
        return allowed, rate_headers(bucket, bucket.limit - used, now)

    def reset(self) -> None:
        with self._lock:
            self._used.clear()


def rate_headers(bucket: Bucket, remaining: int, now: float | None = None) -> dict[str, str]:
    now = time.time() if now is None else now
    # Rack::Attack: now + (period - now.to_i % period), so the fraction of now stays.
    reset = datetime.fromtimestamp(now + bucket.period - int(now) % bucket.period, UTC)
    return {
        "X-RateLimit-Limit": str(bucket.limit),
        "X-RateLimit-Remaining": str(max(0, remaining)),
        "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


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


def _small(width: int, height: int) -> dict[str, Any]:
    """The preview's size: Mastodon scales images to about 480x480 pixels' area."""
    scale = min(1.0, (480 * 480 / (width * height)) ** 0.5)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return {"width": w, "height": h, "size": f"{w}x{h}", "aspect": round(w / h, 4)}


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
        "read": "GET /api/v1/statuses/:id (also the post's numbers)",
        "delete": "DELETE /api/v1/statuses/:id",
        "me": "GET /api/v1/accounts/verify_credentials",
    }
    call_aliases: ClassVar[dict[str, str]] = {
        "statuses": "create", "status_post": "create", "media_post": "upload",
        "status_delete": "delete", "account_statuses": "lookup",
        "verify_credentials": "me", "account_verify_credentials": "me",
        "status": "read", "metrics": "read",
    }
    fault_kinds: ClassVar[tuple[str, ...]] = (
        "rate_limit", "server_error", "timeout", "drop_response", "slow_response",
        "expired_token", "media_processing", "missing_scope",
    )
    token = "sandbox-mastodon-token"  # noqa: S105  (the sandbox's fake credential)
    # Reading a status needs read or read:statuses (POST /_sandbox/accounts can take it away).
    default_scopes = ("read", "write:media", "write:statuses")

    def setup(self) -> None:
        self.media: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, float]] = {}  # key -> (status id, time)
        self.ids = Counter(113_000_000_000_000_000)
        self.create_lock = threading.Lock()
        self.rate_limits = RateLimits()
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
            self.rate_limits.reset()

    def handle(self, request: Request) -> Response:
        """Every answer counts against its bucket and carries its X-RateLimit-* headers."""
        bucket = bucket_for(request.method, request.path)
        allowed, headers = self.rate_limits.take(bucket)
        if not allowed:
            return mastodon_error(429, "Too many requests", headers)
        response = super().handle(request)
        for key, value in headers.items():
            response.headers.setdefault(key, value)
        return response

    # -- auth and faults ------------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        if request.path.rstrip("/").endswith("/instance"):
            return None  # public
        if (request.headers.get("Authorization") or "") != f"Bearer {self.token}":
            return mastodon_error(401, "The access token is invalid", {
                # Doorkeeper's header, as recorded (Mastodon.py's cassettes).
                "WWW-Authenticate": 'Bearer realm="Doorkeeper", error="invalid_token", '
                'error_description="The access token is invalid"',
            })
        return None

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            reset = datetime.now(UTC) + timedelta(seconds=fault.reset_after)
            bucket = bucket_for(request.method, request.path)
            return mastodon_error(429, "Too many requests", {
                "X-RateLimit-Limit": str(bucket.limit),
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
            "source_url": "https://github.com/mastodon/mastodon", "description": "",
            "usage": {"users": {"active_month": 1}},
            "thumbnail": {"url": f"https://{DOMAIN}/packs/media/images/preview.png",
                          "description": "The sandbox's preview image"},
            "icon": [], "languages": ["nl", "en"],
            "registrations": {"enabled": False, "approval_required": False,
                              "reason_required": False, "message": None, "min_age": None,
                              "url": None},
            # 4.3 and later report their API version; the number for 4.4 is UNCONFIRMED
            # (a recorded 4.6.4 says 11).
            "api_versions": {"mastodon": 6},
            "contact": {"email": f"admin@{DOMAIN}", "account": None}, "rules": [],
            "configuration": {
                "urls": {"streaming": f"wss://{DOMAIN}", "status": None,
                         "about": f"https://{DOMAIN}/about",
                         "privacy_policy": f"https://{DOMAIN}/privacy-policy",
                         "terms_of_service": None},
                "accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5},
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
                "polls": {"max_options": 4, "max_characters_per_option": 50,
                          "min_expiration": 300, "max_expiration": 2_629_746},
                "translation": {"enabled": False},
            },
        })

    def _account(self) -> dict[str, Any]:
        missing = f"https://{DOMAIN}/avatars/original/missing.png"
        return {
            "id": ACCOUNT_ID, "username": USERNAME, "acct": USERNAME,
            "display_name": "Campaign sandbox", "locked": False, "bot": False,
            "discoverable": True, "indexable": False, "group": False,
            "created_at": "2026-01-01T00:00:00.000Z", "note": "",
            "url": f"https://{DOMAIN}/@{USERNAME}", "uri": f"https://{DOMAIN}/users/{USERNAME}",
            "avatar": missing, "avatar_static": missing,
            "header": f"https://{DOMAIN}/headers/original/missing.png",
            "header_static": f"https://{DOMAIN}/headers/original/missing.png",
            "followers_count": 0, "following_count": 0, "statuses_count": len(self.posts),
            "last_status_at": None, "emojis": [], "fields": [],
        }

    def me(self, request: Request) -> Response:
        return Response.json(200, {
            **self._account(),
            "source": {"privacy": "public", "sensitive": False, "language": "nl", "note": "",
                       "fields": [], "follow_requests_count": 0},
            "role": {"id": "-99", "name": "", "permissions": "65536", "color": "",
                     "highlighted": False},
        })

    # -- media --------------------------------------------------------------------------

    def _media_json(self, media_id: str, media: dict[str, Any]) -> dict[str, Any]:
        info = media["info"]
        ready = media["ready"]
        return {
            "id": media_id, "type": "image",
            "url": f"https://{DOMAIN}/system/media_attachments/{media_id}/original.jpg"
            if ready else None,
            "preview_url": f"https://{DOMAIN}/system/media_attachments/{media_id}/small.jpg",
            "remote_url": None, "preview_remote_url": None, "text_url": None,
            "meta": {"original": {"width": info.width, "height": info.height,
                                  "size": f"{info.width}x{info.height}",
                                  "aspect": round(info.width / info.height, 4)},
                     "small": _small(info.width, info.height)},
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
        n = self.metrics_of(post)  # quotes_count: Mastodon 4.4 and later (this is 4.4.0)
        out: dict[str, Any] = {
            "id": post.id, "created_at": _iso(post.created_at),
            "in_reply_to_id": None, "in_reply_to_account_id": None, "sensitive": False,
            "spoiler_text": "", "visibility": post.extra.get("visibility", "public"),
            "language": post.extra.get("language") or None,
            "uri": f"https://{DOMAIN}/users/{USERNAME}/statuses/{post.id}", "url": post.url,
            "replies_count": n.replies, "reblogs_count": n.reposts,
            "favourites_count": n.likes, "quotes_count": n.quotes, "edited_at": None,
            "favourited": False, "reblogged": False, "muted": False, "bookmarked": False,
            "pinned": False, "content": to_html(post.caption), "filtered": [], "reblog": None,
            "application": {"name": "campaign", "website": None}, "account": self._account(),
            "media_attachments": media, "mentions": [], "tags": [], "emojis": [],
            "card": None, "poll": None,
        }
        if with_source:
            out["text"] = post.caption
        return out

    def lookup(self, request: Request) -> Response:
        """Newest first, `limit` (default 20, at most 40) per page, paged by `Link`.

        `max_id`: older than it; `since_id`: newer than it (the newest such); `min_id`:
        newer than it, the ones right after it. `Link` has `rel="next"` (max_id = the
        page's oldest) when the page is full and `rel="prev"` (min_id = its newest) when
        it is not empty, as Mastodon's `insert_pagination_headers`.
        """
        if request.group("id") != ACCOUNT_ID:
            return Response.json(200, [])
        limit = max(1, min(int(request.param("limit") or 20), 40))
        bounds = {k: request.param(k) for k in ("max_id", "since_id", "min_id")}
        if any(v is not None and not v.isdigit() for v in bounds.values()):
            return Response.json(200, [])
        posts = sorted(self.live_posts(), key=lambda p: int(p.id), reverse=True)
        if bounds["max_id"]:
            posts = [p for p in posts if int(p.id) < int(bounds["max_id"])]
        if bounds["since_id"]:
            posts = [p for p in posts if int(p.id) > int(bounds["since_id"])]
        if bounds["min_id"]:
            posts = [p for p in posts if int(p.id) > int(bounds["min_id"])][-limit:]
        page = posts[:limit]
        headers = {}
        links = []
        kept = {k: v for k, v in request.params().items()
                if k in ("limit", "exclude_replies", "exclude_reblogs", "only_media", "pinned")}
        base = f"{request.public_url}/mastodon{request.path}"
        if page and len(page) == limit:
            links.append(f'<{base}?{urlencode({**kept, "max_id": page[-1].id})}>; rel="next"')
        if page:
            links.append(f'<{base}?{urlencode({**kept, "min_id": page[0].id})}>; rel="prev"')
        if links:
            headers["Link"] = ", ".join(links)
        return Response.json(200, [self._status_json(p) for p in page], headers)

    def read(self, request: Request) -> Response:
        if self.refuses_metrics(request, {"read", "read:statuses"}):
            return mastodon_error(403, "This action is outside the authorized scopes")
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
