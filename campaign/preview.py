"""`campaign preview`: the week as one static HTML page, for the people who sign it off.

The page (`build/preview/index.html`) shows whether `check` passes, a calendar
of the week, then per day and platform the card, the caption as that platform
shows it (line breaks kept, hashtags and links marked, the fold where the
platform cuts the text with "meer"), its count against the limit, the alt text
and every warning: shortened captions, stories held for approval, consent that
ends within the campaign + 30 days, spare stories, empty days, and what `check`
reported.

It works offline from `file://` and loads nothing from anywhere else: the cards
and the theme's emoji font (theme.font_fallback, for 🧡 and the like) are copied
next to it (`build/preview/cards/`, `build/preview/fonts/`), so the folder can be
zipped and sent to a colleague; the styles are inline; there is no script, and a
Content-Security-Policy forbids any. Story text reaches the page only through
Jinja2's autoescaping (captions are handed over as segments, never as markup).

The page's own words are in the active language (`campaign.i18n`: `--lang`,
`ui_language`, ...), through Jinja2's i18n extension; the stories keep the
campaign's language, with their own `lang=` when it differs, so the browser
hyphenates each text (`hyphens: auto`) with the right dictionary.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Literal

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from campaign import counting, i18n
from campaign.captions import HASHTAG, PLATFORM_NAMES
from campaign.cards import card_format, render_card
from campaign.check import CheckReport
from campaign.config import Project
from campaign.errors import CardError
from campaign.i18n import N_, _, ngettext
from campaign.ledger import Ledger
from campaign.models import Platform, Post, Problem, Story
from campaign.platforms import SPECS, Fold

#: Consent that ends within this many days after the campaign's last day is flagged.
CONSENT_MARGIN = timedelta(days=30)

FOLD_MARKER = "… meer"


#: The feed folds per platform (estimates; see `platforms.py`). None: the platform shows
#: the whole caption.
FOLDS: dict[Platform, Fold | None] = {p: f.fold for p, f in SPECS.items()}

SegmentKind = Literal["text", "hashtag", "link"]


@dataclass(frozen=True)
class Segment:
    kind: SegmentKind
    text: str
    href: str | None = None  # links that are clickable on the platform (http/https only)


@dataclass(frozen=True)
class PageWarning:
    text: str  # the whole message, shown where it applies (a day, a post)
    kind: str  # a key of WARNING_GROUPS
    short: str = ""  # how the summary at the top lists it ("01-marieke on X"); else `text`


#: How the summary at the top groups warnings: kind -> (heading, what to do); marked
#: with N_() and translated where the page is built.
WARNING_GROUPS: dict[str, tuple[str, str]] = {
    "check": (N_("Problems `campaign check` reports"), N_("see each message")),
    "card": (N_("Cards that could not be drawn"),
             N_("see each message, then run `campaign check`")),
    "withdrawn": (N_("Consent withdrawn"), N_("remove the story file from stories/")),
    "held": (N_("Held for approval: not posted until approved"),
             N_("read the story and its preview, then run `campaign approve STORY --by NAME`")),
    "consent": (N_("Consent ending within 30 days after the campaign"),
                N_("renew the consent, or take the posts down that day with "
                   "`campaign withdraw STORY`")),
    "empty": (N_("Days without a story"), N_("add a story with that day: in its front matter")),
    "spare": (N_("Spare stories: more stories than days, not posted"),
              N_("give one a day: instead of another story, or leave it for next year")),
    "shortened": (N_("Captions shortened to fit (they end in '…')"),
                  N_("to choose the words yourself, add `<platform>: shorter text` to the "
                     "story's front matter (e.g. `x: ...`)")),
    "plain_link": (N_("Links shown as plain text"),
                   N_("expected: links in captions are not clickable there; the link line "
                      "points to the profile")),
}

#: The units of the platforms' caption limits (platforms.py's `unit`), as the page shows them.
UNITS: dict[str, str] = {
    "characters": N_("characters"),
    "weighted characters": N_("weighted characters"),
    "graphemes": N_("graphemes"),
}


@dataclass(frozen=True)
class WarningGroup:
    kind: str
    heading: str
    fix: str
    items: tuple[str, ...]


@dataclass(frozen=True)
class PreviewPost:
    platform: Platform
    platform_name: str
    due_local: str
    card_src: str | None  # relative to the page
    card_width: int
    card_height: int
    card_error: str | None
    caption_above: tuple[Segment, ...]  # what the feed shows before "… meer"
    caption_below: tuple[Segment, ...]  # what a reader sees after tapping "meer"
    folded: bool
    links_clickable: bool  # Instagram shows links as plain text
    fold_note: str
    length: int
    limit: int
    unit: str
    alt_text: str
    warnings: tuple[PageWarning, ...]

    @property
    def over(self) -> bool:
        return self.length > self.limit


@dataclass(frozen=True)
class PreviewDay:
    day: date
    label: str  # "maandag 8 maart 2027"; in English: "Monday 8 March 2027"
    anchor: str
    story: Story | None
    posts: tuple[PreviewPost, ...]
    warnings: tuple[PageWarning, ...]


@dataclass(frozen=True)
class PreviewPage:
    campaign_name: str
    language: str  # the campaign's (the stories' text)
    timezone: str
    start: date
    end: date
    generated: str
    check_ok: bool
    errors: tuple[Problem, ...]
    warnings: tuple[PageWarning, ...]  # everything the team should look at, in one list
    groups: tuple[WarningGroup, ...]  # the same, grouped for the summary at the top
    days: tuple[PreviewDay, ...]
    spares: tuple[Story, ...]
    require_approval: bool
    ledger_found: bool
    folds: tuple[tuple[str, str], ...]  # (platform name, where its fold comes from)
    extra: dict[str, int] = field(default_factory=dict)
    ui_language: str = i18n.SOURCE_LANGUAGE  # the language staff read: the page's <html lang>
    emoji_font: str | None = None  # the emoji font's file, relative to the page

    @property
    def content_lang(self) -> str | None:
        """The stories' language where it differs from the page's (their own lang=), else None."""
        own = self.language.replace("_", "-").split("-")[0].lower()
        return None if own == self.ui_language else self.language


def caption_segments(text: str, links_clickable: bool) -> list[Segment]:
    """`text` split into plain text, hashtags and links, in order (for marking them up)."""
    marks: list[tuple[int, int, SegmentKind]] = [(s, e, "link") for s, e, _u in counting.urls(text)]
    for match in HASHTAG.finditer(text):
        start, end = match.span()
        if not any(s < end and start < e for s, e, _k in marks):  # a '#' inside a URL stays in it
            marks.append((start, end, "hashtag"))
    marks.sort()
    segments: list[Segment] = []
    at = 0
    for start, end, kind in marks:
        if start > at:
            segments.append(Segment("text", text[at:start]))
        piece = text[start:end]
        href = piece if kind == "link" and links_clickable and piece.startswith(
            ("https://", "http://")) else None
        segments.append(Segment(kind, piece, href))
        at = end
    if at < len(text):
        segments.append(Segment("text", text[at:]))
    return segments


def fold_index(text: str, fold: Fold | None) -> int | None:
    """The index where the feed cuts `text` (at a space, never inside a word), or None."""
    if fold is None:
        return None
    cut = len(text)
    if fold.lines is not None:
        newlines = [i for i, ch in enumerate(text) if ch == "\n"]
        if len(newlines) >= fold.lines:
            cut = newlines[fold.lines - 1]
    if len(text) > fold.chars:
        cut = min(cut, fold.chars)
    if cut >= len(text.rstrip()):
        return None
    if cut < len(text) and not text[cut].isspace():
        space = max(text.rfind(" ", 0, cut), text.rfind("\n", 0, cut))
        cut = space if space > 0 else cut
    return cut


def split_segments(segments: Sequence[Segment], index: int | None) -> tuple[list[Segment], list[Segment]]:
    """Segments before and after character `index` (a segment across it is split)."""
    if index is None:
        return list(segments), []
    above: list[Segment] = []
    below: list[Segment] = []
    at = 0
    for segment in segments:
        end = at + len(segment.text)
        if end <= index:
            above.append(segment)
        elif at >= index:
            below.append(segment)
        else:
            cut = index - at
            above.append(Segment(segment.kind, segment.text[:cut], segment.href))
            below.append(Segment(segment.kind, segment.text[cut:], segment.href))
        at = end
    while below and below[0].kind == "text" and not below[0].text.strip():
        below.pop(0)
    if below and below[0].kind == "text":
        below[0] = Segment("text", below[0].text.lstrip())
    return above, below


def _unit(platform: Platform) -> str:
    unit = SPECS[platform].unit
    return _(UNITS.get(unit, unit))


def _approvals(project: Project, stories: Sequence[Story]) -> tuple[bool, dict[str, bool], set[str]]:
    """(ledger found, story id -> approved in its current version, withdrawn ids).

    A missing ledger is not created: the preview writes nothing but the page.
    """
    path = project.ledger_path
    if project.ledger_url is None and not path.is_file():
        return False, {s.id: False for s in stories}, set()
    with Ledger.open(project.ledger_target) as ledger:
        approved = {s.id: ledger.approval(s.id, s.content_hash) is not None for s in stories}
        withdrawn = ledger.withdrawn_stories()
    return True, approved, withdrawn


def _story_warnings(story: Story, report: CheckReport, approved: bool, withdrawn: bool,
                    ledger_found: bool) -> list[PageWarning]:
    settings = report.project.settings
    out: list[PageWarning] = []
    if withdrawn:
        out.append(PageWarning(_(
            "{story}: consent was withdrawn (`campaign withdraw`): this story is never posted; "
            "remove its file from stories/").format(story=story.id), "withdrawn"))
    if settings.campaign.require_approval and not approved and not withdrawn:
        why = (_("no ledger yet, so nothing is approved") if not ledger_found
               else _("this version is not approved (an edit after approval needs a new one)"))
        out.append(PageWarning(_(
            "{story} is held for approval: {why}: once it has been read, run "
            "`campaign approve {story} --by NAME`").format(story=story.id, why=why), "held",
            f"{story.id} ({story.title})"))
    expires = story.consent.expires
    if expires is not None and expires <= settings.campaign.end + CONSENT_MARGIN:
        after = (expires - settings.campaign.end).days
        when = (ngettext("{n} day after the campaign ends", "{n} days after the campaign ends",
                         after).format(n=after) if after > 0
                else _("during the campaign") if expires >= settings.campaign.start
                else _("before the campaign"))
        out.append(PageWarning(_(
            "{story}: consent {reference} expires on {date}, {when}: renew it, or take the "
            "posts down that day with `campaign withdraw {story}`").format(
                story=story.id, reference=story.consent.reference,
                date=i18n.format_day(expires, year=True), when=when), "consent"))
    for problem in report.warnings:
        if problem.file == story.file:
            if problem.code == "caption.shortened":  # the message is in the staff's language
                continue  # shown on the post it concerns
            out.append(PageWarning(problem.format(), "check"))
    return out


def group_warnings(warnings: Sequence[PageWarning]) -> tuple[WarningGroup, ...]:
    """The warnings by kind, in WARNING_GROUPS' order, each item listed once."""
    groups: list[WarningGroup] = []
    for kind, (heading, fix) in WARNING_GROUPS.items():
        items = tuple(dict.fromkeys(w.short or w.text for w in warnings if w.kind == kind))
        if items:
            groups.append(WarningGroup(kind, _(heading), _(fix), items))
    return tuple(groups)


