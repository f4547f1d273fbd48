"""Captions and alt text: a story as each platform will receive it (SPEC §4, §5).

Pure: a `Story` and the `Settings` go in, a `Caption` comes out; no clock, no
network, no files.

1. The Markdown body becomes plain text (`markdown_to_text`): paragraphs kept,
   emphasis dropped, links as `text (URL)`, lists as bullets, headings and
   quotes as plain lines. Raw HTML never reaches a caption: the parser runs
   with HTML on so that HTML is recognised as such and dropped, with the
   content of `<script>` and `<style>`; a `javascript:`, `vbscript:`, `file:`
   or `data:` link keeps its text and loses its target.
2. The link (the story's, else the campaign's) and the hashtags (campaign
   first, then the story's, deduplicated case-insensitively, minus those the
   text already carries) go below the text. Instagram: at most `hashtag_cap`
   hashtags and, links not being clickable there, the configured link line
   ("Link in bio") instead of the URL.
3. If that does not fit (counted by `campaign.counting`, the way the platform
   counts), the story's override for the platform (Markdown too, converted
   the same way) is used with the link and at least the first campaign
   hashtag; otherwise, or if the override does not fit either, the text (or
   the override) is shortened at a sentence,
   else a word boundary, with an ellipsis, keeping the link and the first
   campaign hashtag. A cut is only ever made at a space, so no word, URL or
   hashtag is ever cut.
4. Bluesky gets rich-text facets for links and hashtags, with UTF-8 byte offsets.

Alt text is the card's words and the photo's description (`compose_alt_text`);
`default_alt_text` is a card's, the shortest of the platforms using its format.

`caption_problems` says what `campaign check` should report about a story's
captions; `campaign_hashtag_problems` does the same for campaign.toml.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from campaign import counting
from campaign.config import CONFIG_FILE, Settings, toml_line
from campaign.i18n import N_, _
from campaign.models import Caption, CardFormat, Platform, Problem, Story
from campaign.platforms import SPECS

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

PLATFORM_NAMES: dict[Platform, str] = {p: f.name for p, f in SPECS.items()}
ELLIPSIS = "…"

# A shortened text keeps every hashtag when that leaves it at least this share of
# the words it could keep with only the link and the first campaign hashtag.
_KEEP_HASHTAGS_SHARE = 0.5
# A word cut is only used where the last sentence cut would keep less than this share.
_SENTENCE_SHARE = 0.5
_UNSAFE_LINK = re.compile(r"^(?:javascript|vbscript|file|data):", re.IGNORECASE)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_INVISIBLE = re.compile(r"[\s\x00-\x1f\x7f]+")
# Anything shaped like an HTML tag, comment, declaration or processing instruction,
# however it got into the text (e.g. written as &lt;b&gt; or \<b>): never in a caption.
_TAG = re.compile(
    r"<(?:/?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?|!--.*?--|![A-Za-z][^<>]*|\?[^<>]*\?)>",
    re.DOTALL,
)
_RAW_TEXT_OPEN = re.compile(r"^<(script|style)\b[^>]*?(?<!/)>$", re.IGNORECASE)
# A hashtag as the platforms see one: '#' at the start or after a space, then
# letters, marks, digits or '_', with at least one letter.
HASHTAG = counting.LazyPattern(r"(?<!\S)[#＃]([\p{L}\p{M}\p{N}_]*\p{L}[\p{L}\p{M}\p{N}_]*)")
# Soft hyphens (a hyphenation hint that shows up as a stray '-' or breaks a hashtag),
# and the characters twitter-text calls invalid (X refuses a post holding one).
_NEVER_IN_A_CAPTION = re.compile("[\u00ad\ufeff\ufffe\uffff]")
_DOUBLE_SPACE = re.compile(r"(?<=\S)[ \t]{2,}")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_GRAPHEME = counting.LazyPattern(r"\X")
_TRAILING_PUNCTUATION = ",;:"


@cache
def _markdown() -> MarkdownIt:
    """The Markdown parser, made on first use (markdown-it takes a moment to import)."""
    from markdown_it import MarkdownIt

    class _Parser(MarkdownIt):
        """CommonMark with HTML recognised (to drop it) and every link target kept (to judge
        it)."""

        def validateLink(self, url: str) -> bool:
            # markdown-it leaves a link it rejects as literal "[text](javascript:...)";
            # accepting all lets `_inline_text` keep the text and drop an unsafe target.
            return True

    return _Parser("commonmark", {"html": True}).enable("strikethrough")


# ---------------------------------------------------------------- Markdown to text


def markdown_to_text(markdown: str) -> str:
    """The body as plain text: paragraphs, bullets, `text (URL)`; no markup, no HTML."""
    blocks: list[str] = []
    lists: list[int | None] = []  # per open list: the next number, or None for bullets
    prefix: str | None = None  # the marker of a list item whose first block is next
    last_in_list = False  # list items follow each other line by line

    def add(text: str) -> None:
        nonlocal prefix, last_in_list
        if not text.strip():
            return
        depth = len(lists)
        indent = "  " * max(depth - 1, 0)
        if prefix is not None:
            lead, prefix = prefix, None
        elif depth:
            lead = indent + "  "
        else:
            lead = ""
        lines = text.split("\n")
        rest = [(indent + "  " + line) if depth else line for line in lines[1:]]
        text = "\n".join([lead + lines[0], *rest])
        separator = "\n" if depth and last_in_list else "\n\n"
        blocks.append((separator if blocks else "") + text)
        last_in_list = depth > 0

    for token in _markdown().parse(markdown):
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open") and not lists:
            last_in_list = False  # a new list starts after a blank line
        if kind == "bullet_list_open":
            lists.append(None)
        elif kind == "ordered_list_open":
            start = token.attrGet("start")
            lists.append(int(start) if start is not None else 1)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            number = lists[-1]
            marker = "•" if number is None else f"{number}."
            if number is not None:
                lists[-1] = number + 1
            prefix = "  " * (len(lists) - 1) + marker + " "
        elif kind == "list_item_close":
            prefix = None
        elif kind == "inline":
            add(_inline_text(token.children or []))
        elif kind in ("code_block", "fence"):
            add(token.content.rstrip("\n"))
        # html_block and hr are dropped; paragraph, heading and blockquote
        # open/close tokens only delimit the blocks added above.
    return _tidy("".join(blocks))


def _inline_text(children: Sequence[Token]) -> str:
    out: list[str] = []
    links: list[tuple[str, int]] = []  # (href, index in out where the link text starts)
    raw_text_tag: str | None = None  # inside <script> or <style>: drop everything
    for token in children:
        kind = token.type
        if raw_text_tag is not None:
            if kind == "html_inline" and token.content.lower().startswith(f"</{raw_text_tag}"):
                raw_text_tag = None
            continue
        if kind in ("text", "code_inline"):
            out.append(token.content)
        elif kind == "softbreak":
            out.append(" ")  # a line wrapped in the file is not a break in the text
        elif kind == "hardbreak":
            out.append("\n")
        elif kind == "image":
            out.append(_inline_text(token.children or []))  # its description, not its file
        elif kind == "html_inline":
            match = _RAW_TEXT_OPEN.match(token.content.strip())
            if match:
                raw_text_tag = match.group(1).lower()
        elif kind == "link_open":
            links.append((str(token.attrGet("href") or ""), len(out)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            text = "".join(out[start:]).strip()
            shown = _shown_url(href)
            if not _is_safe(href):
                if token.markup == "autolink":
                    del out[start:]  # an autolink's text is its target
            elif not _SCHEME.match(href):
                pass  # a relative link means nothing outside the website: text only
            elif not text:
                out.append(shown)
            elif text not in (shown, href, href.removeprefix("mailto:")):
                out.append(f" ({shown})")
        # emphasis, strong and strikethrough open/close: dropped
    return "".join(out)


def _is_safe(href: str) -> bool:
    return not _UNSAFE_LINK.match(_INVISIBLE.sub("", href))


def _shown_url(href: str) -> str:
    """The link target as a reader would write it (IDN and UTF-8 decoded) when that is safe."""
    shown = _markdown().normalizeLinkText(href)
    if any(c.isspace() or c in '<>"' for c in shown):
        return href
    return shown


def _tidy(text: str) -> str:
    """NFC; no soft hyphen, BOM or noncharacter; no tag-shaped text; no double or trailing
    spaces; at most one blank line in a row."""
    text = _NEVER_IN_A_CAPTION.sub("", unicodedata.normalize("NFC", text))
    while True:
        cleaned = _TAG.sub("", text)
        if cleaned == text:
            break
        text = cleaned
    # Dropped HTML leaves double spaces behind; indentation (nested lists) stays.
    lines = [_DOUBLE_SPACE.sub(" ", line).rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").rstrip()


# ---------------------------------------------------------------- assembling and fitting


def hashtags_in(text: str) -> list[str]:
    """The hashtags written in `text`, without '#'."""
    return [m.group(1) for m in HASHTAG.finditer(text)]


def merged_hashtags(story: Story, settings: Settings) -> list[str]:
    """Campaign hashtags, then the story's, deduplicated case-insensitively.

    The first spelling wins: a story's #gist does not repeat the campaign's #GIST.
    """
    seen: set[str] = set()
    merged: list[str] = []
    for tag in [*settings.campaign.hashtags, *story.hashtags]:
        tag = unicodedata.normalize("NFC", tag.lstrip("#"))
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            merged.append(tag)
    return merged


def caption_limit(platform: Platform, settings: Settings) -> int:
    """The platform's caption limit; a setting where instances differ (`char_limit`)."""
    return SPECS[platform].caption_limit_for(settings.platform(platform))


