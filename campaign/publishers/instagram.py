"""Instagram professional account: container, status, publish (platform-apis.md §3).

1. The quota is read (`content_publishing_limit`): a full quota is retryable.
2. The card is copied to a public URL (`media_host`), since Meta fetches images.
3. `POST /{ig-id}/media` with `image_url`, `caption`, `alt_text` makes a container.
4. Its `status_code` is polled with a bounded wait until FINISHED.
5. `POST /{ig-id}/media_publish` with `creation_id` publishes it.
6. The permalink is read back; the hosted copy is removed.

A publish whose answer was lost is never sent again blindly: the container's
status is read first. PUBLISHED means it went out (the media id is then found
among the account's recent media); anything else is an unknown outcome for the
ledger to reconcile.

This uses the "Instagram API with Facebook Login" host (graph.facebook.com), the
variant with an API delete (§3.7, UNCONFIRMED for Instagram Login).

The numbers (`fetch_metrics`): per post `GET /{ig-media-id}/insights`; Instagram's `(#10)`
(too few viewers yet) makes them "not yet", never 0.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

import requests

from campaign.errors import OutcomeUnknown, PostRejected, PostRetryable, PublishError
from campaign.i18n import N_, _, ngettext
from campaign.platforms import SPECS, InstagramSettings
from campaign.publishers.base import (
    CredentialReport,
    DeleteByHand,
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
    graph_cause,
    graph_policy,
    graph_time,
    insight_values,
    token_facts,
    too_few_viewers,
)
from campaign.publishers.media_host import MediaHost, make_media_host
from campaign.publishers.transport import DEFAULT_TIMEOUT
from campaign.secrets import api_base_url, read_secret

log = logging.getLogger(__name__)

TOKEN_VARIABLE = "INSTAGRAM_TOKEN"  # noqa: S105  (a variable name, not a secret)
MAX_IMAGE_BYTES = SPECS["instagram"].image_byte_limit  # one value, in platforms.py
MAX_CAPTION = SPECS["instagram"].caption_limit
MIN_RATIO, MAX_RATIO = 4 / 5, 1.91  # width / height (§3.4)
MANUAL_DELETE_HINT = N_("open the post in the Instagram app, tap ··· and choose Delete")
# Graph codes with which a delete itself is refused: unsupported request (100), no
# permission (10, 200-299). Instagram-Login accounts reportedly cannot delete (UNCONFIRMED).
_DELETE_REFUSED = {100, 10, *range(200, 300)}


#: Instagram's media metric -> ours. `impressions` was removed in April 2025 (use `views`).
MEDIA_METRICS = {"views": "views", "reach": "reach", "likes": "likes", "comments": "replies",
                 "shares": "reposts", "saved": "saves", "total_interactions": "interactions"}
INSIGHTS_PERMISSION = " or ".join(sorted(s for scopes in SPECS["instagram"].metrics_scopes
                                         for s in scopes))
TOO_FEW_VIEWERS = N_("not enough people have seen it yet for Instagram to give its numbers; "
                     "they are asked again at the next fetch")
LAGGING = N_("Instagram does not give this number yet (its numbers can lag up to 48 hours); "
             "it is asked again at the next fetch")


#: What each failed answer means: Graph's table, shared with the other Graph platform
#: (`graph.POLICY_RULES`; see `http.py`).
POLICY = graph_policy("instagram")


class InstagramPublisher(Publisher):
    """Publishes single-image posts to one Instagram professional account."""

    platform = "instagram"

    def __init__(
        self,
        settings: InstagramSettings,
        session: requests.Session,
        env: Mapping[str, str] | None = None,
        *,
        media_host: MediaHost | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        poll_interval: float = 3.0,
        poll_timeout: float = 90.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        base_url = api_base_url("instagram", DEFAULT_GRAPH_URL, settings.api_url, env)
        self.graph = GraphClient(
            "instagram",
            base_url,
            read_secret("instagram", TOKEN_VARIABLE, env),
            session,
            token_variable=TOKEN_VARIABLE,
            timeout=timeout,
            insights_permission=INSIGHTS_PERMISSION,
        )
        self.media_host = media_host or make_media_host(settings, session, base_url, env)
        # Images are usually FINISHED at once; Meta's advice of polling about once a
        # minute for at most five minutes is UNCONFIRMED, so the bound is a setting.
        self.poll_interval = poll_interval
        self.poll_timeout = poll_timeout
        self._sleep = sleep

    @property
    def account(self) -> str:
        return self.settings.account_id

    # -- publish -------------------------------------------------------------------

    def publish(self, request: PublishRequest) -> Published:
        story = request.story_id
        self._check_input(request)
        self._check_quota(story)
        hosted = self.media_host.put(request.card_path)
        try:
            container = self._create_container(request, hosted.url)
            self._wait_until_finished(container, story)
            media_id = self._publish_container(container, request)
        finally:
            self._remove_hosted(hosted.name)
        log.info("instagram: posted %s as %s", request.post_key, media_id)
        return Published(
            "instagram",
            media_id,
            self._permalink(media_id, story),
            datetime.now(UTC),
            {"container_id": container},
        )

    def _check_input(self, request: PublishRequest) -> None:
        story = request.story_id
        problems = []
        if request.card_path.suffix.lower() not in (".jpg", ".jpeg"):
            problems.append(_("Instagram takes JPEG cards only: use a JPEG card format"))
        if request.card_path.stat().st_size > MAX_IMAGE_BYTES:
            problems.append(_("the card is over 8 MiB: render it smaller"))
        ratio = request.card_width / max(request.card_height, 1)
        if not MIN_RATIO - 0.005 <= ratio <= MAX_RATIO + 0.005:
            problems.append(
                _("the card is {width}×{height}; Instagram takes 4:5 to 1.91:1: use the "
                  "portrait or square card format").format(width=request.card_width,
                                                           height=request.card_height)
            )
        if len(request.caption) > MAX_CAPTION:
            problems.append(_("the caption is over {limit} characters: shorten it").format(
                limit=MAX_CAPTION))
        if problems:
            raise PostRejected("instagram", "; ".join(problems), story=story)

    def _check_quota(self, story: str) -> None:
        body = self.graph.call(
            "GET", f"{self.account}/content_publishing_limit", what=N_("reading the publishing quota"),
            story=story, params={"fields": "quota_usage,config"},
        )
        usage, total = _quota(body)
        if usage is not None and total is not None and usage >= total:
            raise PostRetryable(
                "instagram",
                _("the account has used its publishing quota ({usage} of {total} posts in 24 "
                  "hours): it will be retried when the window moves on").format(
                    usage=usage, total=total),
                story=story,
            )

    def _create_container(self, request: PublishRequest, image_url: str) -> str:
        # Making a container publishes nothing (it expires unpublished after 24 h),
        # so a timeout here is retryable.
        body = self.graph.call(
            "POST", f"{self.account}/media", what=N_("creating the media container"),
            story=request.story_id,
            data={"image_url": image_url, "caption": request.caption, "alt_text": request.alt_text},
        )
        container = str(body.get("id") or "")
        if not container:
            raise PostRetryable(
                "instagram", _("Instagram made no container id: it will be retried"),
                story=request.story_id,
            )
        return container

    def _status(self, container: str, story: str) -> tuple[str, str]:
        body = self.graph.call(
            "GET", container, what=N_("reading the container status"), story=story,
            params={"fields": "status_code,status"},
        )
        return str(body.get("status_code", "")), str(body.get("status", ""))

    def _wait_until_finished(self, container: str, story: str) -> None:
        deadline = time.monotonic() + self.poll_timeout
        while True:
            code, status = self._status(container, story)
            if code == "FINISHED":
                return
            if code == "ERROR":
                raise _container_error(status, story)
            if code == "EXPIRED":
                raise PostRetryable(
                    "instagram", _("the media container expired before it was published: a "
                                   "retry makes a new one"), story=story,
                )
            if code == "PUBLISHED":
                # Not ours to publish again; someone (an earlier attempt?) already did.
                raise OutcomeUnknown(
                    "instagram", _("container {container} is already published: look at the "
                                   "account's posts").format(container=container), story=story,
                )
            if time.monotonic() >= deadline:
                raise PostRetryable(
                    "instagram",
                    _("Instagram was still processing the image after {seconds} s (status "
                      "{status}): nothing was published; a retry makes a new container").format(
                        seconds=f"{self.poll_timeout:.0f}", status=code or _("unknown")),
                    story=story,
                )
            self._sleep(self.poll_interval)

    def _publish_container(self, container: str, request: PublishRequest) -> str:
        story = request.story_id
        try:
            body = self.graph.call(
                "POST", f"{self.account}/media_publish", what=N_("publishing the container"),
                story=story, creates=True, data={"creation_id": container},
            )
        except OutcomeUnknown:
            return self._after_lost_publish(container, request)
        media_id = str(body.get("id") or "")
        if not media_id:
            return self._after_lost_publish(container, request)
        return media_id

    def _after_lost_publish(self, container: str, request: PublishRequest) -> str:
        """The publish answer was lost: read the container's status, never re-publish."""
        story = request.story_id
        try:
            code, _detail = self._status(container, story)
        except PublishError as exc:
            raise OutcomeUnknown(
                "instagram", _("the publish answer was lost and the container's status cannot "
                               "be read ({error}): look at the account before any retry").format(
                                   error=exc), story=story,
            ) from exc
        if code == "PUBLISHED":
            try:
                recent = self.recent_posts(limit=10)
            except PublishError as exc:
                raise OutcomeUnknown(
                    "instagram", _("container {container} is PUBLISHED but the new post's id "
                                   "cannot be read ({error}): it is on the account; do not post "
                                   "it again").format(container=container, error=exc),
                    story=story,
                ) from exc
            for post in recent:
                if post.text == request.caption:
                    return post.remote_id
        raise OutcomeUnknown(
            "instagram",
            _("the publish answer was lost (container {container} is {status}): the post may "
              "exist; look at the account before any retry").format(
                container=container, status=code or _("unknown")),
            story=story,
        )

    def _permalink(self, media_id: str, story: str) -> str | None:
        try:
            body = self.graph.call(
                "GET", media_id, what=N_("reading the post's link"), story=story,
                params={"fields": "permalink"},
            )
        except PublishError as exc:  # the post exists: never turn this into a failure
            log.warning("instagram: posted %s but could not read its link: %s", media_id, exc)
            return None
        link = body.get("permalink")
        return str(link) if link else None

    def _remove_hosted(self, name: str) -> None:
        try:
            self.media_host.remove(name)
        except Exception as exc:  # a leftover copy must not turn a post into a failure
            log.warning("instagram: could not remove the hosted card %s: %s", name, exc)

    # -- the rest of the interface -------------------------------------------------

    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        params = {
            "fields": "id,caption,timestamp,permalink",
            "limit": str(min(max(limit, 1), 100)),
        }
        if since is not None:
            params["since"] = str(int(since.timestamp()))
        body = self.graph.call(
            "GET", f"{self.account}/media", what=N_("listing recent posts"), params=params
        )
        return [
            RecentPost(
                str(item["id"]),
                str(item.get("caption", "")),
                graph_time(item.get("timestamp")),
                item.get("permalink"),
            )
            for item in body.get("data", [])
            if isinstance(item, dict) and "id" in item
        ][:limit]

    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        # DELETE /{ig-media-id} exists for Facebook-Login accounts only (UNCONFIRMED);
        # where Meta refuses, a human deletes it, and the error says where.
        try:
            body = self.graph.call("DELETE", remote_id, what=N_("deleting the post"),
                                   story=story)
        except PostRejected as exc:
            cause = graph_cause(exc)
            # Token errors stay what they are (renew the token); a refusal of the call
            # itself (unsupported, or not permitted for this kind of account) means by hand.
            if cause is None or cause.code not in {str(c) for c in _DELETE_REFUSED}:
                raise
            url = self._permalink(remote_id, story or "")
            raise DeleteByHand(
                "instagram",
                (_("Instagram would not delete post {post} through the API (code {code}): "
                   "{hint}: {url}") if url else
                 _("Instagram would not delete post {post} through the API (code {code}): "
                   "{hint}")).format(post=remote_id, code=cause.code, hint=_(MANUAL_DELETE_HINT),
                                     url=url),
                story=story,
                url=url,
            ) from exc
        if body.get("success") is not True:
            raise DeleteByHand(
                "instagram", _("Instagram did not confirm deleting post {post}: {hint}").format(
                    post=remote_id, hint=_(MANUAL_DELETE_HINT)), story=story,
                url=self._permalink(remote_id, story or ""),
            )

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """`GET /{ig-media-id}/insights` per post. Instagram's `(#10)` (too few viewers so far)
        makes every number "not yet"; a metric left out of the answer (data lags up to 48
        hours) is "not yet" too, never 0; a media Graph says does not exist is gone."""
        return {media_id: self._metrics(media_id) for media_id in dict.fromkeys(remote_ids)}

    def _metrics(self, media_id: str) -> PostMetrics:
        try:
            body = self.graph.call("GET", f"{media_id}/insights",
                                   what=N_("reading the post's numbers"),
                                   params={"metric": ",".join(MEDIA_METRICS)})
        except PostRejected as exc:
            if too_few_viewers(exc):
                return PostMetrics(media_id, unavailable={
                    m: ("not_yet", _(TOO_FEW_VIEWERS)) for m in SPECS["instagram"].metrics})
            if gone_on_read(exc):
                return PostMetrics(media_id, gone=True,
                                   detail=_("Instagram says this post no longer exists"))
            raise
        return read_media_metrics(media_id, body)

    def check_credentials(self) -> CredentialReport:
        body = self.graph.call(
            "GET", self.account, what=N_("checking the Instagram token"),
            params={"fields": "id,username"},
        )
        warnings: list[str] = []
        limit = self.graph.call(
            "GET", f"{self.account}/content_publishing_limit", what=N_("reading the quota"),
            params={"fields": "quota_usage,config"},
        )
        usage, total = _quota(limit)
        if usage is not None and total is not None and total - usage < 3:
            warnings.append(ngettext("only {left} of {total} post left in the 24-hour quota",
                                     "only {left} of {total} posts left in the 24-hour quota",
                                     total).format(left=total - usage, total=total))
        return CredentialReport(
            "instagram", "@" + str(body.get("username") or body.get("id")),
            warnings=tuple(warnings), media_host=self.media_host, **token_facts(self.graph),
        )


