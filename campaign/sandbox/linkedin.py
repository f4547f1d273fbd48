"""The LinkedIn calls the LinkedIn publisher makes (platform-apis.md §4), with LinkedIn's errors.

Images API: `POST /rest/images?action=initializeUpload` answers an upload URL on this
sandbox (`/dms-uploads/...`) and an image URN; `PUT` the bytes there. Posts API:
`POST /rest/posts` answers 201 with an empty body and the post's URN in `x-restli-id`;
`GET /rest/posts?q=author&author=...` lists, `GET`/`DELETE /rest/posts/{urn}`.

Every `/rest` call must carry `Authorization: Bearer`, a `LinkedIn-Version` that is
active, and `X-Restli-Protocol-Version: 2.0.0`. The commentary must be in the "little
text" format: a reserved character that is not escaped is refused here (LinkedIn is
said to mangle or fail such posts; the sandbox takes the strict reading, UNCONFIRMED).

Posts' numbers: `GET /rest/organizationalEntityShareStatistics` (call `metrics`).
"""

from __future__ import annotations

import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import unquote

from campaign.sandbox.core import Counter, Fault, PlatformApi, Request, Response, SandboxPost, inspect_image

ORGANIZATION_ID = "1000001"  # the example campaign.toml's organization_id
ORGANIZATION = f"urn:li:organization:{ORGANIZATION_ID}"
ORGANIZATION_NAME = "Campaign sandbox organisation"
MAX_COMMENTARY = 3000  # UNCONFIRMED in the API docs (platform-apis.md §4.3)
MAX_ALT_TEXT = 4086
MAX_PIXELS = 36_152_320
GHOST_SECONDS = 48 * 3600  # "24-48 h" (ComposioHQ/composio#2710); the longer reading
IMAGE_FORMATS = {"JPEG", "PNG", "GIF"}
POST_FIELDS = {
    "author", "commentary", "visibility", "distribution", "content", "lifecycleState",
    "isReshareDisabledByAuthor", "contentLandingPage", "contentCallToActionLabel",
    "reshareContext", "container", "adContext",
}
REQUIRED_POST_FIELDS = ("author", "commentary", "visibility", "distribution", "lifecycleState")
_RESERVED = "|{}@[]()<>#\\*_~"
STATISTICS_SCOPE = "rw_organization_admin"  # the organisation's page statistics (ADMINISTRATOR)
_TEMPLATE = re.compile(r"\{hashtag\|\\#\|((?:[^{}|\\]|\\.)*)\}")


def li_error(status: int, message: str, **extra: Any) -> Response:
    return Response.json(status, {"message": message, "status": status, **extra})


def unescaped_reserved(commentary: str) -> str | None:
    """The first reserved character that is neither escaped nor part of a hashtag template."""
    text = _TEMPLATE.sub("", commentary)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch in _RESERVED:
            return ch
        i += 1
    return None


def readable(commentary: str) -> str:
    """The commentary as a reader sees it: hashtag templates as `#tag`, escapes removed."""
    text = _TEMPLATE.sub(lambda m: "#" + m.group(1), commentary)
    return re.sub(r"\\(.)", r"\1", text, flags=re.DOTALL)


def active_version(version: str, today: datetime | None = None) -> bool:
    """Versions are YYYYMM, live from their month for about a year (platform-apis.md §4)."""
    if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])", version):
        return False
    today = today or datetime.now(UTC)
    year, month = int(version[:4]), int(version[4:])
    current = today.year * 12 + today.month
    released = year * 12 + month
    return released <= current < released + 12