@dataclass(frozen=True)
class _Tail:
    """What goes below the text on one platform: the link line and the hashtags."""

    link_line: str | None  # the URL, or Instagram's link line
    link_url: str | None  # the URL itself, to see whether the text already has it
    hashtags: tuple[str, ...]
    campaign_count: int  # how many of `hashtags` are campaign hashtags (they come first)
    cap: int | None  # Instagram's hashtag cap

    def render(self, body: str, level: int) -> str:
        """The caption: `body`, then the tail at `level` (0 = all of it ... 5 = none)."""
        keep_link = level <= 3
        if level <= 0:
            wanted = list(self.hashtags)
        elif level == 1:
            wanted = list(self.hashtags[: self.campaign_count])
        elif level in (2, 4):
            wanted = list(self.hashtags[: min(1, self.campaign_count)])
        else:
            wanted = []
        present = {t.casefold() for t in hashtags_in(body)}
        tags = [t for t in wanted if t.casefold() not in present]
        if self.cap is not None:
            tags = tags[: max(self.cap - len(present), 0)]
        lines: list[str] = []
        if keep_link and self.link_line and not (
            self.link_url == self.link_line and _has_url(body, self.link_url)
        ):
            lines.append(self.link_line)
        if tags:
            lines.append(" ".join("#" + t for t in tags))
        tail = "\n".join(lines)
        return "\n\n".join(part for part in (body, tail) if part)


