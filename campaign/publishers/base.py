"""The one publisher interface, and the models it takes and returns.

Every platform's publisher is a `Publisher`: it posts one card with its caption
and alt text, looks up the account's recent posts (to reconcile an unknown
outcome), deletes a post (consent withdrawal) and checks its credentials cheaply
(`campaign doctor`). Publishers take a `requests.Session` from their caller and
never patch anything; every base URL comes from `secrets.api_base_url`.

Errors, translated at each publisher's boundary (see `campaign.errors`):

    PublishError
    ├── PostRejected      the same request will be refused again: bad media, refused
    │   │                 caption, no permission, duplicate, expired or revoked token
    │   └── DeleteByHand  the platform's API cannot delete this post: a human must
    ├── PostRetryable     try later (`reset_at` when the platform said when): 429, 5xx,
    │                     timeouts of calls that create nothing, connection refused
    └── OutcomeUnknown    the post may exist: the connection dropped or timed out after
                          the creating request was sent. Call `recent_posts` first.

Messages name the platform, the story and the fix, and never contain a secret.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from campaign.errors import DeleteByHand, VersionRefused
from campaign.models import Platform

if TYPE_CHECKING:
    from campaign.publishers.media_host import MediaHost


@dataclass(frozen=True)
class PublishRequest:
    """Everything a publisher needs to post one story on its platform.

    The platform's settings are not repeated here: a publisher is built with them
    (`make_publisher`), so one request cannot disagree with its publisher.
    """

    story_id: str
    post_key: str  # Post.key, "story/platform": the post's identity towards idempotent APIs
    card_path: Path
    caption: str
    alt_text: str
    card_width: int
    card_height: int
    facets: tuple[dict[str, object], ...] = ()  # Bluesky rich-text facets (UTF-8 offsets)
    language: str = "nl"


@dataclass(frozen=True)
class Published:
    """A post that exists on its platform.

    `remote_id` is what `delete` and the ledger use; `url` is the public page of the
    post, or None when the platform did not give it (the post exists all the same).
    `extra` holds other ids the platform returned (a Facebook photo id, say).
    """

    platform: Platform
    remote_id: str
    url: str | None
    created_at: datetime | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RecentPost:
    """One post of the account as the platform lists it, for reconciling."""

    remote_id: str
    text: str
    created_at: datetime | None
    url: str | None = None


#: The numbers of a post that `campaign report` shows, by our names (each platform's own
#: names are mapped onto these by its publisher; README "campaign report" says what each
#: means). A platform offers the ones in its `PlatformSpec.metrics`.
METRICS: tuple[str, ...] = (
    "views",           # times shown: X impressions, Facebook/Instagram views, LinkedIn impressions
    "reach",           # people who saw it (unique): Facebook, Instagram, LinkedIn
    "likes",           # likes, favourites, Facebook's reactions of every kind
    "reposts",         # retweets, reblogs, shares
    "replies",         # replies and comments
    "quotes",          # quote posts
    "saves",           # bookmarks (X), saves (Instagram)
    "clicks",          # clicks on the post or its link
    "profile_clicks",  # clicks through to the account (X)
    "interactions",    # Instagram's total_interactions
)


@dataclass(frozen=True)
class PostMetrics:
    """What a platform said of one post's numbers, at one fetch.

    `values`: the numbers it gave, by the names in METRICS. `unavailable`: numbers it
    offers but did not give this time, each with a status and the reason and fix in
    words (translated): "not_yet" (too few viewers so far, Instagram's (#10), or data
    that lags), "no_permission" (the token lacks a scope: the detail names it).
    `gone`: the platform says the post no longer exists (`detail` says so).
    """

    remote_id: str
    values: Mapping[str, int] = field(default_factory=dict)
    unavailable: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    gone: bool = False
    detail: str = ""


@dataclass(frozen=True)
class ApiVersion:
    """The API version a publisher pins, and when the platform stops serving it."""

    version: str
    sunset: date | None  # None: the platform does not retire versions by date
    sunset_estimated: bool = False  # the date is our estimate, not the platform's word


@dataclass(frozen=True)
class CredentialReport:
    """What `check_credentials` found, for `campaign doctor` to turn into findings.

    `expiry_known`: the platform said when the token expires (`expires_at`), or the
    credentials do not expire (`expires_at` None); False: it could not be read
    (`expiry_note` says why). `scopes`: the permissions the token carries, or None
    when the platform does not say. `api_version`: what the publisher pins, if the
    platform versions its API. `media_host`: where images are put for the platform to
    fetch them (doctor puts a test image there). `warnings` are shown as they are.
    The texts (`invalid_reason`, `expiry_note`, `warnings`) are in the active language:
    the publisher translates them with `_()` when it makes the report.
    """

    platform: Platform
    account: str
    valid: bool = True
    invalid_reason: str = ""  # valid False: what the platform said, and the fix
    expires_at: datetime | None = None
    expiry_known: bool = False
    expiry_note: str = ""
    scopes: tuple[str, ...] | None = None
    api_version: ApiVersion | None = None
    media_host: MediaHost | None = None
    warnings: tuple[str, ...] = ()


class Publisher(abc.ABC):
    """Posts to one account on one platform. One instance per platform and run.

    Implementations are thread-compatible, not thread-safe: the scheduler posts to
    one platform at a time.
    """

    platform: ClassVar[Platform]
    #: The API version every call pins, if the platform versions its API by date.
    api_version: ClassVar[ApiVersion | None] = None

    @abc.abstractmethod
    def publish(self, request: PublishRequest) -> Published:
        """Post the card with its caption and alt text; return the post that now exists.

        Raises:
            PostRejected: the platform refused, and will refuse the same request again.
            PostRetryable: nothing was posted; try again later (after `reset_at` if set).
            OutcomeUnknown: the post may or may not exist; call `recent_posts` before
                any retry, never post again blindly.
        """

    @abc.abstractmethod
    def recent_posts(self, since: datetime | None = None, limit: int = 20) -> list[RecentPost]:
        """The account's most recent posts, newest first, at most `limit` of them.

        `since` (aware) asks the platform for posts created at or after it where the
        platform can filter; callers still compare `created_at` themselves.

        Raises:
            PostRejected: the credentials cannot read the account's posts.
            PostRetryable: the lookup failed for now; try again later.
        """

    @abc.abstractmethod
    def delete(self, remote_id: str, *, story: str | None = None) -> None:
        """Delete a post by its `Published.remote_id`.

        A post the platform plainly says is gone (X's 404) is not an error. Where the
        platform cannot tell "gone" from "not allowed" (Graph's code 100/33), the
        publisher raises PostRejected: consent is at stake, so a human checks.

        Raises:
            DeleteByHand: this platform's API cannot delete it; the message and `url`
                tell a human where to do it.
            PostRejected: the platform refused (no permission, revoked token).
            PostRetryable: try again later.
        """

    def fetch_metrics(self, remote_ids: Sequence[str]) -> dict[str, PostMetrics]:
        """The current numbers of these posts (by `Published.remote_id`), for the report.

        Each asked id is in the answer: with its numbers, or `gone`, or with the
        numbers it could not give in `unavailable`. Batches as the platform allows.

        Raises:
            PostRejected: the token may not read the numbers (the message names the
                permission to add and the variable), or it expired.
            PostRetryable: rate limited (`reset_at` when the platform said) or not
                reachable; try again later.
        """
        raise NotImplementedError(f"{self.platform} has no metrics call")

    @abc.abstractmethod
    def check_credentials(self) -> CredentialReport:
        """A cheap call that proves the credentials work; for `campaign doctor`.

        Raises:
            SecretMissing: a variable is not set (raised when the publisher is built).
            VersionRefused: the platform no longer serves the pinned API version.
            PostRejected: the platform refused the credentials (the message says which
                variable to renew and how).
            PostRetryable: the platform could not be reached; try again.
        """


__all__ = [
    "METRICS",
    "ApiVersion",
    "CredentialReport",
    "DeleteByHand",
    "PostMetrics",
    "PublishRequest",
    "Published",
    "Publisher",
    "RecentPost",
    "VersionRefused",
]
