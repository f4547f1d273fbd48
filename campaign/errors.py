"""The project's exceptions, one tree.

Every error a user can meet says what is wrong and what to do about it. Lower
level errors (YAML, pydantic, Pillow, requests, tweepy) are translated into
these at the boundary of the module that called them. The number after each
class is its `exit_code`: what a command exits with when the error stops it
(the README's "Exit codes" lists the same; `tests/test_errors.py` holds the three
together).

    CampaignError              3  anything of ours that stopped a command
    ├── UserError              1  the user can fix it
    │   ├── ConfigError        1  campaign.toml is missing or invalid (file, line, key, fix)
    │   ├── StoryError         1  a story file is invalid; carries every Problem found
    │   ├── CardError          1  a card cannot be made (photo unusable)
    │   │   └── CardTextError  1  the card's text does not fit or has no glyphs
    │   ├── PostRefused        1  the publish path will not post (paused, consent, approval)
    │   ├── SecretMissing      1  an environment variable a platform needs is not set
    │   ├── SignInRefused      1  the workspace refused a sign-in (wrong password, locked)
    │   └── SandboxError       1  the sandbox cannot start or was asked something it cannot do
    ├── PublishError           3  a publisher's call failed; always names platform and story
    │   ├── PostRejected       3  will not succeed on retry (bad media, refused caption,
    │   │   │                     no permission, duplicate, expired or revoked token)
    │   │   ├── DeleteByHand   3  the platform's API cannot delete this post: a human must
    │   │   └── VersionRefused 3  the platform no longer serves the pinned API version
    │   ├── PostRetryable      3  may succeed later (429 with reset time, 5xx, timeout,
    │   │                         connection error before the request was sent)
    │   └── OutcomeUnknown     3  the request may have been applied; reconcile before retry
    ├── LedgerError            3  the ledger cannot be read or written
    │   └── SchedulerLocked    1  another `campaign run` holds the ledger (names its pid)
    └── DeliveryFailed         3  an alert channel could not deliver; the alert is retried

`SecretMissing` lives in `secrets.py`, `CardTextError` in `cards/text.py`,
`SignInRefused` in `accounts.py`, next to what raises them; the rest are here.

Messages never contain secrets: publishers build them from the platform's error
body and their own words, never from request headers or URLs with tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from campaign.models import Problem


class CampaignError(Exception):
    """Base of every error of ours."""

    exit_code = 3


class UserError(CampaignError):
    """Something the user can fix: a file, a setting, a command's argument."""

    exit_code = 1


class ConfigError(UserError):
    """campaign.toml is missing or invalid. Carries each problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class StoryError(UserError):
    """A story file is invalid. Carries each problem found, not only the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class CardError(UserError):
    """A card cannot be rendered from a story (names the story, the field and the fix)."""


class PostRefused(UserError):
    """The publish path refuses to post: paused, consent, withdrawn or not approved."""


class SandboxError(UserError):
    """The sandbox cannot start (its port is taken, say) or was asked something it cannot do."""


class PublishError(CampaignError):
    """A publisher's call failed. Subclasses say whether a retry can help."""

    def __init__(self, platform: str, message: str, *, story: str | None = None) -> None:
        self.platform = platform
        self.story = story
        where = f"{platform}" + (f" ({story})" if story else "")
        super().__init__(f"{where}: {message}")


class PostRejected(PublishError):
    """The platform refused the post; the same request will be refused again."""


class DeleteByHand(PostRejected):
    """The platform's API will not delete this post; `url` is where a human can."""

    def __init__(
        self, platform: str, message: str, *, story: str | None = None, url: str | None = None
    ) -> None:
        self.url = url
        super().__init__(platform, message, story=story)


class VersionRefused(PostRejected):
    """The platform no longer serves the API version the publisher pins (LinkedIn's 426)."""

    def __init__(self, platform: str, message: str, *, version: str) -> None:
        self.version = version
        super().__init__(platform, message)


class PostRetryable(PublishError):
    """A temporary failure; `reset_at` is when the platform said to try again, if it did."""

    def __init__(
        self,
        platform: str,
        message: str,
        *,
        story: str | None = None,
        reset_at: datetime | None = None,
    ) -> None:
        self.reset_at = reset_at
        super().__init__(platform, message, story=story)


class OutcomeUnknown(PublishError):
    """The request may have been applied. Look the post up before any retry."""


class LedgerError(CampaignError):
    """The ledger file cannot be opened, migrated or written."""


class SchedulerLocked(LedgerError):
    """Another scheduler holds the ledger's lock."""

    exit_code = 1


class DeliveryFailed(CampaignError):
    """One channel could not deliver an alert; the alert stays unsent and is retried."""
