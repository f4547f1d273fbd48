"""Secrets come from the environment only, are named when missing, and never shown."""

from __future__ import annotations

import logging

import pytest
import requests

from campaign.config import Settings
from campaign.errors import UserError
from campaign.publishers import make_publisher, supported_platforms
from campaign.publishers.facebook import FacebookPublisher
from campaign.publishers.instagram import InstagramPublisher
from campaign.publishers.x import XPublisher
from campaign.secrets import (
    PLATFORM_SECRETS,
    REDACTED,
    RedactingFilter,
    SecretMissing,
    api_base_url,
    missing_secrets,
    quiet_leaky_loggers,
    read_platform_secrets,
    redact,
)

TOKEN = "EAAG-page-token+with/odd=chars"


def test_every_platform_has_its_documented_variables() -> None:
    assert PLATFORM_SECRETS["x"] == (
        "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET",
    )
    assert PLATFORM_SECRETS["facebook"] == ("FACEBOOK_PAGE_TOKEN",)
    assert PLATFORM_SECRETS["instagram"] == ("INSTAGRAM_TOKEN",)
    assert PLATFORM_SECRETS["linkedin"] == ("LINKEDIN_TOKEN",)
    assert PLATFORM_SECRETS["mastodon"] == ("MASTODON_TOKEN",)
    assert PLATFORM_SECRETS["bluesky"] == ("BLUESKY_APP_PASSWORD",)


def test_a_missing_or_blank_secret_is_named_with_the_fix() -> None:
    env = {"X_API_KEY": "k", "X_API_SECRET": "  ", "X_ACCESS_TOKEN": "t"}
    with pytest.raises(SecretMissing) as caught:
        read_platform_secrets("x", env)
    assert caught.value.name == "X_API_SECRET"
    assert "X_API_SECRET is not set" in str(caught.value)
    assert ".env" in str(caught.value)
    assert caught.value.exit_code == 1
    assert missing_secrets("x", env) == ["X_API_SECRET", "X_ACCESS_TOKEN_SECRET"]


def test_api_base_url_prefers_the_variable_then_the_setting_then_the_default() -> None:
    default = "https://graph.facebook.com"
    assert api_base_url("facebook", default, None, {}) == default
    assert api_base_url("facebook", default, "https://proxy.example/", {}) == "https://proxy.example"
    env = {"CAMPAIGN_FACEBOOK_API_URL": "http://127.0.0.1:8931/facebook/"}
    assert api_base_url("facebook", default, "https://proxy.example", env) == (
        "http://127.0.0.1:8931/facebook"
    )
    with pytest.raises(UserError) as caught:
        api_base_url("x", "https://api.twitter.com", None, {"CAMPAIGN_X_API_URL": "localhost:1"})
    assert "CAMPAIGN_X_API_URL" in str(caught.value)


def test_redact_removes_plain_and_url_encoded_values() -> None:
    env = {"FACEBOOK_PAGE_TOKEN": TOKEN, "X_API_KEY": "short"}
    text = (
        f"failed: {TOKEN} and https://graph.example/me?access_token="
        f"{requests.utils.quote(TOKEN, safe='')} and short"
    )
    cleaned = redact(text, env)
    assert TOKEN not in cleaned
    assert "EAAG" not in cleaned
    assert cleaned.count(REDACTED) == 2
    assert "short" in cleaned  # too short to be a credential; redacting it would mangle text


def test_redacting_filter_cleans_records_of_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    handler_filter = RedactingFilter({"INSTAGRAM_TOKEN": TOKEN})
    caplog.handler.addFilter(handler_filter)
    try:
        logging.getLogger("urllib3.somewhere").warning("url had %s in it", TOKEN)
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert TOKEN not in caplog.text
    assert REDACTED in caplog.text


def test_libraries_that_log_oauth_secrets_are_held_at_warning() -> None:
    quiet_leaky_loggers()
    assert not logging.getLogger("oauthlib.oauth1.rfc5849").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("requests_oauthlib.oauth1_auth").isEnabledFor(logging.DEBUG)


def _settings(without: str | None = None) -> Settings:
    platforms = {
        "x": {"username": "CancerCentrumNL"},
        "facebook": {"page_id": "100000000000001"},
        "instagram": {"account_id": "17841400000000001", "media_dir": "/srv/m",
                      "media_base_url": "https://e.org/m"},
        "linkedin": {"organization_id": "1000001"},
        "mastodon": {"instance_url": "https://mastodon.example"},
        "bluesky": {"handle": "campaign.example.org"},
    }
    platforms.pop(without or "", None)
    return Settings.model_validate({
        "campaign": {"name": "Test", "start": "2027-03-08", "end": "2027-03-14"},
        "platforms": platforms,
    })


def test_make_publisher_builds_each_platform_from_settings_and_environment() -> None:
    from campaign.publishers.bluesky import BlueskyPublisher
    from campaign.publishers.linkedin import LinkedInPublisher
    from campaign.publishers.mastodon import MastodonPublisher

    env = {
        "X_API_KEY": "key-123456", "X_API_SECRET": "secret-123456",
        "X_ACCESS_TOKEN": "token-123456", "X_ACCESS_TOKEN_SECRET": "tsecret-123456",
        "FACEBOOK_PAGE_TOKEN": "fb-token-123456", "INSTAGRAM_TOKEN": "ig-token-123456",
        "LINKEDIN_TOKEN": "li-token-123456", "MASTODON_TOKEN": "ma-token-123456",
        "BLUESKY_APP_PASSWORD": "abcd-efgh-ijkl-mnop",
        "CAMPAIGN_FACEBOOK_API_URL": "http://127.0.0.1:9/facebook",
    }
    expected = {"x": XPublisher, "facebook": FacebookPublisher, "instagram": InstagramPublisher,
                "linkedin": LinkedInPublisher, "mastodon": MastodonPublisher,
                "bluesky": BlueskyPublisher}
    assert set(supported_platforms()) == set(expected)
    with requests.Session() as session:
        for platform in supported_platforms():
            publisher = make_publisher(platform, _settings(), session, env)
            assert isinstance(publisher, expected[platform])
        facebook = make_publisher("facebook", _settings(), session, env)
        assert isinstance(facebook, FacebookPublisher)
        assert facebook.graph.base_url == "http://127.0.0.1:9/facebook"
        with pytest.raises(UserError) as caught:
            make_publisher("linkedin", _settings(without="linkedin"), session, env)
        assert "[platforms.linkedin]" in str(caught.value)
        with pytest.raises(SecretMissing):
            make_publisher("x", _settings(), session, {})