def build_page(report: CheckReport, now: datetime, preview_dir: Path) -> PreviewPage:
    """Everything the page shows; renders the cards it needs and copies them next to it."""
    project = report.project
    settings = project.settings
    tz = settings.tz
    stories = {s.id: s for s in report.stories}
    ledger_found, approved, withdrawn = _approvals(project, list(stories.values()))
    cards_dir = preview_dir / "cards"
    cards_dir.mkdir(parents=True, exist_ok=True)
    copied: set[str] = set()

    by_day: dict[date, list[Post]] = {}
    for post in report.plan.posts:
        by_day.setdefault(post.day, []).append(post)

    all_warnings: list[PageWarning] = []
    days: list[PreviewDay] = []
    for day, story_id in report.plan.days.items():
        story = stories.get(story_id) if story_id else None
        label = i18n.format_day(day, year=True)
        day_warnings: list[PageWarning] = []
        if story is None:
            day_warnings.append(PageWarning(_(
                "{day} has no story: add a story with day: {day}, or add another story "
                "file").format(day=day.isoformat()), "empty", label))
        else:
            day_warnings.extend(_story_warnings(story, report, approved.get(story.id, False),
                                                story.id in withdrawn, ledger_found))
        posts: list[PreviewPost] = []
        for post in sorted(by_day.get(day, []), key=lambda p: (p.due, p.platform)):
            if story is None:
                continue
            posts.append(_preview_post(post, story, report, cards_dir, copied))
        all_warnings.extend(day_warnings)
        all_warnings.extend(w for p in posts for w in p.warnings)
        days.append(PreviewDay(day, label, f"day-{day.isoformat()}", story, tuple(posts),
                               tuple(day_warnings)))
    spares = tuple(stories[s] for s in report.plan.spares if s in stories)
    for spare in spares:
        why = report.plan.spare_reasons.get(spare.id) or _("there are more stories than days")
        all_warnings.append(PageWarning(_(
            "{story} is a reserve story and is not posted: {why}; give it a free day with day:, "
            "or take another story out").format(story=spare.id, why=why),
            "spare", f"{spare.id} ({spare.title})"))
    shown_files = {s.file for s in stories.values()}
    for problem in report.warnings:
        if problem.file not in shown_files and problem.code != "plan.day_without_story":
            all_warnings.append(PageWarning(problem.format(), "check"))
    # Cards of stories no longer in the plan must not linger next to the page.
    for stale in cards_dir.iterdir():
        if stale.name not in copied:
            stale.unlink()
    folds = tuple((PLATFORM_NAMES[p], _fold_source(FOLDS[p])) for p in settings.enabled_platforms())
    return PreviewPage(
        campaign_name=settings.campaign.name,
        language=settings.campaign.language,
        timezone=settings.campaign.timezone,
        start=settings.campaign.start,
        end=settings.campaign.end,
        generated=_generated(now.astimezone(tz)),
        check_ok=report.ok,
        errors=tuple(report.errors),
        warnings=tuple(all_warnings),
        groups=group_warnings(all_warnings),
        days=tuple(days),
        spares=spares,
        require_approval=settings.campaign.require_approval,
        ledger_found=ledger_found,
        folds=folds,
        ui_language=i18n.language(),
        emoji_font=_copy_emoji_font(project, preview_dir),
    )


