"""What each platform is, in one place: one `PlatformSpec` per platform.

Every module outside `publishers/` and `sandbox/` reads platform facts from here
(display name, caption limit and how it is counted, hashtag and link rules, alt-text
limit, image limits, card format, where the feed folds, secrets, permissions, token
renewal) and never names a platform itself; `tests/test_platforms.py` holds that.
Each platform's settings in campaign.toml (`[platforms.<id>]`) are here too.

Adding a platform: its id in `models.Platform`, one `PlatformSpec` and settings class
here, one publisher module in `publishers/`, one sandbox module in `sandbox/`, and
their tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from typing import Literal

from pydantic import Field, field_validator, model_validator

from campaign.i18n import N_, _
from campaign.models import PLATFORMS, CardFormat, Platform
from campaign.validation import CodedError, Strict, check_url

#: How a platform counts a caption against its limit (see `counting.caption_length`).
Counting = Literal["characters", "x-weighted", "graphemes", "urls-as-23"]


@dataclass(frozen=True)
class Fold:
    """Where a platform's feed cuts a caption and shows "… meer" (more).

    `chars`: characters shown before the cut; `lines`: lines shown at most (the
    first limit reached wins). No platform documents these; each figure is an
    estimate from the sources named in `source`.
    """

    chars: int
    lines: int | None
    source: str


@dataclass(frozen=True)
class PlatformSpec:
    """The facts about one platform that the stages of the flow need.

    Limits that an instance may change (Mastodon's) are defaults here; the
    platform's settings may carry `char_limit` and `alt_text_limit`, which win.
    """

    id: Platform
    name: str  # as people write it
    other_names: tuple[str, ...]  # what people write instead of the id (lower case)
    # The caption.
    caption_limit: int
    counting: Counting
    unit: str  # the unit of caption_limit, for messages
    caption_byte_limit: int | None  # UTF-8 bytes, besides caption_limit
    links_clickable: bool  # False: a link in the caption shows as plain text
    link_line: str | None  # the line that replaces the link when links are not clickable
    hashtag_cap: int | None  # most hashtags a caption may carry; None: no cap
    facets: bool  # links and hashtags are marked up with byte offsets (rich text)
    fold: Fold | None  # where the feed cuts the caption; None: shown whole
    # The card.
    alt_text_limit: int
    image_byte_limit: int  # a card is at most this many bytes
    image_formats: tuple[str, ...]  # MIME types the platform takes for an image post
    card_format: CardFormat  # the default; `[platforms.<id>] card_format` wins
    settings: type[PlatformSettings]
    # Credentials.
    secrets: tuple[str, ...]  # environment variables, in the order a human sets them up
    optional_secrets: tuple[str, ...]  # variables that let doctor check more
    posting_scopes: tuple[frozenset[str], ...]  # alternatives; one complete one suffices
    metrics_scopes: tuple[frozenset[str], ...]
    metrics: tuple[str, ...]  # the numbers its metrics call gives (names: publishers.base.METRICS)
    scope_fix: str  # what to do when the token lacks a posting permission (N_(): show with _())
    token_expires: bool  # False: the credentials do not expire (OAuth 1.0a keys, ...)
    renew_how: str  # how a token is renewed, in words for a person (N_(): show with _())
    expiry_help: str = ""  # what lets doctor read the expiry when the platform does not say (N_())
    # Publisher options for rehearsals, where a campaign day lasts seconds.
    rehearsal_options: dict[str, object] = field(default_factory=dict)

    def card_format_for(self, settings: PlatformSettings | None) -> CardFormat:
        """`card_format` of the platform's settings, else this platform's default."""
        chosen = settings.card_format if settings is not None else None
        return chosen or self.card_format

    def caption_limit_for(self, settings: PlatformSettings | None) -> int:
        value = getattr(settings, "char_limit", None)
        return value if isinstance(value, int) else self.caption_limit

    def alt_text_limit_for(self, settings: PlatformSettings | None) -> int:
        value = getattr(settings, "alt_text_limit", None)
        return value if isinstance(value, int) else self.alt_text_limit

    def hashtag_cap_for(self, settings: PlatformSettings | None) -> int | None:
        value = getattr(settings, "hashtag_cap", None)
        return value if isinstance(value, int) else self.hashtag_cap

    def link_line_for(self, settings: PlatformSettings | None) -> str | None:
        """The line that stands for the link (None: the link itself)."""
        if self.links_clickable:
            return None
        if settings is None:
            return self.link_line
        value = getattr(settings, "link_line", self.link_line)
        return value if isinstance(value, str) else None


class PlatformSettings(Strict):
    """Settings every platform has."""

    enabled: bool = True
    post_time: time | None = None  # None: the campaign's post_time
    card_format: CardFormat | None = None  # None: the platform's default (PlatformSpec)
    api_url: str | None = None  # the CAMPAIGN_<PLATFORM>_API_URL variable wins over this

    _api_url = field_validator("api_url")(check_url)


class XSettings(PlatformSettings):
    username: str = "campaign"  # used to build the public URL of a post


class FacebookSettings(PlatformSettings):
    page_id: str = Field(min_length=1)


class InstagramSettings(PlatformSettings):
    account_id: str = Field(min_length=1)
    # Instagram announced it is lowering the cap to 5 (platform-apis.md §3.5).
    hashtag_cap: int = Field(default=5, ge=0, le=30)
    # Links are not clickable on Instagram: this line replaces the link, or None to keep it.
    link_line: str | None = "Link in bio"
    media_host: Literal["directory", "s3"] = "directory"
    media_dir: str | None = None  # media_host = directory: the folder the web server publishes
    media_base_url: str | None = None  # ... and the public https base URL of that folder
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str | None = None

    _media_base_url = field_validator("media_base_url", "s3_endpoint_url")(check_url)

    @model_validator(mode="after")
    def _host_complete(self) -> InstagramSettings:
        if self.media_host == "directory" and not (self.media_dir and self.media_base_url):
            raise CodedError(
                _("media_host = directory needs media_dir and media_base_url: set both, "
                  "or use media_host = s3 with s3_bucket"), "instagram.media_host_incomplete"
            )
        if self.media_host == "s3" and not self.s3_bucket:
            raise CodedError(_("media_host = s3 needs s3_bucket: set it"),
                             "instagram.media_host_incomplete")
        return self


class LinkedInSettings(PlatformSettings):
    organization_id: str = Field(min_length=1, pattern=r"^\d+$")


class MastodonSettings(PlatformSettings):
    instance_url: str
    visibility: Literal["public", "unlisted", "private"] = "public"
    # Instances differ; the publisher reads the real limit from /api/v2/instance.
    char_limit: int = Field(default=500, ge=100)
    # Alt text limit (configuration.media_attachments.description_limit; 1500 by default).
    alt_text_limit: int = Field(default=1500, ge=100)

    _instance = field_validator("instance_url")(check_url)


class BlueskySettings(PlatformSettings):
    handle: str = Field(min_length=1)
    pds_url: str = "https://bsky.social"

    _pds = field_validator("pds_url")(check_url)


class PlatformsSettings(Strict):
    x: XSettings | None = None
    facebook: FacebookSettings | None = None
    instagram: InstagramSettings | None = None
    linkedin: LinkedInSettings | None = None
    mastodon: MastodonSettings | None = None
    bluesky: BlueskySettings | None = None


_JPEG_PNG = ("image/jpeg", "image/png")

SPECS: dict[Platform, PlatformSpec] = {
    "x": PlatformSpec(
        id="x", name="X", other_names=("twitter", "x.com", "twitter/x"),
        caption_limit=280, counting="x-weighted", unit="weighted characters",  # twitter-text v3
        caption_byte_limit=None, links_clickable=True, link_line=None, hashtag_cap=None,
        facets=False, fold=None,
        alt_text_limit=1000, image_byte_limit=5_000_000,  # "5 MB" (platform-apis.md §1.6)
        image_formats=("image/jpeg", "image/png", "image/webp"), card_format="landscape",
        settings=XSettings,
        secrets=("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"),
        optional_secrets=(),
        # OAuth 1.0a: the app's access level, as X sends it in `x-access-level`.
        posting_scopes=(frozenset({"read-write"}), frozenset({"read-write-directmessages"})),
        # Any access level reads: X's `x-access-level` is one of these words.
        metrics_scopes=(frozenset({"read"}), frozenset({"read-write"}),
                        frozenset({"read-write-directmessages"})),
        metrics=("views", "likes", "reposts", "replies", "quotes", "saves", "clicks",
                 "profile_clicks"),  # clicks and profile_clicks: own posts under 30 days
        scope_fix=N_("set the app's permissions to Read and Write in the X developer portal, then "
                     "regenerate the access token and secret (X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET)"),
        token_expires=False,
        renew_how=N_("regenerate the access token and secret in the X developer portal"),
    ),
    "facebook": PlatformSpec(
        id="facebook", name="Facebook", other_names=("fb", "meta"),
        caption_limit=63206, counting="characters", unit="characters",  # commonly cited
        caption_byte_limit=None, links_clickable=True, link_line=None, hashtag_cap=None,
        facets=False,
        # "Facebook collapses posts behind 'See more' at roughly 477 characters; on mobile the
        # fold lands around 125" (socialk.it, posthell.com). We show the mobile fold: the comms
        # team's readers are mostly on phones. An estimate.
        fold=Fold(125, 3, N_("estimate: about 125 characters on a phone, about 477 on a "
                             "desktop (socialk.it, posthell.com); Meta does not document it")),
        # Neither Meta nor anyone we read documents an alt-text limit: X's 1000, to be safe.
        alt_text_limit=1000,
        image_byte_limit=10_000_000 - 1,  # "less than 10 MB" (platform-apis.md §2.3)
        image_formats=_JPEG_PNG, card_format="square", settings=FacebookSettings,
        secrets=("FACEBOOK_PAGE_TOKEN",),
        optional_secrets=(),
        posting_scopes=(
            frozenset({"pages_manage_posts", "pages_read_engagement", "pages_show_list"}),),
        metrics_scopes=(frozenset({"read_insights"}),),
        metrics=("views", "reach", "likes", "reposts", "replies", "clicks"),
        scope_fix=N_("make a new Page token with these permissions (Graph API Explorer or the app's "
                     "login flow, as a Page admin) and put it in FACEBOOK_PAGE_TOKEN"),
        token_expires=True,
        renew_how=N_("exchange a fresh long-lived user token and take the Page token from "
                     "/me/accounts"),
    ),
    "instagram": PlatformSpec(
        id="instagram", name="Instagram", other_names=("ig", "insta"),
        caption_limit=2200, counting="characters", unit="characters",
        caption_byte_limit=None, links_clickable=False, link_line="Link in bio",
        hashtag_cap=5,  # Instagram announced it is lowering the cap to 5 (platform-apis.md §3.5)
        facets=False,
        # "Instagram won't display an entire 2200 character post, just the first 125
        # characters" (charactercounter.com/instagram); "about the first 125 characters
        # (roughly two lines) are visible before 'more'" (blog.aitoearn.ai); bulkpublish.com
        # the same. Not in Meta's documentation: an estimate.
        fold=Fold(125, 2, N_("estimate: about 125 characters or 2 lines (charactercounter.com, "
                             "bulkpublish.com); Meta does not document it")),
        alt_text_limit=1000,  # as quoted, unconfirmed in Meta's primary docs
        image_byte_limit=8_000_000,  # "less than 8 MiB" (§3.4); 8 MB is within either reading
        image_formats=("image/jpeg",), card_format="portrait", settings=InstagramSettings,
        secrets=("INSTAGRAM_TOKEN",),
        optional_secrets=(),
        posting_scopes=(
            frozenset({"instagram_basic", "instagram_content_publish"}),  # Facebook Login
            frozenset({"instagram_business_basic", "instagram_business_content_publish"}),  # IG
        ),
        metrics_scopes=(frozenset({"instagram_manage_insights"}),
                        frozenset({"instagram_business_manage_insights"})),
        metrics=("views", "reach", "likes", "reposts", "replies", "saves", "interactions"),
        scope_fix=N_("make a new token with these permissions for the Instagram account and put it "
                     "in INSTAGRAM_TOKEN"),
        token_expires=True,
        renew_how=N_("refresh it with GET graph.instagram.com/refresh_access_token (it must be at "
                     "least 24 hours old), or log in again"),
        rehearsal_options={"poll_interval": 0.02},
    ),
    "linkedin": PlatformSpec(
        id="linkedin", name="LinkedIn", other_names=("linked-in", "linked in"),
        caption_limit=3000, counting="characters", unit="characters",  # LinkedIn Help
        caption_byte_limit=None, links_clickable=True, link_line=None, hashtag_cap=None,
        facets=False,
        # "Organic posts have a 3-line preview" (John Espirian, Sept. 2024); "posts are
        # truncated after approximately 210 characters" (web-3-apps.com); with an image on a
        # phone nearer 100-140 (boltpost.app, postking.io). An estimate.
        fold=Fold(140, 3, N_("estimate: 3 lines, about 140-210 characters (John Espirian 2024, "
                             "web-3-apps.com, boltpost.app); LinkedIn does not document it")),
        alt_text_limit=4086,
        # LinkedIn limits pixels (36,152,320), not bytes; this keeps uploads quick.
        image_byte_limit=10_000_000,
        image_formats=("image/jpeg", "image/png", "image/gif"), card_format="landscape",
        settings=LinkedInSettings,
        secrets=("LINKEDIN_TOKEN",),
        # The app's id and secret let doctor read the token's expiry and permissions.
        optional_secrets=("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
        posting_scopes=(frozenset({"w_organization_social"}),),
        metrics_scopes=(frozenset({"rw_organization_admin"}),),
        metrics=("views", "reach", "likes", "reposts", "replies", "clicks"),
        scope_fix=N_("the app needs the Community Management API product and the member an admin "
                     "or content-admin role on the page; then authorise again and update "
                     "LINKEDIN_TOKEN"),
        token_expires=True,
        renew_how=N_("authorise the app again (or use its refresh token) and update LINKEDIN_TOKEN"),
        expiry_help=N_("set LINKEDIN_CLIENT_ID and LINKEDIN_CLIENT_SECRET to let doctor read it"),
    ),
    "mastodon": PlatformSpec(
        id="mastodon", name="Mastodon", other_names=("toot", "fediverse"),
        caption_limit=500, counting="urls-as-23", unit="characters",  # instances differ
        caption_byte_limit=None, links_clickable=True, link_line=None, hashtag_cap=None,
        facets=False, fold=None,  # shown whole unless it has a content warning
        alt_text_limit=1500,  # description_limit's default
        image_byte_limit=16 * 1024 * 1024,  # image_size_limit's default
        image_formats=("image/jpeg", "image/png", "image/webp", "image/gif"),
        card_format="landscape", settings=MastodonSettings,
        secrets=("MASTODON_TOKEN",),
        optional_secrets=(),
        posting_scopes=(frozenset({"write:media", "write:statuses"}), frozenset({"write"})),
        metrics_scopes=(frozenset({"read:statuses"}), frozenset({"read"})),
        metrics=("likes", "reposts", "replies", "quotes"),
        scope_fix=N_("create an application with write:media and write:statuses under Preferences "
                     "→ Development and put its token in MASTODON_TOKEN"),
        token_expires=False,
        renew_how=N_("create a new application token under Preferences → Development"),
    ),
    "bluesky": PlatformSpec(
        id="bluesky", name="Bluesky", other_names=("bsky", "blue sky"),
        caption_limit=300, counting="graphemes", unit="graphemes",
        caption_byte_limit=3000,  # app.bsky.feed.post text maxLength
        links_clickable=True, link_line=None, hashtag_cap=None,
        facets=True, fold=None,  # 300 graphemes are shown whole
        alt_text_limit=2000,  # the app's limit; the lexicon has none
        image_byte_limit=2_000_000,  # app.bsky.embed.images maxSize
        image_formats=("image/jpeg", "image/png", "image/webp"), card_format="landscape",
        settings=BlueskySettings,
        secrets=("BLUESKY_APP_PASSWORD",),
        optional_secrets=(),
        posting_scopes=(), metrics_scopes=(),  # app passwords carry no scopes
        metrics=("likes", "reposts", "replies", "quotes"),
        scope_fix=N_("make a new app password under Settings → Privacy and security → App passwords"),
        token_expires=False,
        renew_how=N_("make a new app password under Settings → Privacy and security → App passwords"),
    ),
}

assert tuple(SPECS) == PLATFORMS, "one spec per platform, in models.PLATFORMS order"

#: Each platform's colour in the report's charts (Okabe-Ito: told apart with colour
#: blindness too); report.css has the same for its swatches.
CHART_COLOURS: dict[Platform, str] = {
    "x": "#000000", "facebook": "#0072B2", "instagram": "#CC79A7", "linkedin": "#009E73",
    "mastodon": "#E69F00", "bluesky": "#56B4E9",
}


def spec(platform: Platform) -> PlatformSpec:
    """The facts about `platform`."""
    return SPECS[platform]


def display_name(platform: str) -> str:
    """The platform's name as people write it (the id itself for an unknown one)."""
    known = SPECS.get(platform)  # type: ignore[call-overload]
    return known.name if known is not None else platform


def from_written(value: str) -> Platform | None:
    """The platform a person meant by `value` ("Twitter", "LinkedIn "), or None."""
    lower = value.strip().lower()
    for platform, facts in SPECS.items():
        if lower == platform or lower in facts.other_names:
            return platform
    return None


def all_secrets() -> tuple[str, ...]:
    """Every platform's environment variables."""
    return tuple(name for facts in SPECS.values() for name in facts.secrets)


__all__ = [
    "CHART_COLOURS",
    "SPECS",
    "BlueskySettings",
    "FacebookSettings",
    "Fold",
    "InstagramSettings",
    "LinkedInSettings",
    "MastodonSettings",
    "PlatformSettings",
    "PlatformSpec",
    "PlatformsSettings",
    "XSettings",
    "all_secrets",
    "display_name",
    "from_written",
    "spec",
]
