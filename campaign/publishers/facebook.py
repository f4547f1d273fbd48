"""Facebook Page: one photo post with caption and alt text (platform-apis.md §2).

`POST /{page-id}/photos` as multipart: the card bytes in `source`, plus
`caption`, `alt_text_custom` and `published`. Those three form fields are names
Meta's own SDK lists for `Page.create_photo`; the bytes part is named `source` as
in the Graph reference for Page photos (the SDK's own uploads name it `filename`;
Graph reads the image from any file part). The public URL is read back
(`permalink_url`) rather than built.

The numbers (`fetch_metrics`): per post `GET /{post-id}/insights` (views, reach, reactions,
clicks; needs read_insights) and `GET /{post-id}?fields=shares,comments.summary(true)`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import requests

from campaign.errors import OutcomeUnknown, PostRejected, PublishError
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, FacebookSettings
from campaign.publishers.base import (
    CredentialReport,
    PostMetrics,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.graph import (
    DEFAULT_GRAPH_URL,
    GraphClient,
    count,
    gone_on_read,
    graph_policy,
    graph_time,
    insight_values,
    token_facts,
)
from campaign.publishers.transport import DEFAULT_TIMEOUT
from campaign.secrets import api_base_url, read_secret

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = SPECS["facebook"].image_byte_limit  # one value, in platforms.py
TOKEN_VARIABLE = "FACEBOOK_PAGE_TOKEN"  # noqa: S105  (a variable name, not a secret)


#: Graph's post metric -> ours. `post_impressions*` became `post_media_view` in November 2025:
#: the old names are refused, "(#100) The value must be a valid insights metric".
POST_METRICS = {"post_media_view": "views", "post_total_media_view_unique": "reach",
                "post_reactions_by_type_total": "likes", "post_clicks": "clicks"}
#: The post's own fields: shares (reposts) and the comments' count (replies).
POST_COUNT_FIELDS = "shares,comments.summary(true)"
INSIGHTS_PERMISSION = " or ".join(sorted(next(iter(SPECS["facebook"].metrics_scopes))))


#: What each failed answer means: Graph's table, shared with the other Graph platform
#: (`graph.POLICY_RULES`; see `http.py`).
POLICY = graph_policy("facebook")


class FacebookPublisher(Publisher):
    """Posts photos to one Facebook Page with a Page access token."""

    platform = "facebook"

    def __init__(
        self,
        settings: FacebookSettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.settings = settings
        self.graph = GraphClient(
            "facebook",
            api_base_url("facebook", DEFAULT_GRAPH_URL, settings.api_url, env),
            read_secret("facebook", TOKEN_VARIABLE, env),
            session,
            token_variable=TOKEN_VARIABLE,
            timeout=timeout,
            insights_permission=INSIGHTS_PERMISSION,
        )

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        data = request.card_path.read_bytes()
        if len(data) > MAX_IMAGE_BYTES:
            raise PostRejected(
                "facebook",
                _("the card {name} is {size} bytes; Facebook accepts less than 10 MB: render "
                  "it smaller and post again").format(name=request.card_path.name,
                                                      size=format_number(len(data))),
                story=story,
            )
        mime = "image/png" if request.card_path.suffix.lower() == ".png" else "image/jpeg"
        body = self.graph.call(
            "POST",
            f"{self.settings.page_id}/photos",
            what=N_("posting the photo"),
            story=story,
            creates=True,
            data={
                "caption": request.caption,
                "alt_text_custom": request.alt_text,
                "published": "true",
            },
            files={"source": (request.card_path.name, data, mime)},
        )
        photo_id = str(body.get("id", ""))
        post_id = str(body.get("post_id") or "")
        if not post_id:
            raise OutcomeUnknown(
                "facebook",
                _("Facebook answered without a post id: look at the Page before any retry"),
                story=story,
            )
        log.info("facebook: posted %s as %s", request.post_key, post_id)
        return Published(
            "facebook",
            post_id,
            self._permalink(post_id, story),
            datetime.now(UTC),
            {"photo_id": photo_id} if photo_id else {},
        )

    def _permalink(self, post_id: str, story: str) -> str | None:
        # The post exists now: a failure here must not turn into an error that would
        # make the scheduler post again. Without the link, the ledger keeps the id.
        try:
            body = self.graph.call(
                "GET", post_id, what=N_("reading the post's link"), story=story,
                params={"fields": "permalink_url"},
            )
        except PublishError as exc:
            log.warning("facebook: posted %s but could not read its link: %s", post_id, exc)
            return None
        url = body.get("permalink_url")
        return str(url) if url else None

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        params = {
            "fields": "id,message,created_time,permalink_url",
            "limit": str(min(max(limit, 1), 100)),
        }
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        body = self.graph.call(
            "GET", f"{self.settings.page_id}/published_posts", what=N_("listing recent posts"),
            params=params,
        )
        posts = [
            RecentPost(
                str(item["id"]),
                str(item.get("message", "")),
                graph_time(item.get("created_time")),
                item.get("permalink_url"),
            )
            for item in body.get("data", [])
            if isinstance(item, dict) and "id" in item
        ]
        return posts[:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        body = self.graph.call("DELETE", remote_id, what=N_("deleting the post"),
                               story=story)
        if body.get("success") is not True:
            # The delete response shape is UNCONFIRMED (platform-apis.md §2.5): anything
            # but an explicit success is treated as not deleted.
            raise PostRejected(
                "facebook",
                _("Facebook did not confirm deleting post {post}: check the Page and delete it "
                  "by hand if it is still there").format(post=remote_id),
                story=story,
            )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """Per post (the Page post id our publisher keeps): `GET /{post-id}/insights` for
        views, reach, reactions and clicks, and `GET /{post-id}?fields=shares,comments...`
        for shares and comments. A post Graph says does not exist is gone."""
        return {post_id: self._metrics(post_id) for post_id in dict.fromkeys(remote_ids)}

    def _metrics(self, post_id: str) -> PostMetrics:
        what = N_("reading the post's numbers")
        try:
            insights = self.graph.call("GET", f"{post_id}/insights", what=what,
                                       params={"metric": ",".join(POST_METRICS)})
            fields = self.graph.call("GET", post_id, what=what,
                                     params={"fields": POST_COUNT_FIELDS})
        except PostRejected as exc:
            if gone_on_read(exc):
                return PostMetrics(post_id, gone=True,
                                   detail=_("Facebook says this post no longer exists"))
            raise
        return read_post_metrics(post_id, insights, fields)

    def check_credentials(self) -> CredentialReport:
        body = self.graph.call(
            "GET", "me", what=N_("checking the Page token"), params={"fields": "id,name"}
        )
        warnings: tuple[str, ...] = ()
        if str(body.get("id")) != self.settings.page_id:
            warnings = (
                _("FACEBOOK_PAGE_TOKEN belongs to {owner}, not to page_id {page_id}: use the "
                  "token of the campaign's Page").format(owner=body.get("id"),
                                                          page_id=self.settings.page_id),
            )
        return CredentialReport("facebook", str(body.get("name") or body.get("id")),
                                warnings=warnings, **token_facts(self.graph))


def read_post_metrics(post_id: str, insights: Mapping[str, object],
                      fields: Mapping[str, object]) -> PostMetrics:
    """Our numbers from a post's insights answer and its `shares,comments` fields."""
    values: dict[str, int] = {}
    given = insight_values(insights)
    for theirs, ours in POST_METRICS.items():
        value = given.get(theirs)
        if isinstance(value, dict):  # reactions by type: {"like": 3, "love": 1}
            kinds = [count(v) for v in value.values()]
            value = sum(k for k in kinds if k is not None)
        number = count(value)
        if number is not None:
            values[ours] = number
    shares = fields.get("shares")
    # Graph leaves `shares` out while nobody has shared the post.
    values["reposts"] = count(shares.get("count")) or 0 if isinstance(shares, dict) else 0
    comments = fields.get("comments")
    summary = comments.get("summary") if isinstance(comments, dict) else None
    total = count(summary.get("total_count")) if isinstance(summary, dict) else None
    if total is not None:
        values["replies"] = total
    reason = _("Facebook does not give this number yet (its numbers can lag a day or two); "
               "it is asked again at the next fetch")
    unavailable = {m: ("not_yet", reason) for m in SPECS["facebook"].metrics if m not in values}
    return PostMetrics(post_id, values, unavailable)


__all__ = ["FacebookPublisher", "read_post_metrics"]