def _has_url(text: str, url: str) -> bool:
    return url in text and any(found == url for _s, _e, found in counting.urls(text))


def _tail(story: Story, platform: Platform, settings: Settings) -> _Tail:
    link = story.link or settings.campaign.link
    facts, own = SPECS[platform], settings.platform(platform)
    cap = facts.hashtag_cap_for(own)
    link_line = (facts.link_line_for(own) or link) if link else link
    hashtags = merged_hashtags(story, settings)
    campaign = {t.lstrip("#").casefold() for t in settings.campaign.hashtags}
    campaign_count = sum(1 for t in hashtags if t.casefold() in campaign)
    return _Tail(link_line, link, tuple(hashtags), campaign_count, cap)


@dataclass(frozen=True)
class _Composed:
    caption: Caption
    full_text: str  # the whole text with everything below it, before any override or cut


def _compose(story: Story, platform: Platform, settings: Settings) -> _Composed:
    limit = caption_limit(platform, settings)

    def fits(text: str) -> bool:
        return counting.fits(text, platform, limit)

    tail = _tail(story, platform, settings)
    body = _body_text(story.body)
    full = tail.render(body, 0)
    text, shortened, from_override = full, False, False
    if not fits(full):
        override = story.overrides.get(platform)
        if override:
            from_override = True
            own = override_text(override)
            # With the link and the first campaign hashtag at least; else shortened to keep them.
            fitting = (tail.render(own, level) for level in (0, 1, 2))
            text = next((t for t in fitting if fits(t)), "")
            if not text:
                text, shortened = _shorten(own, tail, fits), True
        else:
            text, shortened = _shorten(body, tail, fits), True
    facets = rich_text_facets(text) if SPECS[platform].facets else ()
    caption = Caption(
        platform=platform,
        text=text,
        length=counting.caption_length(text, platform),
        limit=limit,
        shortened=shortened,
        from_override=from_override,
        facets=facets,
    )
    return _Composed(caption, full)