def _generated(moment: datetime) -> str:
    """When the page was made, as staff read it: `maandag 1 februari 2027 10:00 CET`."""
    return f"{i18n.format_day(moment.date(), year=True)} {i18n.format_clock(moment)} {moment:%Z}".strip()


def _copy_emoji_font(project: Project, preview_dir: Path) -> str | None:
    """Copy the theme's emoji font (theme.font_fallback) next to the page, like the cards, so
    the page shows emoji offline on any computer; its path relative to the page, or None."""
    fonts_dir = preview_dir / "fonts"
    name = project.settings.theme.font_fallback
    source = (project.root / name) if name else None
    if source is None or not source.is_file() or source.suffix.lower() not in (".ttf", ".otf"):
        shutil.rmtree(fonts_dir, ignore_errors=True)
        return None
    fonts_dir.mkdir(parents=True, exist_ok=True)
    target = fonts_dir / source.name
    for stale in fonts_dir.iterdir():
        if stale.name != target.name:
            stale.unlink()
    known = target.is_file() and target.stat().st_size == source.stat().st_size and (
        target.stat().st_mtime >= source.stat().st_mtime)
    if not known:
        tmp = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    return f"fonts/{target.name}"


def _fold_source(fold: Fold | None) -> str:
    if fold is None:
        return _("no fold: the whole caption is shown (our reading of the app; not documented)")
    return _(fold.source)


