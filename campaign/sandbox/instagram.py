"""The Instagram content-publishing calls the Instagram publisher makes (§3).

A container fetches its `image_url` over real HTTP when it is created, as Meta's
crawler does: an unreachable URL, a file that is not a JPEG, one over 8 MiB or
outside the 4:5..1.91:1 ratio fails with Meta's error. A new container answers
IN_PROGRESS to its first status read and FINISHED after that, so the publisher's
polling is exercised every time. `media_publish` refuses a container that is not
FINISHED, counts against a 24-hour quota, and marks the container PUBLISHED.

A post's numbers: `GET /{ig-media-id}/insights` (call `insights`), `(#10)` in its first hour.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from campaign.sandbox.core import Counter, Fault, ImageInfo, Request, Response, SandboxPost
from campaign.sandbox.graph import (
    VERSION_PREFIX,
    GraphApi,
    fetch_image,
    graph_error,
    graph_time,
    insight,
    nonexisting_field,
    unknown_params,
    unsupported,
)

ACCOUNT_ID = "17841400000000001"  # the example campaign.toml's account_id
USERNAME = "campaign_sandbox"
MAX_IMAGE_BYTES = 8 * 1024 * 1024
MAX_CAPTION = 2200
MAX_HASHTAGS = 30
MAX_ALT_TEXT = 1000  # UNCONFIRMED (platform-apis.md §3.4)
QUOTA_TOTAL = 100
QUOTA_SECONDS = 86400

# IGUser.create_media parameters (names from Meta's SDK) this sandbox accepts.
CONTAINER_PARAMS = {
    "image_url", "caption", "alt_text", "user_tags", "location_id", "media_type",
    "is_carousel_item", "collaborators", "product_tags",
}
MEDIA_FIELDS = {"id", "caption", "timestamp", "permalink", "media_type", "username", "media_url"}
CONTAINER_FIELDS = {"id", "status_code", "status"}
USER_FIELDS = {"id", "username", "name", "media_count"}
#: `GET /{ig-media-id}/insights` metrics of an image post, with their title and words.
MEDIA_METRICS = {
    "views": ("Views", "The number of times your post was on screen."),
    "reach": ("Accounts reached", "The number of unique accounts that have seen your post at "
              "least once."),
    "likes": ("Likes", "The number of likes on your post."),
    "comments": ("Comments", "The number of comments on your post."),
    "shares": ("Shares", "The number of shares of your post."),
    "saved": ("Saves", "The number of saves of your post."),
    "total_interactions": ("Interactions", "The number of likes, saves, comments and shares "
                           "on your post."),
}
REMOVED_METRICS = {"impressions", "plays", "video_views", "clips_replays_count",
                   "ig_reels_aggregated_all_plays_count"}
INSIGHTS_PERMISSIONS = {"instagram_manage_insights", "instagram_business_manage_insights"}
FIRST_HOUR = timedelta(hours=1)  # "not enough viewers" until then
_HASHTAG = re.compile(r"(?<!\w)#\w+")


@dataclass
class Container:
    id: str
    image: bytes
    info: ImageInfo
    caption: str
    alt_text: str
    status_code: str = "IN_PROGRESS"
    status: str = "In Progress"
    reads: int = 0
    stuck: bool = False
    media_id: str | None = None
    created: float = field(default_factory=time.time)


class InstagramApi(GraphApi):
    name = "instagram"
    title = "Instagram"
    calls: ClassVar[dict[str, str]] = {
        "limit": "GET /{ig-user-id}/content_publishing_limit",
        "container": "POST /{ig-user-id}/media",
        "status": "GET /{container-id}?fields=status_code",
        "create": "POST /{ig-user-id}/media_publish",
        "read": "GET /{ig-media-id} and /{ig-user-id}",
        "lookup": "GET /{ig-user-id}/media",
        "delete": "DELETE /{ig-media-id}",
        "debug": "GET /debug_token",
        "insights": "GET /{ig-media-id}/insights (the post's numbers)",
    }
    default_scopes = ("instagram_basic", "instagram_content_publish", "pages_read_engagement",
                      "instagram_manage_insights")
    call_aliases: ClassVar[dict[str, str]] = {
        "content_publishing_limit": "limit", "media": "container", "create_media": "container",
        "media_publish": "create", "create_media_publish": "create",
        "metrics": "insights", "get_insights": "insights",
    }
    fault_kinds = (*GraphApi.fault_kinds, "stuck_in_progress", "container_error", "delete_refused",
                   "missing_scope")
    token = "sandbox-instagram-token"  # noqa: S105  (the sandbox's fake credential)
    token_variable = "INSTAGRAM_TOKEN"  # noqa: S105
    rate_limit_code = 4
    rate_limit_type = "instagram"
    account = ACCOUNT_ID

    def setup(self) -> None:
        self.containers: dict[str, Container] = {}
        self.publishes: list[float] = []
        self.container_ids = Counter(17_900_000_000_000_000)
        self.media_ids = Counter(17_800_000_000_000_000)
        v = VERSION_PREFIX
        self.route("GET", v + r"/debug_token", "debug", self.debug_token)
        self.route("GET", v + r"/(?P<user>\d+)/content_publishing_limit", "limit", self.limit)
        self.route("POST", v + r"/(?P<user>\d+)/media", "container", self.create_container)
        self.route("GET", v + r"/(?P<user>\d+)/media", "lookup", self.lookup)
        self.route("POST", v + r"/(?P<user>\d+)/media_publish", "create", self.publish)
        self.route("GET", v + r"/(?P<id>\d+)/insights", "insights", self.insights)
        self.route("GET", v + r"/(?P<id>\d+)", "read", self.read)
        self.route("DELETE", v + r"/(?P<id>\d+)", "delete", self.delete)

    def account_id(self) -> str:
        return self.account

    def settings_env(self) -> dict[str, str]:
        return {"CAMPAIGN_SANDBOX_INSTAGRAM_ACCOUNT_ID": self.account}

    def reset(self) -> None:
        with self.lock:
            super().reset()
            self.containers.clear()
            self.publishes.clear()

    def handle(self, request: Request) -> Response:
        # A container's status read is its own fault-injectable call ("status").
        if len(request.path) > 1:
            request.path = request.path.rstrip("/")
        match = re.fullmatch(VERSION_PREFIX + r"/(\d+)", request.path)
        if request.method == "GET" and match and match.group(1) in self.containers:
            return self._handle_status(request, match.group(1))
        return super().handle(request)

    def _handle_status(self, request: Request, container_id: str) -> Response:
        denied = self.authenticate(request)
        if denied is not None:
            return denied
        fault = self.faults.take(self.name, "status")
        if fault is not None:
            if fault.kind == "timeout":
                self.stop_event.wait(fault.delay)
                return Response.dropped()
            if fault.kind not in (
                "drop_response", "slow_response", "stuck_in_progress", "container_error"
            ):
                return self.fault_response(fault, request)
        response = self.status(request, container_id)
        if fault is not None and fault.kind == "slow_response":
            self.stop_event.wait(fault.delay)
        return Response.dropped() if fault is not None and fault.kind == "drop_response" else response

    def _wrong_user(self, request: Request) -> Response | None:
        user = request.group("user")
        return None if user == self.account else unsupported(request.method, user)

    def _quota_usage(self) -> int:
        cutoff = time.time() - QUOTA_SECONDS
        with self.lock:
            self.publishes = [t for t in self.publishes if t >= cutoff]
            return len(self.publishes)

    # -- calls ------------------------------------------------------------------------

    def limit(self, request: Request) -> Response:
        wrong = self._wrong_user(request)
        if wrong is not None:
            return wrong
        fields = (request.param("fields") or "quota_usage").split(",")
        entry: dict[str, Any] = {}
        for name in fields:
            if name == "quota_usage":
                entry["quota_usage"] = self._quota_usage()
            elif name == "config":
                entry["config"] = {"quota_total": QUOTA_TOTAL, "quota_duration": QUOTA_SECONDS}
            else:
                return nonexisting_field(name, "ContentPublishingLimitResponse")
        return Response.json(200, {"data": [entry]})

    def create_container(self, request: Request) -> Response:
        wrong = self._wrong_user(request)
        if wrong is not None:
            return wrong
        denied = unknown_params(request, CONTAINER_PARAMS)
        if denied is not None:
            return denied
        if request.files:
            return graph_error(
                400, "(#100) Images must be sent as image_url; uploads are not accepted", 100
            )
        image_url = request.param("image_url")
        if not image_url:
            return graph_error(
                400, "(#100) The parameter image_url is required", 100,
            )
        caption = request.param("caption") or ""
        alt_text = request.param("alt_text") or ""
        if len(caption) > MAX_CAPTION:
            return graph_error(
                400, "(#100) The caption is too long", 100,
                user_title="Caption too long",
                user_msg=f"The caption must be at most {MAX_CAPTION} characters.",
            )
        if len(_HASHTAG.findall(caption)) > MAX_HASHTAGS:
            return graph_error(
                400, "(#100) Too many hashtags", 100,
                user_msg=f"A caption may have at most {MAX_HASHTAGS} hashtags.",
            )
        if len(alt_text) > MAX_ALT_TEXT:
            return graph_error(400, "(#100) The alt_text is too long", 100)
        fetched = fetch_image(image_url)
        # The fetch-failure subcode is UNCONFIRMED (platform-apis.md §3.6); 2207052
        # ("Media download has failed") is the one seen in public reports.
        if isinstance(fetched, str):
            return graph_error(
                400, "The media could not be fetched from this uri", 9004, 2207052,
                user_title="Media download has failed",
                user_msg=f"The media could not be fetched from {image_url}: {fetched}.",
            )
        data, info = fetched
        if info is None or info.format != "JPEG":
            return graph_error(
                400, "Only photo or video can be accepted as media type.", 9004, 2207052,
                user_title="Media download has failed",
                user_msg="Only JPEG images can be published (not PNG, MPO or other formats).",
            )
        if len(data) > MAX_IMAGE_BYTES:
            return graph_error(
                400, "The image is too large to download. It should be less than 8 MiB.",
                36000, 2207004, user_title="Image too large",
            )
        ratio = info.width / max(info.height, 1)
        if not 0.8 - 0.005 <= ratio <= 1.91 + 0.005:
            return graph_error(
                400,
                f"The submitted image with aspect ratio ('{info.width}/{info.height}') cannot "
                "be published. Please submit an image with a valid aspect ratio.",
                36003, 2207009, user_title="Aspect ratio not supported",
            )
        container = Container(self.container_ids.next(), data, info, caption, alt_text)
        self._apply_fault(container, request.fault)
        with self.lock:
            self.containers[container.id] = container
        return Response.json(200, {"id": container.id})

    @staticmethod
    def _apply_fault(container: Container, fault: Fault | None) -> None:
        if fault is None:
            return
        if fault.kind == "stuck_in_progress":
            container.stuck = True
        elif fault.kind == "container_error":
            container.status_code = "ERROR"
            container.status = "Error: Create media failed (2207032). Please try again."

    def status(self, request: Request, container_id: str) -> Response:
        with self.lock:
            container = self.containers[container_id]
            fields = [f for f in (request.param("fields") or "id").split(",") if f]
            for name in fields:
                if name not in CONTAINER_FIELDS:
                    return nonexisting_field(name, "ShadowIGMediaBuilder")
            container.reads += 1
            if container.status_code == "IN_PROGRESS" and not container.stuck:
                if container.reads > 1:
                    container.status_code, container.status = "FINISHED", "Finished: Media ready"
                if time.time() - container.created > 86400:
                    container.status_code, container.status = "EXPIRED", "Expired"
            values = {
                "id": container.id,
                "status_code": container.status_code,
                "status": container.status,
            }
            return Response.json(200, {f: values[f] for f in fields})

    def publish(self, request: Request) -> Response:
        wrong = self._wrong_user(request)
        if wrong is not None:
            return wrong
        denied = unknown_params(request, {"creation_id"})
        if denied is not None:
            return denied
        creation_id = request.param("creation_id") or ""
        with self.lock:
            container = self.containers.get(creation_id)
            if container is None:
                return graph_error(
                    400, "(#100) Param creation_id must be a valid media container id", 100,
                    user_msg="The media container id is not valid.",
                )
            if self._quota_usage() >= QUOTA_TOTAL:
                return graph_error(
                    400, "Application request limit reached", 9, 2207042,
                    user_title="Cannot publish", user_msg="You reached maximum number of posts "
                    "that is allowed to be published by Content Publishing API.",
                )
            if container.status_code != "FINISHED":
                return graph_error(
                    400, "Media ID is not available", 9007, 2207027,
                    user_title="Media not ready",
                    user_msg="The media is not ready for publishing, please wait for a moment.",
                )
            media_id = self.media_ids.next()
            container.status_code, container.status = "PUBLISHED", "Published"
            container.media_id = media_id
            self.publishes.append(time.time())
            self.posts[media_id] = SandboxPost(
                platform="instagram",
                id=media_id,
                caption=container.caption,
                alt_text=container.alt_text,
                image=container.image,
                image_type=container.info.mime,
                width=container.info.width,
                height=container.info.height,
                account=USERNAME,
                url=f"{request.public_url}/_sandbox/feed/instagram#post-{media_id}",
                extra={"container_id": container.id},
            )
        return Response.json(200, {"id": media_id})

    def _media_json(self, post: SandboxPost, fields: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            "id": post.id,
            "caption": post.caption,
            "timestamp": graph_time(post.created_at),
            "permalink": post.url,
            "media_type": "IMAGE",
            "username": USERNAME,
            "media_url": post.url,
        }
        out = {f: values[f] for f in fields if f in values}
        out.setdefault("id", post.id)
        return out

    def read(self, request: Request) -> Response:
        object_id = request.group("id")
        fields = [f for f in (request.param("fields") or "id").split(",") if f]
        if object_id == self.account:
            for name in fields:
                if name not in USER_FIELDS:
                    return nonexisting_field(name, "IGUser")
            values = {"id": self.account, "username": USERNAME, "name": "Campaign sandbox",
                      "media_count": len(self.posts)}
            return Response.json(200, {f: values[f] for f in fields})
        with self.lock:
            post = self.posts.get(object_id)
        if post is None:
            return unsupported("GET", object_id)
        for name in fields:
            if name not in MEDIA_FIELDS:
                return nonexisting_field(name, "IGMedia")
        return Response.json(200, self._media_json(post, fields))

    def lookup(self, request: Request) -> Response:
        wrong = self._wrong_user(request)
        if wrong is not None:
            return wrong
        fields = [f for f in (request.param("fields") or "id").split(",") if f]
        for name in fields:
            if name not in MEDIA_FIELDS:
                return nonexisting_field(name, "IGMedia")
        limit = int(request.param("limit") or 25)
        since = request.param("since")
        posts = [
            p for p in reversed(self.live_posts())
            if not since or p.created_at.timestamp() >= int(since)
        ][: max(1, min(limit, 100))]
        body: dict[str, Any] = {"data": [self._media_json(p, fields) for p in posts]}
        if posts:
            body["paging"] = {"cursors": {"before": posts[0].id, "after": posts[-1].id}}
        return Response.json(200, body)

    def insights(self, request: Request) -> Response:
        """`GET /{ig-media-id}/insights?metric=...`: lifetime media metrics, Graph's way.

        In a post's first hour (by the sandbox clock), or while fewer than 5 people have
        seen it, Instagram's `(#10) Not enough viewers for the media to show insights`.
        `impressions`, `plays` and `video_views` (removed in April 2025) are refused in the
        words gitroomhq/postiz-app#622 quotes for the account node; any other unknown
        metric as Graph lists the valid ones.
        """
        if self.refuses_metrics(request, INSIGHTS_PERMISSIONS):
            return graph_error(400, "(#10) Application does not have permission for this "
                               "action", 10)
        with self.lock:
            post = self.posts.get(request.group("id"))
        if post is None:
            return unsupported("GET", request.group("id"))
        names = [m for m in (request.param("metric") or "").split(",") if m]
        removed = [m for m in names if m in REMOVED_METRICS]
        if removed:
            return graph_error(
                400, f"Starting from version v22.0 and above, the {removed[0]} metric is no "
                "longer supported for the queried media. Please refer to the documentation at "
                "https://developers.facebook.com/docs/instagram-platform/reference/"
                "instagram-media/insights for a list of supported metrics.", 100)
        for index, name in enumerate(names):
            if name not in MEDIA_METRICS:
                return graph_error(400, f"(#100) metric[{index}] must be one of the following "
                                   f"values: {', '.join(MEDIA_METRICS)}", 100)
        if not names:
            return graph_error(400, "(#100) The parameter metric is required", 100)
        n = self.metrics_of(post)
        young = self.clock.now() - (post.born or post.created_at) < FIRST_HOUR
        if young or n.reach < 5:
            return graph_error(400, "(#10) Not enough viewers for the media to show insights",
                               10)
        values = {"views": n.views, "reach": n.reach, "likes": n.likes, "comments": n.replies,
                  "shares": n.reposts, "saved": n.saves, "total_interactions": n.interactions}
        return Response.json(200, {"data": [
            insight(post.id, m, values[m], *MEDIA_METRICS[m]) for m in names]})

    def fault_response(self, fault: Fault, request: Request) -> Response:
        if fault.kind == "delete_refused":
            # What an account without API delete (Instagram Login) is said to get.
            return graph_error(
                400, "(#10) Application does not have permission for this action", 10
            )
        return super().fault_response(fault, request)

    def delete(self, request: Request) -> Response:
        object_id = request.group("id")
        if self.remove(object_id) is None:
            return unsupported("DELETE", object_id)
        return Response.json(200, {"success": True})


PLATFORM_API = InstagramApi
