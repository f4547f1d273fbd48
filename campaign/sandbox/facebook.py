"""The Facebook Page calls the Facebook publisher makes (platform-apis.md §2).

`POST /{page-id}/photos` takes the image from any multipart file part (`source`
in the Graph reference, `filename` from Meta's own SDK) or from `url`, which it
fetches; `caption`, `alt_text_custom` and `published`. Answers
`{"id": photo, "post_id": "page_post"}`. Posts are read back by id and listed
with `/{page-id}/published_posts`, and deleted by post or photo id.

A post's numbers: `GET /{post-id}/insights` (call `insights`) and its `shares` and
`comments.summary(true)` fields.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from campaign.sandbox.core import Counter, Fault, Request, Response, SandboxPost, inspect_image
from campaign.sandbox.graph import (
    VERSION_PREFIX,
    GraphApi,
    fetch_image,
    flag,
    graph_error,
    graph_time,
    insight,
    nonexisting_field,
    unknown_params,
    unsupported,
)

PAGE_ID = "100000000000001"  # the example campaign.toml's page_id
PAGE_NAME = "Campaign sandbox Page"
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_CAPTION = 63206  # commonly cited; UNCONFIRMED (platform-apis.md §2.3)

# The Page.create_photo parameters this sandbox understands (names from Meta's SDK).
PHOTO_PARAMS = {
    "caption", "alt_text_custom", "published", "url", "message", "no_story", "temporary",
    "scheduled_publish_time", "unpublished_content_type",
}
POST_FIELDS = {"id", "message", "created_time", "permalink_url", "shares", "comments"}
#: Post metrics of `GET /{post-id}/insights` the sandbox gives, with their title and words.
#: The `post_impressions*` family was replaced by `post_media_view` (views) in November 2025.
POST_METRICS = {
    "post_media_view": ("Media views", "The number of times your post was on screen."),
    "post_total_media_view_unique": ("Media viewers", "The number of people who saw your post "
                                     "at least once."),
    "post_reactions_by_type_total": ("Total post reactions by type", "Total post reactions "
                                     "by type."),
    "post_clicks": ("Post clicks", "The number of times people clicked on anywhere in your "
                    "posts without generating a story."),
}
INSIGHTS_PERMISSION = "read_insights"


class FacebookApi(GraphApi):
    name = "facebook"
    title = "Facebook"
    calls: ClassVar[dict[str, str]] = {
        "create": "POST /{page-id}/photos",
        "read": "GET /{object-id}",
        "lookup": "GET /{page-id}/published_posts",
        "delete": "DELETE /{object-id}",
        "me": "GET /me",
        "debug": "GET /debug_token",
        "insights": "GET /{post-id}/insights (the post's numbers)",
    }
    default_scopes = ("pages_manage_posts", "pages_read_engagement", "pages_show_list",
                      INSIGHTS_PERMISSION)
    fault_kinds: ClassVar[tuple[str, ...]] = (
        *GraphApi.fault_kinds, "duplicate_368", "account_blocked", "missing_scope",
    )
    call_aliases: ClassVar[dict[str, str]] = {
        "photos": "create", "create_photo": "create", "published_posts": "lookup",
        "metrics": "insights", "get_insights": "insights",
    }
    token = "sandbox-facebook-page-token"  # noqa: S105  (the sandbox's fake credential)
    token_variable = "FACEBOOK_PAGE_TOKEN"  # noqa: S105
    rate_limit_code = 32
    rate_limit_type = "pages"
    page_id = PAGE_ID

    def setup(self) -> None:
        self.photo_ids = Counter(200_000_000_000_000)
        self.post_numbers = Counter(300_000_000_000_000)
        self.photos: dict[str, str] = {}  # photo id -> post id
        self.public_url = ""
        v = VERSION_PREFIX
        self.route("GET", v + r"/me", "me", self.me)
        self.route("GET", v + r"/debug_token", "debug", self.debug_token)
        self.route("POST", v + r"/(?P<page>\d+)/photos", "create", self.create)
        self.route("GET", v + r"/(?P<page>\d+)/published_posts", "lookup", self.lookup)
        self.route("GET", v + r"/(?P<id>[\d_]+)/insights", "insights", self.insights)
        self.route("GET", v + r"/(?P<id>[\d_]+)", "read", self.read)
        self.route("DELETE", v + r"/(?P<id>[\d_]+)", "delete", self.delete)

    def account_id(self) -> str:
        return self.page_id

    def settings_env(self) -> dict[str, str]:
        return {"CAMPAIGN_SANDBOX_FACEBOOK_PAGE_ID": self.page_id}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.photos.clear()

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "duplicate_368":
            # Facebook often answers a repeated post this way rather than with 506
            # (recordings: arsduo/koala#422, "[HTTP 400]").
            return graph_error(
                400, "You've already posted this. Posting the same content repeatedly on "
                "Facebook isn't allowed.", 368,
            )
        if fault.kind == "account_blocked":
            # A real block (recordings: fbsamples/original-coast-clothing#67).
            return Response.json(400, {"error": {
                "message": "Your message couldn't be sent because it includes content that "
                "other people on Facebook have reported as abusive.",
                "type": "OAuthException", "code": 368,
                "error_data": {"sentry_block_data": "sandbox", "help_center_id": 0},
                "error_subcode": 1346003, "error_user_msg": "",
                "fbtrace_id": "A" + secrets.token_urlsafe(15),
            }})
        return super().fault_response(fault, request)

    def _post_id(self, object_id: str) -> str:
        return self.photos.get(object_id, object_id)

    def me(self, request: Request) -> Response:
        return Response.json(200, {"id": self.page_id, "name": PAGE_NAME})

    def create(self, request: Request) -> Response:
        if request.group("page") != self.page_id:
            return unsupported("POST", request.group("page"))
        denied = unknown_params(request, PHOTO_PARAMS)
        if denied is not None:
            return denied
        caption = request.param("caption") or request.param("message") or ""
        if len(caption) > MAX_CAPTION:
            return graph_error(400, "(#100) The caption is too long", 100)
        data: bytes | None = None
        if request.files:
            data = next(iter(request.files.values())).data
            info = inspect_image(data)
        elif request.param("url"):
            fetched = fetch_image(request.param("url") or "")
            if isinstance(fetched, str):
                return graph_error(400, f"(#100) url should represent a valid URL: {fetched}", 100)
            data, info = fetched
        else:
            return graph_error(400, "(#324) Requires upload file", 324)
        if info is None:
            return graph_error(400, "(#324) Missing or invalid image file", 324)
        if len(data) >= MAX_IMAGE_BYTES:
            return graph_error(400, "(#100) The image is too large: it must be under 10 MB", 100)
        photo_id = self.photo_ids.next()
        if not flag(request.param("published")):
            return Response.json(200, {"id": photo_id})  # unpublished: no post, no feed
        post_id = f"{self.page_id}_{self.post_numbers.next()}"
        with self.lock:
            if any(p.caption == caption and caption for p in self.posts.values()):
                return graph_error(400, "(#506) Duplicate status message", 506)
            self.photos[photo_id] = post_id
            self.posts[post_id] = SandboxPost(
                platform="facebook",
                id=post_id,
                caption=caption,
                alt_text=request.param("alt_text_custom") or "",
                image=data,
                image_type=info.mime,
                width=info.width,
                height=info.height,
                account=self.page_id,
                url=f"{request.public_url}/_sandbox/feed/facebook#post-{post_id}",
                extra={"photo_id": photo_id},
            )
        return Response.json(200, {"id": photo_id, "post_id": post_id})

    def _fields(self, request: Request, default: str) -> list[str]:
        # A field may carry modifiers (`comments.summary(true)`): its name is what leads.
        return [f.split(".", 1)[0] for f in (request.param("fields") or default).split(",") if f]

    def _post_json(self, post: SandboxPost, fields: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": post.id,
            "message": post.caption,
            "created_time": graph_time(post.created_at),
            "permalink_url": post.url,
        }
        if "shares" in fields or "comments" in fields:
            n = self.metrics_of(post)
            if n.reposts:  # Graph leaves `shares` out while nobody has shared the post
                values["shares"] = {"count": n.reposts}
            values["comments"] = {"data": [], "summary": {
                "order": "ranked", "total_count": n.replies, "can_comment": True}}
        out = {f: values[f] for f in fields if f in values and (f != "message" or post.caption)}
        out.setdefault("id", post.id)
        return out

    def insights(self, request: Request) -> Response:
        """`GET /{post-id}/insights?metric=...`: lifetime post metrics, Graph's way.

        An old or unknown metric name (`post_impressions`, `impressions`) is refused as Graph
        refuses it; a token without read_insights is refused (the message is Graph's
        classic wording for it, UNCONFIRMED for v25.0); a deleted post does not exist.
        """
        object_id = request.group("id")
        if self.refuses_metrics(request, {INSIGHTS_PERMISSION}):
            return graph_error(403, "(#200) Requires extended permission: read_insights", 200)
        with self.lock:
            post = self.posts.get(self._post_id(object_id))
        if post is None:
            return unsupported("GET", object_id)
        names = [m for m in (request.param("metric") or "").split(",") if m]
        if not names or any(m not in POST_METRICS for m in names):
            return graph_error(400, "(#100) The value must be a valid insights metric", 100)
        n = self.metrics_of(post)
        love, care = n.likes // 5, n.likes // 10
        reactions = {"like": n.likes - love - care, "love": love, "care": care}
        values: dict[str, object] = {
            "post_media_view": n.views, "post_total_media_view_unique": n.reach,
            "post_reactions_by_type_total": {k: v for k, v in reactions.items() if v},
            "post_clicks": n.clicks,
        }
        return Response.json(200, {"data": [
            insight(post.id, m, values[m], *POST_METRICS[m]) for m in names]})

    def read(self, request: Request) -> Response:
        object_id = request.group("id")
        fields = self._fields(request, "id,created_time,message")
        with self.lock:
            post = self.posts.get(self._post_id(object_id))
        if post is None:
            return unsupported("GET", object_id)
        for field in fields:
            if field not in POST_FIELDS:
                return nonexisting_field(field, "Post")
        return Response.json(200, self._post_json(post, fields))

    def lookup(self, request: Request) -> Response:
        if request.group("page") != self.page_id:
            return unsupported("GET", request.group("page"))
        fields = self._fields(request, "id,created_time,message")
        for field in fields:
            if field not in POST_FIELDS:
                return nonexisting_field(field, "Post")
        limit = int(request.param("limit") or 25)
        since = request.param("since")
        posts = [
            p for p in reversed(self.live_posts())
            if not since or p.created_at.timestamp() >= int(since)
        ][: max(1, min(limit, 100))]
        body: dict[str, Any] = {"data": [self._post_json(p, fields) for p in posts]}
        if posts:
            body["paging"] = {"cursors": {"before": posts[0].id, "after": posts[-1].id}}
        return Response.json(200, body)

    def delete(self, request: Request) -> Response:
        object_id = request.group("id")
        with self.lock:
            post_id = self._post_id(object_id)
            post = self.remove(post_id)
        if post is None:
            return unsupported("DELETE", object_id)
        return Response.json(200, {"success": True})


PLATFORM_API = FacebookApi
