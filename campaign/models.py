"""The small typed models that the stages of the flow hand to each other.

    stories.py  -> Story            (one valid story file)
    captions.py -> Caption          (one per story and platform)
    cards/      -> Card             (one per story and card format)
    planner.py  -> Plan of Post     (one per story and platform, with its due time)
    check.py    -> CheckReport      (Problems of every file, and the plan)

Models are frozen: a stage never edits what another stage made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Literal, get_args

Platform = Literal["x", "facebook", "instagram", "linkedin", "mastodon", "bluesky"]
PLATFORMS: tuple[Platform, ...] = get_args(Platform)

CardFormat = Literal["portrait", "square", "landscape"]
CARD_SIZES: dict[CardFormat, tuple[int, int]] = {
    "portrait": (1080, 1350),
    "square": (1080, 1080),
    "landscape": (1600, 900),
}

Severity = Literal["error", "warning"]


def post_key(story_id: str, platform: str) -> str:
    """A post's identity, `story/platform`: its key in the ledger and the scheduler, Mastodon's
    Idempotency-Key and Bluesky's record key are made from it. Built here only."""
    return f"{story_id}/{platform}"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file: `stories/x.md:7: consent.signed: message`.

    `file` is relative to the repository root; `line` is 1-based or None;
    `field` is a dotted front-matter path or None for the file as a whole.
    `message` is in the staff's language; `code` names the kind of problem in words
    that never change (`yaml.colon_in_text`), for tools reading `--json`.
    """

    file: str
    line: int | None
    field: str | None
    message: str
    severity: Severity = "error"
    code: str = ""

    def format(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"

    def as_json(self) -> dict[str, object]:
        return {"file": self.file, "line": self.line, "field": self.field, "code": self.code,
                "message": self.message}


@dataclass(frozen=True)
class Consent:
    signed: date
    reference: str
    platforms: tuple[Platform, ...] | None  # None: every enabled platform
    expires: date | None

    def valid_on(self, day: date) -> bool:
        """Signed on or before `day` and not expired on it."""
        return self.signed <= day and (self.expires is None or day <= self.expires)


@dataclass(frozen=True)
class Story:
    """One valid story file. Text fields are cleaned of control and bidi-override characters."""

    id: str  # the file name without .md: stable, used in the ledger and in commands
    file: str  # relative to the repository root
    title: str
    name: str
    quote: str
    body: str  # Markdown
    consent: Consent
    age: int | None = None
    diagnosis: str | None = None
    photo: Path | None = None  # absolute, resolved, inside the repository
    photo_alt: str | None = None
    photo_focus: tuple[float, float] | None = None  # (x, y) in 0..1 of the photo
    day: date | None = None  # explicit day from the file
    hashtags: tuple[str, ...] = ()  # without '#'
    link: str | None = None
    overrides: dict[Platform, str] = field(default_factory=dict)  # per-platform captions
    content_hash: str = ""  # sha256 of the file's bytes and the photo's bytes
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # field -> line


@dataclass(frozen=True)
class Caption:
    """A caption as one platform will receive it, counted the way that platform counts."""

    platform: Platform
    text: str
    length: int
    limit: int
    shortened: bool = False
    from_override: bool = False
    facets: tuple[dict[str, object], ...] = ()  # Bluesky rich-text facets (UTF-8 byte offsets)


@dataclass(frozen=True)
class Card:
    """A rendered card image file for one story and one format."""

    story_id: str
    format: CardFormat
    path: Path
    width: int
    height: int
    bytes: int
    alt_text: str
    cached: bool = False


@dataclass(frozen=True)
class Post:
    """One planned post: a story on a platform at a time (aware UTC)."""

    story_id: str
    platform: Platform
    day: date
    due: datetime  # aware, UTC

    @property
    def key(self) -> str:
        """The post's identity in the ledger and towards idempotent APIs."""
        return post_key(self.story_id, self.platform)


@dataclass(frozen=True)
class LedgerFacts:
    """What the plan needs from the ledger: days already given, stories withdrawn.

    `pinned` holds each story that has posts in the ledger and the day they are
    for: a running week keeps those days, so a story dropped in never shifts
    another. Empty for a campaign that has never run.
    """

    pinned: dict[str, date] = field(default_factory=dict)
    withdrawn: frozenset[str] = frozenset()


FateKind = Literal["planned", "spare", "invalid", "withdrawn", "ignored"]


@dataclass(frozen=True)
class Fate:
    """What becomes of one file in stories/ (SPEC §11): exactly one of the kinds.

    planned: posted on `day`; spare: a reserve story, not posted (`reason` says
    which day it lost and to whom); invalid: has errors (`reason`: the first);
    withdrawn: consent withdrawn, never posted; ignored: looks like a story but
    is not read (`reason`: why, and what to do).
    """

    file: str
    story_id: str
    kind: FateKind
    day: date | None = None
    reason: str | None = None
    severity: Severity | None = None  # for an ignored file: does it look like a story?

    def describe(self) -> str:
        """The fate in plain words, for people."""
        from campaign.i18n import _, format_day

        if self.kind == "planned":
            return _("planned on {day}").format(day=format_day(self.day) if self.day else "")
        if self.kind == "withdrawn":
            return _("consent withdrawn: never posted")
        what = {"spare": _("a reserve story: not posted"),
                "invalid": _("not posted: it has an error")}.get(self.kind, _("not read"))
        return _("{what} ({reason})").format(what=what, reason=self.reason) if self.reason else what


@dataclass(frozen=True)
class Plan:
    posts: tuple[Post, ...]
    days: dict[date, str | None]  # each campaign day -> story id, or None when empty
    spares: tuple[str, ...]
    problems: tuple[Problem, ...]  # consent and day conflicts found while planning
    spare_reasons: dict[str, str] = field(default_factory=dict)  # spare id -> why, in plain words