@lru_cache(maxsize=256)
def _body_text(markdown: str) -> str:
    return markdown_to_text(markdown)


def _shorten(body: str, tail: _Tail, fits: Callable[[str], bool]) -> str:
    """The longest text that fits, cut at a sentence or a word, with the richest tail.

    Every hashtag stays when the text keeps at least half of what it keeps with
    only the link and the first campaign hashtag; the link and that hashtag go
    only when they do not fit at all.
    """
    cuts = _cut_points(body)
    for essential in (2, 3, 4, 5):
        found = _longest_fitting(body, cuts, tail, essential, fits, len(cuts))
        if found is None:
            continue
        if essential == 2:
            # A richer tail leaves less room: look only among the cuts that keep at
            # least half as much text, and take the richest tail that finds one.
            base = len(cuts[found].text(body)) if found >= 0 else 0
            shortest = next(
                (i for i, cut in enumerate(cuts) if cut.end >= _KEEP_HASHTAGS_SHARE * base),
                len(cuts),
            )
            for level in (0, 1):
                richer = _longest_fitting(
                    body, cuts[shortest:], tail, level, fits, found + 1 - shortest
                )
                if richer is not None and (richer >= 0 or base == 0):
                    kept = cuts[shortest + richer].text(body) if richer >= 0 else ""
                    return tail.render(kept, level)
        return tail.render(cuts[found].text(body) if found >= 0 else "", essential)
    return ""  # not even the empty text fits: only reachable with absurd limits


def _longest_fitting(
    body: str,
    cuts: Sequence[_Cut],
    tail: _Tail,
    level: int,
    fits: Callable[[str], bool],
    stop: int,
) -> int | None:
    """Index in `cuts[:stop]` of the longest cut that fits with the tail at `level`.

    None when the tail alone does not fit; -1 when it fits but no cut does.
    Gallops from the short end, so counting never works on much more text than
    fits: the platforms' counters are what this costs.
    """
    if not fits(tail.render("", level)):
        return None

    def ok(index: int) -> bool:
        return fits(tail.render(cuts[index].text(body), level))

    stop = min(stop, len(cuts))
    low, high, step = -1, stop, 1  # ok(low) or low == -1; high is known not to fit or the end
    while low + step < stop:
        if ok(low + step):
            low += step
            step *= 2
        else:
            high = low + step
            break
    while high - low > 1:
        middle = (low + high) // 2
        if ok(middle):
            low = middle
        else:
            high = middle
    # The hashtags a longer text carries drop out of the tail, so length is not
    # strictly monotonic in the cut: make sure what was found does fit.
    while low >= 0 and not ok(low):
        low -= 1
    return low


