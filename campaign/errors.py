"""The project's exceptions, one tree.

Every error a user can meet says what is wrong and what to do about it. Lower
level errors (YAML, pydantic, Pillow, requests, tweepy) are translated into
these at the boundary of the module that called them.

    CampaignError                  anything of ours; the CLI exits non-zero with its message
    ├── UserError                  the user can fix it; exit code 1
    │   ├── ConfigError            campaign.toml is missing or invalid (file, line, key, fix)
    │   ├── StoryError             a story file is invalid; carries every Problem found
    │   ├── CardError              a card cannot be made (text does not fit, photo unusable)
    │   └── PostRefused            the publish path will not post (paused, consent, approval)
    ├── PublishError               a publisher's call failed; always names platform and story
    │   ├── PostRejected           will not succeed on retry (bad media, refused caption,
    │   │                          no permission, duplicate, expired or revoked token)
    │   ├── PostRetryable          may succeed later (429 with reset time, 5xx, timeout,
    │   │                          connection error before the request was sent)
    │   └── OutcomeUnknown         the request may have been applied; reconcile before retry
    └── LedgerError                the ledger cannot be read or written
        └── SchedulerLocked        another `campaign run` holds the ledger (names its pid)

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


class PublishError(CampaignError):
    """A publisher's call failed. Subclasses say whether a retry can help."""

    def __init__(self, platform: str, message: str, *, story: str | None = None) -> None:
        self.platform = platform
        self.story = story
        where = f"{platform}" + (f" ({story})" if story else "")
        super().__init__(f"{where}: {message}")


class PostRejected(PublishError):
    """The platform refused the post; the same request will be refused again."""


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
