"""The platform stage: one publisher per platform behind one interface (`base.Publisher`).

`make_publisher(platform, settings, session, env)` builds the publisher for a
platform from campaign.toml's settings, a `requests.Session` and the environment
(secrets and base URL overrides): X, Facebook, Instagram, LinkedIn, Mastodon and
Bluesky, one line each in `_BUILDERS` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import requests

from campaign.config import Settings
from campaign.errors import UserError
from campaign.models import Platform
from campaign.publishers.base import (
    ApiVersion,
    CredentialReport,
    DeleteByHand,
    Published,
    Publisher,
    PublishRequest,
    RecentPost,
    VersionRefused,
)

# platform -> (module, class); imported on demand so that a platform's library
# (tweepy, boto3) is only loaded when that platform is used.
_BUILDERS: dict[Platform, tuple[str, str]] = {
    "x": ("campaign.publishers.x", "XPublisher"),
    "facebook": ("campaign.publishers.facebook", "FacebookPublisher"),
    "instagram": ("campaign.publishers.instagram", "InstagramPublisher"),
    "linkedin": ("campaign.publishers.linkedin", "LinkedInPublisher"),
    "mastodon": ("campaign.publishers.mastodon", "MastodonPublisher"),
    "bluesky": ("campaign.publishers.bluesky", "BlueskyPublisher"),
}


def supported_platforms() -> tuple[Platform, ...]:
    return tuple(_BUILDERS)


def make_publisher(
    platform: Platform,
    settings: Settings,
    session: requests.Session,
    env: Mapping[str, str] | None = None,
    **options: Any,
) -> Publisher:
    """The publisher for `platform`, configured from `settings` and the environment.

    `options` go to the publisher's constructor (`timeout=`, Instagram's
    `media_host=`, `poll_interval=`...). Raises UserError when the platform is not
    configured and SecretMissing (a UserError) when a secret is not set.
    """
    platform_settings = settings.platform(platform)
    if platform_settings is None:
        raise UserError(
            f"{platform}: there is no [platforms.{platform}] table in campaign.toml: add one "
            "or leave the platform out"
        )
    cls = publisher_class(platform)
    publisher: Publisher = cls(platform_settings, session, env, **options)  # type: ignore[call-arg]
    return publisher


def publisher_class(platform: Platform) -> type[Publisher]:
    """The publisher class of `platform` (imported on first use)."""
    if platform not in _BUILDERS:
        raise UserError(f"{platform}: no publisher for this platform yet")
    module_name, class_name = _BUILDERS[platform]
    cls: type[Publisher] = getattr(importlib.import_module(module_name), class_name)
    return cls


__all__ = [
    "ApiVersion",
    "CredentialReport",
    "DeleteByHand",
    "PublishRequest",
    "Published",
    "Publisher",
    "RecentPost",
    "VersionRefused",
    "make_publisher",
    "publisher_class",
    "supported_platforms",
]