@dataclass(frozen=True)
class _Cut:
    """A place to shorten the body: keep `body[:end]`, then an ellipsis."""

    end: int
    sentence: bool  # after a sentence or at the end of a line: " …"; else after a word: "…"

    def text(self, body: str) -> str:
        kept = body[: self.end].rstrip()
        if self.sentence:
            return f"{kept} {ELLIPSIS}"
        kept = _trim_word_cut(kept)
        return kept + ELLIPSIS if kept else ""


@lru_cache(maxsize=64)
def _cut_points(body: str) -> tuple[_Cut, ...]:
    """The places where `body` may be cut, in growing order: only ever at a space.

    Sentence cuts are preferred: a word cut is offered only where the last
    sentence cut before it would keep less than half as much.
    """
    cuts: list[_Cut] = []
    last_sentence = 0
    for i, char in enumerate(body):
        if i == 0 or not counting.is_breaking_space(char):
            continue
        if counting.is_breaking_space(body[i - 1]):
            continue  # the first space of a run is the cut; the others add nothing
        sentence = char == "\n" or bool(_SENTENCE_END.search(body[max(0, i - 8) : i].rstrip()))
        if sentence:
            last_sentence = i
            cuts.append(_Cut(i, True))
        elif last_sentence < _SENTENCE_SHARE * i:
            cuts.append(_Cut(i, False))
    return tuple(cuts)


def _trim_word_cut(kept: str) -> str:
    """No trailing comma or colon before the ellipsis, and no lone punctuation 'word'."""
    while True:
        before = kept
        kept = kept.rstrip(_TRAILING_PUNCTUATION).rstrip()
        head, _space, last = kept.rpartition(" ")
        if last and not any(c.isalnum() for c in last) and head:
            kept = head.rstrip()
        if kept == before:
            return kept


# ---------------------------------------------------------------- Bluesky facets


def rich_text_facets(text: str) -> tuple[dict[str, object], ...]:
    """Link and tag facets of `text`, with UTF-8 byte offsets (start inclusive, end exclusive)."""

    def byte_offset(index: int) -> int:
        return len(text[:index].encode("utf-8"))

    facets: list[tuple[int, dict[str, object]]] = []
    taken: list[tuple[int, int]] = []
    for start, end, url in counting.urls(text):
        if not url.lower().startswith(("http://", "https://")):
            continue
        taken.append((start, end))
        facets.append((start, _facet(byte_offset(start), byte_offset(end), "link", url)))
    for match in HASHTAG.finditer(text):
        start, end = match.span()
        tag = match.group(1)
        if any(s < end and start < e for s, e in taken):
            continue
        if counting.graphemes(tag) > 64 or counting.utf8_bytes(tag) > 640:
            continue  # longer than the lexicon allows for a tag: left as plain text
        facets.append((start, _facet(byte_offset(start), byte_offset(end), "tag", tag)))
    return tuple(facet for _start, facet in sorted(facets, key=lambda item: item[0]))


def _facet(start: int, end: int, kind: str, value: str) -> dict[str, object]:
    feature: dict[str, str] = {"$type": f"app.bsky.richtext.facet#{kind}"}
    feature["uri" if kind == "link" else "tag"] = value
    return {
        "$type": "app.bsky.richtext.facet",
        "index": {"byteStart": start, "byteEnd": end},
        "features": [feature],
    }


# ---------------------------------------------------------------- public stage functions


def compose_caption(story: Story, platform: Platform, settings: Settings) -> Caption:
    """The caption `platform` receives for `story`, within its limit, counted its way."""
    return _compose(story, platform, settings).caption


