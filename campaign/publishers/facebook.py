"""Facebook Page: one photo post with caption and alt text (platform-apis.md §2).

`POST /{page-id}/photos` as multipart: the card bytes in `source`, plus
`caption`, `alt_text_custom` and `published`. Those three form fields are names
Meta's own SDK lists for `Page.create_photo`; the bytes part is named `source` as
in the Graph reference for Page photos (the SDK's own uploads name it `filename`;
Graph reads the image from any file part). The public URL is read back
(`permalink_url`) rather than built.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

import requests

from campaign.errors import OutcomeUnknown, PostRejected, PublishError
from campaign.i18n import N_, _, format_number
from campaign.platforms import SPECS, FacebookSettings
from campaign.publishers.base import (
    CredentialReport,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
)
from campaign.publishers.graph import (
    DEFAULT_GRAPH_URL,
    GraphClient,
    graph_policy,
    graph_time,
    token_facts,
)
from campaign.publishers.transport import DEFAULT_TIMEOUT
from campaign.secrets import api_base_url, read_secret

log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = SPECS["facebook"].image_byte_limit  # one value, in platforms.py
TOKEN_VARIABLE = "FACEBOOK_PAGE_TOKEN"  # noqa: S105  (a variable name, not a secret)


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


__all__ = ["FacebookPublisher"]