def read_media_metrics(media_id: str, body: Mapping[str, object]) -> PostMetrics:
    """Our numbers from one `GET /{ig-media-id}/insights` answer."""
    given = insight_values(body)
    values = {ours: number for theirs, ours in MEDIA_METRICS.items()
              if (number := count(given.get(theirs))) is not None}
    unavailable = {m: ("not_yet", _(LAGGING)) for m in SPECS["instagram"].metrics
                   if m not in values}
    return PostMetrics(media_id, values, unavailable)


def _quota(body: dict[str, object]) -> tuple[int | None, int | None]:
    data = body.get("data")
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None, None
    entry = data[0]
    config = entry.get("config")
    usage = entry.get("quota_usage")
    total = config.get("quota_total") if isinstance(config, dict) else None
    return (
        usage if isinstance(usage, int) else None,
        total if isinstance(total, int) else None,
    )


# Container error subcodes that a retry cannot fix (the image itself is wrong).
_PERMANENT_SUBCODES = ("2207004", "2207009", "2207026", "2207052")


def _container_error(status: str, story: str) -> PublishError:
    if any(code in status for code in _PERMANENT_SUBCODES):
        return PostRejected(
            "instagram", _("Instagram could not use the image ({status}): check that the card "
                           "is a JPEG under 8 MiB with a ratio between 4:5 and 1.91:1, and that "
                           "the media host serves it publicly").format(status=status),
            story=story,
        )
    return PostRetryable(
        "instagram", _("the media container failed ({status}): a retry makes a new "
                       "one").format(status=status or _("no detail")), story=story,
    )


__all__ = ["InstagramPublisher", "read_media_metrics"]