def _preview_post(post: Post, story: Story, report: CheckReport, cards_dir: Path,
                  copied: set[str]) -> PreviewPost:
    project = report.project
    settings = project.settings
    entry = report.caption_json(post)
    caption: str = entry["caption"] or ""
    fmt = card_format(post.platform, settings)
    card_src: str | None = None
    card_error: str | None = None
    width = height = 0
    try:
        card = render_card(story, fmt, project)
    except CardError as exc:
        card_error = str(exc)
    else:
        name = card.path.name
        target = cards_dir / name
        if name not in copied:
            shutil.copyfile(card.path, target)
            copied.add(name)
        card_src = f"cards/{name}"
        width, height = card.width, card.height
    fold = FOLDS[post.platform]
    clickable = SPECS[post.platform].links_clickable
    segments = caption_segments(caption, links_clickable=clickable)
    cut = fold_index(caption, fold)
    above, below = split_segments(segments, cut)
    warnings: list[PageWarning] = []
    name = PLATFORM_NAMES[post.platform]
    if entry["shortened"]:
        warnings.append(PageWarning(_(
            "{story} on {platform}: the caption is shortened to fit {limit} {unit} and ends in "
            "'…': to choose the words yourself, add `{field}: <shorter text>` to the story's "
            "front matter").format(story=story.id, platform=name, limit=entry["caption_limit"],
                                   unit=_unit(post.platform), field=post.platform),
            "shortened",
            _("{story} on {platform} ({length} of {limit})").format(
                story=story.id, platform=name, length=entry["caption_length"],
                limit=entry["caption_limit"])))
    if card_error:
        warnings.append(PageWarning(_(
            "{story} on {platform}: the card could not be drawn: {error}").format(
                story=story.id, platform=name, error=card_error), "card"))
    if not clickable and any(s.kind == "link" for s in segments):
        warnings.append(PageWarning(_(
            "{story} on {platform}: links in the caption are not clickable there; readers must "
            "type them").format(story=story.id, platform=name), "plain_link",
            _("{story} on {platform}").format(story=story.id, platform=name)))
    if fold is None:
        fold_note = ""
    elif fold.lines:
        fold_note = _("{platform} cuts here: it shows about {chars} characters or {lines} lines "
                      "(an estimate)").format(platform=name, chars=fold.chars, lines=fold.lines)
    else:
        fold_note = _("{platform} cuts here: it shows about {chars} characters "
                      "(an estimate)").format(platform=name, chars=fold.chars)
    return PreviewPost(
        platform=post.platform,
        platform_name=name,
        due_local=i18n.format_clock(post.due.astimezone(settings.tz)),
        card_src=card_src,
        card_width=width,
        card_height=height,
        card_error=card_error,
        caption_above=tuple(above),
        caption_below=tuple(below),
        folded=bool(below),
        links_clickable=clickable,
        fold_note=fold_note,
        length=int(entry["caption_length"] or 0),
        limit=int(entry["caption_limit"] or 0),
        unit=_unit(post.platform),
        alt_text=str(entry["alt_text"] or ""),
        warnings=tuple(warnings),
    )


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("campaign", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # `text` in backticks (`campaign check`) is a command to type: shown as code, escaped.
    env.filters["code"] = backticks_as_code
    # The messages in the active language (`i18n._` looks it up on every call).
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n._, ngettext=i18n.ngettext, newstyle=True)
    return env


def backticks_as_code(text: object) -> Markup:
    escaped = str(escape(text))  # Markup (a translated message) is escaped already
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", escaped))  # noqa: S704 - escaped


def render_page(page: PreviewPage) -> str:
    return _environment().get_template("preview.html.j2").render(
        page=page, fold_marker=FOLD_MARKER, format_day=i18n.format_day,
        format_number=i18n.format_number)


def write_preview(report: CheckReport, now: datetime) -> Path:
    """Write build/preview/index.html (and its cards); return the page's path."""
    preview_dir = report.project.build_dir / "preview"
    preview_dir.mkdir(parents=True, exist_ok=True)
    page = build_page(report, now, preview_dir)
    target = preview_dir / "index.html"
    tmp = target.with_suffix(".html.part")
    tmp.write_text(render_page(page), encoding="utf-8")
    os.replace(tmp, target)
    return target


__all__ = [
    "CONSENT_MARGIN",
    "FOLDS",
    "Fold",
    "PreviewPage",
    "Segment",
    "build_page",
    "caption_segments",
    "fold_index",
    "render_page",
    "split_segments",
    "write_preview",
]