def override_text(override: str) -> str:
    """A per-platform caption from the front matter, as plain text.

    Written by the same people as the body, it is Markdown too, and HTML is
    dropped from it in the same way.
    """
    return _body_text(override)


def full_caption_text(story: Story, platform: Platform, settings: Settings) -> str:
    """The caption before any override or shortening: the whole text with link and hashtags."""
    return _tail(story, platform, settings).render(_body_text(story.body), 0)


def alt_text_limit(platform: Platform, settings: Settings | None = None) -> int:
    """The platform's alt-text limit; a setting where instances differ (`alt_text_limit`)."""
    own = settings.platform(platform) if settings is not None else None
    return SPECS[platform].alt_text_limit_for(own)


def card_words(story: Story) -> list[str]:
    """The card's words as sentences: title, quote, name/age/diagnosis."""
    who = story.name + (f" ({story.age})" if story.age is not None else "")
    if story.diagnosis:
        who += f", {story.diagnosis}"
    quote = story.quote.strip().strip("\"'“”„‘’«»").strip()
    return [_sentence(story.title), f"“{_sentence(quote)}”", _sentence(who)]


def compose_alt_text(story: Story, platform: Platform, settings: Settings | None = None) -> str:
    """The card's words plus the photo's description, within the platform's alt-text limit.

    Cut at a word boundary with an ellipsis if too long. `settings` gives
    Mastodon's instance limit; without it the platform's default applies.
    """
    parts = card_words(story)
    if story.photo is not None and story.photo_alt:  # a description of a photo on the card
        parts.append(_sentence(story.photo_alt))
    text = unicodedata.normalize("NFC", " ".join(p for p in parts if p))
    return _cut_words(text, alt_text_limit(platform, settings))


def default_alt_text(story: Story, fmt: CardFormat, settings: Settings) -> str:
    """The alt text of a card in `fmt` that every platform using this format accepts (the shortest)."""
    platforms = [p for p in settings.enabled_platforms() if _card_format(p, settings) == fmt]
    texts = [compose_alt_text(story, p, settings) for p in platforms or list(SPECS)]
    return min(texts, key=len)


def _card_format(platform: Platform, settings: Settings) -> CardFormat:
    """The card format a platform gets (as `cards.card_format`, which imports this module)."""
    return SPECS[platform].card_format_for(settings.platform(platform))


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if text and not _SENTENCE_END.search(text):
        text += "."
    return text