class LinkedInApi(PlatformApi):
    name = "linkedin"
    title = "LinkedIn"
    calls: ClassVar[dict[str, str]] = {
        "upload": "POST /rest/images?action=initializeUpload",
        "put": "PUT <uploadUrl> (the image bytes)",
        "create": "POST /rest/posts",
        "lookup": "GET /rest/posts?q=author",
        "read": "GET /rest/posts/{urn}",
        "delete": "DELETE /rest/posts/{urn}",
        "me": "GET /rest/organizations/{id}",
        "introspect": "POST /oauth/v2/introspectToken (www.linkedin.com)",
        "metrics": "GET /rest/organizationalEntityShareStatistics?q=organizationalEntity "
        "(the posts' numbers)",
    }
    call_aliases: ClassVar[dict[str, str]] = {
        "posts": "create", "initializeUpload": "upload", "images": "upload",
        "upload_image": "put", "organizations": "me",
        "organizationalEntityShareStatistics": "metrics", "statistics": "metrics",
    }
    token = "sandbox-linkedin-token"  # noqa: S105  (the sandbox's fake credential)
    # The app's client id and secret, for token introspection (`campaign doctor` only).
    client_id = "sandbox-linkedin-client-id"
    client_secret = "sandbox-linkedin-client-secret"  # noqa: S105
    default_scopes = ("r_organization_social", "w_organization_social", STATISTICS_SCOPE)
    fault_kinds: ClassVar[tuple[str, ...]] = (*PlatformApi.fault_kinds, "missing_scope")

    def setup(self) -> None:
        self.images: dict[str, dict[str, Any]] = {}  # image urn -> {owner, data, info}
        self.uploads: dict[str, str] = {}  # upload token -> image urn
        self.numbers = Counter(7_300_000_000_000_000_000)
        self.route("POST", r"/rest/images", "upload", self.initialize_upload)
        self.route("PUT", r"/dms-uploads/(?P<token>[\w-]+)", "put", self.put_image)
        self.route("GET", r"/rest/images/(?P<urn>[^/]+)", "read", self.read_image)
        self.route("POST", r"/rest/posts", "create", self.create)
        self.route("GET", r"/rest/posts", "lookup", self.lookup)
        self.route("GET", r"/rest/posts/(?P<urn>[^/]+)", "read", self.read)
        self.route("DELETE", r"/rest/posts/(?P<urn>[^/]+)", "delete", self.delete)
        self.route("GET", r"/rest/organizationalEntityShareStatistics", "metrics", self.statistics)
        self.route("GET", r"/rest/organizations/(?P<id>\d+)", "me", self.organization)
        self.route("POST", r"/oauth/v2/introspectToken", "introspect", self.introspect)

    def credentials(self) -> dict[str, str]:
        return {"LINKEDIN_TOKEN": self.token, "LINKEDIN_CLIENT_ID": self.client_id,
                "LINKEDIN_CLIENT_SECRET": self.client_secret}

    def settings_env(self) -> dict[str, str]:
        return {"CAMPAIGN_SANDBOX_LINKEDIN_ORGANIZATION_ID": ORGANIZATION_ID}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.images.clear()
            self.uploads.clear()

    # -- auth, headers, faults --------------------------------------------------------

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization") or ""
        if request.path == "/oauth/v2/introspectToken":
            return None  # the app authenticates with client_id and client_secret in the form
        if request.path.startswith("/dms-uploads/"):
            # The upload URL is signed; a bearer header is accepted, a wrong one is not.
            if header and header != f"Bearer {self.token}":
                return self._invalid_token()
            return None
        if header != f"Bearer {self.token}":
            return self._invalid_token()
        version = (request.headers.get("LinkedIn-Version") or "").strip()
        if not version:
            return li_error(
                400, "A version must be present. Please specify a version by adding the "
                "LinkedIn-Version header.", code="VERSION_MISSING",
            )
        if not active_version(version) or version in self.account_state.sunset_versions:
            return li_error(426, f"Requested version {version} is not active",
                            code="NONEXISTENT_VERSION")
        if (request.headers.get("X-Restli-Protocol-Version") or "") != "2.0.0":
            # UNCONFIRMED wording; the header is required by every API (platform-apis.md §4).
            return li_error(400, "X-Restli-Protocol-Version 2.0.0 is required")
        return None

    @staticmethod
    def _invalid_token() -> Response:
        return li_error(401, "Invalid access token", serviceErrorCode=65600)

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "rate_limit":
            # LinkedIn's daily limits reset at midnight UTC and the 429 names no time.
            return li_error(
                429, "Resource level throttle APPLICATION DAY limit for calls to this resource "
                "is reached.", serviceErrorCode=101,
            )
        if fault.kind == "server_error":
            return li_error(500, "Internal Server Error")
        if fault.kind == "expired_token":
            # serviceErrorCode and code as commonly reported; UNCONFIRMED in LinkedIn's docs.
            return li_error(401, "The token used in the request has expired",
                            serviceErrorCode=65602, code="EXPIRED_ACCESS_TOKEN")
        if fault.kind == "duplicate":
            return self.duplicate("urn:li:share:7300000000000000001")
        raise ValueError(fault.kind)

    @staticmethod
    def duplicate(urn: str) -> Response:
        """LinkedIn's 422 for a repeated post, as recorded (Arisamiga/Linkedin-RSS#5)."""
        return Response.json(422, {
            "errorDetailType": "com.linkedin.common.error.BadRequest",
            "message": "com.linkedin.content.common.exception.BadRequestResponseException: "
            f"Content is a duplicate of {urn}",
            "errorDetails": {"inputErrors": [{
                "description": "Duplicate post is detected",
                "input": {},
                "code": "DUPLICATE_POST",
            }]},
            "status": 422,
        })

    def ghost(self, text: str) -> SandboxPost | None:
        """A post with this text deleted less than `GHOST_SECONDS` ago.

        LinkedIn keeps a deleted post's URN for a day or two: reading it answers 404, yet
        posting the same text again is refused as a duplicate of it
        (ComposioHQ/composio#2710).
        """
        now = datetime.now(UTC)
        for post in self.deleted.values():
            if post.caption == text and post.deleted_at is not None and (
                (now - post.deleted_at).total_seconds() < GHOST_SECONDS
            ):
                return post
        return None

    def not_found(self, request: Request) -> Response:
        return li_error(404, f"No virtual resource found for {request.path}")

    # -- Images API ----------------------------------------------------------------------

    def initialize_upload(self, request: Request) -> Response:
        if request.param("action") != "initializeUpload":
            return li_error(400, "Unsupported action: use ?action=initializeUpload")
        body = request.json if isinstance(request.json, dict) else {}
        init = body.get("initializeUploadRequest")
        owner = init.get("owner") if isinstance(init, dict) else None
        if not isinstance(owner, str):
            return li_error(400, "ERROR :: /initializeUploadRequest/owner :: field is required "
                            "but not found and has no default value")
        if owner != ORGANIZATION:
            return li_error(403, f"Not enough permissions to access: images for owner {owner}")
        token = secrets.token_urlsafe(18)
        urn = f"urn:li:image:D4D10AQ{secrets.token_urlsafe(12)}"
        with self.lock:
            self.images[urn] = {"owner": owner, "data": None, "info": None}
            self.uploads[token] = urn
        return Response.json(200, {"value": {
            "uploadUrlExpiresAt": int(time.time() * 1000) + 24 * 3600 * 1000,
            "uploadUrl": f"{request.public_url}/linkedin/dms-uploads/{token}",
            "image": urn,
        }})

    def put_image(self, request: Request) -> Response:
        with self.lock:
            urn = self.uploads.get(request.group("token"))
        if urn is None:
            return li_error(404, "Upload URL is unknown or expired")
        info = inspect_image(request.body)
        if info is None or info.format not in IMAGE_FORMATS:
            return li_error(400, "The uploaded file is not a JPG, GIF or PNG image")
        if info.width * info.height >= MAX_PIXELS:
            return li_error(400, "The image must have less than 36,152,320 pixels")
        with self.lock:
            self.images[urn].update(data=request.body, info=info)
        return Response(201)

    def read_image(self, request: Request) -> Response:
        urn = unquote(request.group("urn"))
        with self.lock:
            image = self.images.get(urn)
        if image is None:
            return li_error(404, f"Image {urn} not found")
        status = "AVAILABLE" if image["data"] is not None else "WAITING_UPLOAD"
        return Response.json(200, {"id": urn, "owner": image["owner"], "status": status})

    # -- Posts API -----------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        if "w_organization_social" not in self.scopes():  # POST /_sandbox/accounts
            return li_error(403, "Not enough permissions to access: partnerApiPostsExternal.CREATE.20260501",
                            code="ACCESS_DENIED")
        body = request.json
        if not isinstance(body, dict):
            return li_error(400, "The request body must be a JSON object")
        for name in REQUIRED_POST_FIELDS:
            if name not in body:
                return li_error(422, f"ERROR :: /{name} :: field is required but not found and "
                                "has no default value")
        unknown = sorted(set(body) - POST_FIELDS)
        if unknown:
            return li_error(422, f"ERROR :: /{unknown[0]} :: unrecognized field found but not "
                            "allowed")
        if body["author"] != ORGANIZATION:
            return li_error(403, "Not enough permissions to access: partnerApiPostsExternal."
                            f"CREATE for author {body['author']}", serviceErrorCode=100,
                            code="ACCESS_DENIED")
        if body["lifecycleState"] != "PUBLISHED":
            return li_error(422, "ERROR :: /lifecycleState :: only PUBLISHED is allowed at "
                            "creation")
        commentary = str(body["commentary"])
        bad = unescaped_reserved(commentary)
        if bad is not None:
            return li_error(422, f"ERROR :: /commentary :: reserved character {bad!r} is not "
                            "escaped (little text format; sandbox check)")
        text = readable(commentary)
        if len(text) > MAX_COMMENTARY:
            return li_error(400, f"ERROR :: /commentary :: length {len(text)} exceeds "
                            f"{MAX_COMMENTARY}", code="COMMENTARY_LENGTH_TOO_LONG")
        media = (body.get("content") or {}).get("media") if isinstance(body.get("content"), dict) else None
        image: dict[str, Any] | None = None
        alt = ""
        if media is not None:
            if not isinstance(media, dict) or not isinstance(media.get("id"), str):
                return li_error(422, "ERROR :: /content/media/id :: field is required")
            alt = str(media.get("altText") or "")
            if len(alt) > MAX_ALT_TEXT:
                return li_error(422, f"ERROR :: /content/media/altText :: length {len(alt)} "
                                f"exceeds {MAX_ALT_TEXT}")
            with self.lock:
                image = self.images.get(media["id"])
            if image is None or image["data"] is None:
                return li_error(422, f"ERROR :: /content/media/id :: {media['id']} is not an "
                                "uploaded image")
        with self.lock:
            for post in self.posts.values():
                if post.caption == text:
                    return self.duplicate(post.id)
            ghost = self.ghost(text)
            if ghost is not None:
                return self.duplicate(ghost.id)
            urn = f"urn:li:share:{self.numbers.next()}"
            info = image["info"] if image else None
            self.posts[urn] = SandboxPost(
                platform="linkedin", id=urn, caption=text, alt_text=alt,
                image=image["data"] if image else b"", image_type=info.mime if info else "",
                width=info.width if info else 0, height=info.height if info else 0,
                account=ORGANIZATION, url=f"https://www.linkedin.com/feed/update/{urn}/",
                extra={"commentary": commentary, "image": media["id"] if media else ""},
            )
        return Response(201, b"", headers={"x-restli-id": urn, "x-linkedin-id": urn})

    def _post_json(self, post: SandboxPost) -> dict[str, Any]:
        millis = int(post.created_at.timestamp() * 1000)
        out: dict[str, Any] = {
            "id": post.id, "author": post.account, "commentary": post.extra["commentary"],
            "visibility": "PUBLIC", "lifecycleState": "PUBLISHED",
            "createdAt": millis, "publishedAt": millis, "lastModifiedAt": millis,
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                             "thirdPartyDistributionChannels": []},
            "isReshareDisabledByAuthor": False,
        }
        if post.extra.get("image"):
            out["content"] = {"media": {"id": post.extra["image"], "altText": post.alt_text}}
        return out

    def lookup(self, request: Request) -> Response:
        if request.param("q") != "author":
            return li_error(400, "Unsupported finder: use q=author")
        author = request.param("author")
        if author != ORGANIZATION:
            return li_error(403, f"Not enough permissions to access posts of {author}")
        count = int(request.param("count") or 10)
        start = int(request.param("start") or 0)
        if request.param("sortBy") not in (None, "CREATED", "LAST_MODIFIED"):
            return li_error(400, "sortBy must be CREATED or LAST_MODIFIED")
        posts = list(reversed(self.live_posts()))
        page = posts[start : start + max(1, min(count, 100))]
        return Response.json(200, {
            "elements": [self._post_json(p) for p in page],
            "paging": {"start": start, "count": count, "links": [], "total": len(posts)},
        })

    def read(self, request: Request) -> Response:
        urn = unquote(request.group("urn"))
        with self.lock:
            post = self.posts.get(urn)
        if post is None:
            return li_error(404, f"Post {urn} not found")
        return Response.json(200, self._post_json(post))

    def delete(self, request: Request) -> Response:
        urn = unquote(request.group("urn"))
        with self.lock:
            gone = urn in self.deleted
            post = self.remove(urn)
        if post is None and not gone:
            return li_error(404, f"Post {urn} not found")
        return Response(204)

    def statistics(self, request: Request) -> Response:
        """`GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&...`: each
        asked post's lifetime `totalShareStatistics` (Community Management API, "Organization
        Share Statistics"). `shares=List(...)` and `ugcPosts=List(...)` name the posts; a post
        that is not the organisation's, or deleted, has no element. Without either list, the
        organisation's totals. A token without rw_organization_admin is refused with 403."""
        if self.refuses_metrics(request, {STATISTICS_SCOPE}):
            return li_error(403, "Not enough permissions to access: "
                            "organizationalEntityShareStatistics.GET.NO_VERSION",
                            serviceErrorCode=100, code="ACCESS_DENIED")
        if request.param("q") != "organizationalEntity":
            return li_error(400, "Unsupported finder: use q=organizationalEntity")
        entity = request.param("organizationalEntity")
        if entity != ORGANIZATION:
            return li_error(403, f"Not enough permissions to access statistics of {entity}",
                            serviceErrorCode=100, code="ACCESS_DENIED")
        asked: list[tuple[str, str]] = []
        for key, kind in (("shares", "share"), ("ugcPosts", "ugcPost")):
            raw = request.param(key)
            if raw is None:
                continue
            if not (raw.startswith("List(") and raw.endswith(")")):
                return li_error(400, f"Invalid param. Please see errorDetails for more "
                                f"information: {key} must be List(...)")
            asked += [(kind, urn) for urn in raw[5:-1].split(",") if urn]
        elements = []
        with self.lock:
            posts = {urn: self.posts.get(urn) for _, urn in asked}
        for kind, urn in asked:
            post = posts[urn]
            if post is None or not urn.startswith(f"urn:li:{kind}:"):
                continue
            elements.append({"totalShareStatistics": self._share_statistics([post]),
                             kind: urn, "organizationalEntity": ORGANIZATION})
        if not asked:
            elements.append({"totalShareStatistics": self._share_statistics(self.live_posts()),
                             "organizationalEntity": ORGANIZATION})
        return Response.json(200, {"paging": {"count": 10, "start": 0, "links": []},
                                   "elements": elements})

    def _share_statistics(self, posts: list[SandboxPost]) -> dict[str, Any]:
        numbers = [self.metrics_of(p) for p in posts]
        views = sum(n.views for n in numbers)
        out: dict[str, Any] = {
            "impressionCount": views, "uniqueImpressionsCount": sum(n.reach for n in numbers),
            "clickCount": sum(n.clicks for n in numbers), "likeCount": sum(n.likes for n in numbers),
            "commentCount": sum(n.replies for n in numbers),
            "shareCount": sum(n.reposts for n in numbers),
        }
        engaged = out["clickCount"] + out["likeCount"] + out["commentCount"] + out["shareCount"]
        out["engagement"] = engaged / views if views else 0.0
        return out

    def organization(self, request: Request) -> Response:
        if request.group("id") != ORGANIZATION_ID:
            return li_error(403, f"Not enough permissions to access organization {request.group('id')}")
        return Response.json(200, {
            "id": int(ORGANIZATION_ID), "localizedName": ORGANIZATION_NAME,
            "vanityName": "campaign-sandbox",
        })


    def introspect(self, request: Request) -> Response:
        """Token introspection (platform-apis.md §4.1): active, status, expires_at, scope."""
        if (request.form.get("client_id") != self.client_id
                or request.form.get("client_secret") != self.client_secret):
            return Response.json(401, {"error": "invalid_client",
                                       "error_description": "Client authentication failed"})
        if request.form.get("token") != self.token:
            return Response.json(200, {"active": False, "status": "revoked"})
        expires = self.account_state.token_expires_at
        expired = self.token_expired()
        now = int(datetime.now(UTC).timestamp())
        return Response.json(200, {
            "active": not expired,
            "status": "expired" if expired else "active",
            "client_id": self.client_id,
            "authorized_at": now - 86400,
            "created_at": now - 86400,
            # No expiry set: a year from now (a real token lives 60 days, or 365 if refreshed).
            "expires_at": int(expires.timestamp()) if expires else now + 365 * 86400,
            "scope": ",".join(self.scopes()),
            "auth_type": "3L",
        })


PLATFORM_API = LinkedInApi