def _cut_words(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    cut = max(
        (i for i in range(1, min(room, len(text) - 1) + 1) if counting.is_breaking_space(text[i])),
        default=-1,
    )
    if cut <= 0:  # one word longer than the limit: cut between graphemes
        kept = ""
        for grapheme in _GRAPHEME.findall(text):
            if len(kept) + len(grapheme) > room:
                break
            kept += grapheme
        return kept + ELLIPSIS
    return _trim_word_cut(text[:cut].rstrip()) + ELLIPSIS


# ---------------------------------------------------------------- what check reports


def caption_problems(story: Story, settings: Settings) -> list[Problem]:
    """Warnings for shortened captions and unreadable hashtags; errors for overrides too long."""
    problems: list[Problem] = []
    platforms = [
        p for p in settings.enabled_platforms()
        if story.consent.platforms is None or p in story.consent.platforms
    ]
    too_long: set[Platform] = set()
    for platform, override in story.overrides.items():
        if platform not in platforms:
            continue
        limit = caption_limit(platform, settings)
        own = override_text(override)
        if not counting.fits(own, platform, limit):
            too_long.add(platform)
            length = counting.caption_length(own, platform)
            unit = _unit(platform)
            byte_limit = SPECS[platform].caption_byte_limit
            values = {"name": PLATFORM_NAMES[platform], "length": length, "unit": unit,
                      "limit": limit, "over": max(length - limit, 1),
                      "bytes": counting.utf8_bytes(own), "byte_limit": byte_limit}
            if byte_limit is not None and length <= limit:
                sentence = _("the {name} text counts {length} {unit} (or {bytes} UTF-8 bytes, "
                            "more than {byte_limit}), more than {name} allows ({limit}): shorten "
                            "it by at least {over}, or remove it to let campaign shorten the "
                            "story")
            else:
                sentence = _("the {name} text counts {length} {unit}, more than {name} allows "
                            "({limit}): shorten it by at least {over}, or remove it to let "
                            "campaign shorten the story")
            problems.append(Problem(
                story.file, story.lines.get(platform), platform, sentence.format(**values),
                code="caption.override_too_long",
            ))
    for platform in platforms:
        composed = _compose(story, platform, settings)
        caption = composed.caption
        if caption.shortened and platform not in too_long:
            problems.append(Problem(
                story.file, story.lines.get(platform) if caption.from_override else None,
                platform if caption.from_override else None,
                (_("story {story}: the {name} caption is shortened to {length} of {limit} "
                   "{unit} (the whole text counts {whole}) and ends in '{ellipsis}': shorten "
                   "the `{platform}:` text so that it fits with the link and hashtags")
                 if caption.from_override else
                 _("story {story}: the {name} caption is shortened to {length} of {limit} "
                   "{unit} (the whole text counts {whole}) and ends in '{ellipsis}': to choose "
                   "the words yourself, add `{platform}: <shorter text>` to the front matter")
                 ).format(story=story.id, name=PLATFORM_NAMES[platform], length=caption.length,
                          limit=caption.limit, unit=_unit(platform),
                          whole=_whole_length(composed.full_text, platform, caption.limit),
                          ellipsis=ELLIPSIS, platform=platform),
                "warning", code="caption.shortened",
            ))
        tail = _tail(story, platform, settings)
        if tail.cap is not None:
            name = PLATFORM_NAMES[platform]
            written = hashtags_in(caption.text)
            left_out = [
                t for t in tail.hashtags if t.casefold() not in {w.casefold() for w in written}
            ]
            if tail.cap is not None and len(written) > tail.cap:
                problems.append(Problem(
                    story.file, None, None,
                    _("the {name} caption has {count} hashtags, more than the cap of "
                      "{cap} (platforms.{platform}.hashtag_cap): remove hashtags from the text")
                    .format(name=name, count=len(written), cap=tail.cap, platform=platform),
                    "warning", code="caption.too_many_hashtags",
                ))
            elif left_out and not caption.shortened:
                problems.append(Problem(
                    story.file, story.lines.get("hashtags"), "hashtags",
                    _("{name} takes at most {cap} hashtags (platforms.{platform}.hashtag_cap), "
                      "so {hashtags} is left out there: put the most important hashtags first")
                    .format(name=name, cap=tail.cap, platform=platform,
                            hashtags=" ".join("#" + t for t in left_out)),
                    "warning", code="caption.hashtags_left_out",
                ))
    for i, tag in enumerate(story.hashtags):
        message = lowercase_hashtag_message(tag)
        if message:
            key = f"hashtags[{i}]"
            problems.append(Problem(
                story.file, story.lines.get(key, story.lines.get("hashtags")), key, message,
                "warning", code="hashtag.lower_case",
            ))
    return problems


def campaign_hashtag_problems(settings: Settings, config_text: str | None = None) -> list[Problem]:
    """The lowercase-hashtag warning for the campaign's own hashtags, on campaign.toml."""
    problems = []
    for i, tag in enumerate(settings.campaign.hashtags):
        message = lowercase_hashtag_message(tag)
        if message:
            line = toml_line(config_text, ["campaign", "hashtags"]) if config_text else None
            problems.append(
                Problem(CONFIG_FILE, line, f"campaign.hashtags[{i}]", message, "warning",
                        code="hashtag.lower_case")
            )
    return problems


def _whole_length(text: str, platform: Platform, limit: int) -> str:
    """A text's count for a message; for a text far over the limit, the quick lower bound
    ("at least"), so that a pasted flood of symbols costs no more than its length."""
    at_least = counting.caption_length_at_least(text, platform)
    if counting.counts_urls_as_23(platform) and at_least > 4 * limit:
        return _("at least {n}").format(n=at_least)
    return str(counting.caption_length(text, platform))


#: The units of `PlatformSpec.unit` (platforms.py), translated where they are shown.
_UNITS = (N_("weighted characters"), N_("characters"), N_("graphemes"))


def _unit(platform: Platform) -> str:
    return _(SPECS[platform].unit)


# A few words that campaign hashtags are made of, to show the CamelCase spelling of a
# run-together lowercase hashtag. Not a dictionary: a tag made of other words still
# gets the warning when it is long, only without a spelled-out suggestion.
_WORDS = frozenset(
    """
    aan alle bewust dag de der des een en het in is kanker kennis leven met na naar
    nationale nederland niet onderzoek op over patient patienten samen tegen tumor tumoren
    van voor week wereld zeldzaam zeldzame zorg zorgen
    awareness cancer cancers care day for in life nl of patient patients rare research the
    week world
    borst darm long maag bot hoofd hals huid bloed hersen oog kinder kinderen
    sarcoom lymfoom leukemie melanoom
    """.split()  # noqa: SIM905 (a word list reads best as words)
)
_LONG_HASHTAG = 12  # letters: a lowercase tag this long is almost always several words


def lowercase_hashtag_message(tag: str) -> str | None:
    """A warning for a run-together all-lowercase hashtag, or None.

    Screen readers read #ZeldzameKanker as two words and #zeldzamekanker as one
    unpronounceable word. Warned: a tag without capitals that splits into two or
    more known words, or that is at least 12 letters long.
    """
    tag = tag.lstrip("#")
    letters = [c for c in tag if c.isalpha()]
    if any(c.isupper() for c in tag) or not letters or not any(c.islower() for c in tag):
        return None
    words = _split_words(_fold(tag))
    if words is None and len(letters) < _LONG_HASHTAG:
        return None
    if words is not None and len(words) < 2:
        return None
    if words is not None:
        camel, position = "", 0
        for word in words:
            camel += tag[position].upper() + tag[position + 1 : position + len(word)]
            position += len(word)
        return _("#{tag} is all lower case: screen readers read it as one word; "
                 "write it in CamelCase, e.g. {suggestion}").format(tag=tag,
                                                                    suggestion=f"#{camel}")
    return _("#{tag} is all lower case: screen readers read it as one word; write it in "
             "CamelCase, e.g. #{suggestion} with a capital at the start of each word").format(
                 tag=tag, suggestion=f"{tag[0].upper()}{tag[1:]}")


def _fold(tag: str) -> str:
    """Lower case without accents, same length as `tag` (for splitting into words)."""
    folded = []
    for char in tag:
        base = unicodedata.normalize("NFD", char)[0]
        folded.append(base.lower() if len(base.lower()) == 1 else char)
    return "".join(folded)


def _split_words(tag: str) -> list[str] | None:
    """`tag` as a sequence of known words (fewest words), or None."""
    best: list[list[str] | None] = [None] * (len(tag) + 1)
    best[0] = []
    for end in range(1, len(tag) + 1):
        for start in range(end):
            head = best[start]
            if head is not None and tag[start:end] in _WORDS:
                candidate = [*head, tag[start:end]]
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    return best[len(tag)]


__all__ = [
    "ELLIPSIS",
    "HASHTAG",
    "PLATFORM_NAMES",
    "alt_text_limit",
    "campaign_hashtag_problems",
    "caption_limit",
    "caption_problems",
    "card_words",
    "compose_alt_text",
    "compose_caption",
    "default_alt_text",
    "full_caption_text",
    "hashtags_in",
    "lowercase_hashtag_message",
    "markdown_to_text",
    "merged_hashtags",
    "override_text",
    "rich_text_facets",
]
