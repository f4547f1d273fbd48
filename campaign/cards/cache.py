"""Rendering with a cache: which formats a story needs and the size limit of each,
where cards are written (build/cards/), and `render_card`/`render_all`.

A card is cached by a hash of everything it is drawn from (the story's card
fields, the photo's bytes, the theme and its files, the size limit and
`RENDERER_VERSION`): an unchanged story is not drawn again. The theme's files
(fonts, logo) enter the key by their size and modification time, not their
bytes: hashing the 11 MB emoji font would cost a new process more than drawing
the card. The photo enters by its sha256 (remembered per size and mtime).

A story's cropped photos are kept in build/cache/photos/<story>/ (`photo_cache_dir`),
so a text-only edit does not decode the photo again; withdrawing the story removes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from campaign.cards.assets import _digest, _resolved, _stamp_or_none
from campaign.config import Project, Settings
from campaign.errors import CardError
from campaign.models import CARD_SIZES, Card, CardFormat, Platform, Story
from campaign.planner import story_platforms
from campaign.platforms import SPECS

if TYPE_CHECKING:
    from PIL import Image

# Bump whenever a change in this package changes the pixels: every cached card is drawn again.
RENDERER_VERSION = "5"  # 2: crops keep the faces; 3: BILINEAR crops; 4: in two halves; 5: 3/8 decode

# Largest card file each platform takes (platforms.py, shared/platform-apis.md).
PLATFORM_BYTE_LIMITS: dict[Platform, int] = {p: f.image_byte_limit for p, f in SPECS.items()}


# --------------------------------------------------------------------------- formats and cache


def story_formats(story: Story, settings: Settings) -> list[CardFormat]:
    """The card formats this story is posted in: those of its enabled, consented platforms."""
    formats = {_platform_format(p, settings) for p in story_platforms(story, settings)}
    return [f for f in CARD_SIZES if f in formats]


def _platform_format(platform: Platform, settings: Settings) -> CardFormat:
    return SPECS[platform].card_format_for(settings.platform(platform))


def card_format(platform: Platform, settings: Settings) -> CardFormat:
    """The card format a platform gets (`card_format` in campaign.toml)."""
    return _platform_format(platform, settings)


def byte_limit(fmt: CardFormat, settings: Settings) -> int:
    """The smallest size limit of the enabled platforms that use this format."""
    limits = [PLATFORM_BYTE_LIMITS[p] for p in settings.enabled_platforms()
              if _platform_format(p, settings) == fmt]
    return min(limits) if limits else min(PLATFORM_BYTE_LIMITS.values())


def cards_dir(project: Project) -> Path:
    """The folder of every card: build/cards/."""
    return _resolved(project.root, project.settings.paths.build) / "cards"


def photo_cache_dir(build: Path, story_id: str) -> Path:
    """Where a story's cropped photos are kept in a build folder: cache/photos/<story>/."""
    return build / "cache" / "photos" / story_id


def card_path(story_id: str, fmt: CardFormat, project: Project) -> Path:
    """Where the card of a story and format is written: build/cards/<story>-<format>.jpg."""
    return cards_dir(project) / f"{story_id}-{fmt}.jpg"


def cache_key(story: Story, fmt: CardFormat, project: Project, photo_digest: str | None) -> str:
    """A hash of everything the card is drawn from; equal keys mean equal cards."""
    settings = project.settings
    theme = settings.theme
    files = [theme.font_regular, theme.font_semibold, theme.font_bold, theme.font_fallback, theme.logo]
    material = {
        "renderer": RENDERER_VERSION,
        "format": fmt,
        "story": [story.title, story.quote, story.name, story.age, story.diagnosis,
                  list(story.photo_focus) if story.photo_focus else None],
        "photo": photo_digest,
        "theme": theme.model_dump(),
        "files": [_stamp_or_none(_resolved(project.root, f)) if f else None for f in files],
        "campaign": settings.campaign.name,
        "limit": byte_limit(fmt, settings),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()


def _manifest_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _cached(path: Path, key: str) -> dict[str, object] | None:
    try:
        manifest = json.loads(_manifest_path(path).read_text(encoding="utf-8"))
        if manifest.get("key") == key and path.stat().st_size == manifest.get("bytes"):
            return dict(manifest)
    except (OSError, ValueError):
        pass
    return None


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes it readable by its owner only; a card is read by the web server that
        # publishes the Instagram folder and by colleagues opening the preview: as any file.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- public API


def render_card(story: Story, fmt: CardFormat, project: Project, *, force: bool = False,
                alt_text: str | None = None) -> Card:
    """The story's card in one format, from the cache when nothing it is drawn from changed.

    `alt_text` is the card's description for screen readers; by default the
    caption composer's (`captions.default_alt_text`): the shortest of the
    platforms that use this format.
    """
    from campaign.captions import default_alt_text

    path = card_path(story.id, fmt, project)
    text = alt_text if alt_text is not None else default_alt_text(story, fmt, project.settings)
    width, height = CARD_SIZES[fmt]
    digest = None
    if story.photo is not None:
        try:  # remembered per (file, mtime, size): a cached card does not read its photo again
            digest = _digest(story.photo)
        except OSError as exc:
            raise CardError(f"{story.file}: photo: cannot read {story.photo.name} "
                            f"({exc.strerror}): check the path") from None
    key = cache_key(story, fmt, project, digest)
    if not force and (manifest := _cached(path, key)) is not None:
        return Card(story.id, fmt, path, width, height, int(str(manifest["bytes"])), text,
                    cached=True)
    # Drawing is imported only now: a week of cards that are all up to date never loads it.
    from campaign.cards.draw import JpegBands, band_rows, draw_card, encode_jpeg, place_photo
    from campaign.cards.layout import layout_for
    from campaign.cards.photo import Background, _prepared_photo, let_go
    from campaign.cards.plan import plan_card

    # The photo is made ready (decoded and cropped, or read from memory or disk) and its
    # rows of the card encoded on a second thread, while this one sets and draws the text
    # and encodes the rows that hold no photo (`JpegBands`).
    quality = project.settings.theme.jpeg_quality
    layout = layout_for(fmt, project.settings.theme.margin)
    rows = band_rows(layout) if story.photo is not None else 0
    pending = started = None
    encoded = threading.Event()

    def store_when_encoded(prepared: tuple[object, str, Callable[[], None] | None, bool]) -> None:
        """A new crop is written to build/cache/photos/ on the photo's thread, once this
        thread has encoded the card: while it writes the card, not while it encodes."""
        if prepared[2] is not None:
            encoded.wait(timeout=10.0)
            prepared[2]()

    if story.photo is not None and digest is not None:
        photo_file, box = story.photo, layout.photo
        build = _resolved(project.root, project.settings.paths.build)
        started = JpegBands(layout.size, rows, quality) if rows else None

        def photo_and_its_rows() -> tuple[Image.Image, str, Callable[[], None] | None, bool]:
            """(the photo, its digest, what is left to store, whether its rows are encoded).
            A photo decoded now has each half's rows encoded on the thread that resampled
            it, as soon as it is made; the rows still missing are encoded from the crop."""
            photo, drawn, store = _prepared_photo(
                photo_file, digest, (box.width, box.height), story.photo_focus,
                story=story.file, cache=photo_cache_dir(build, story.id),
                each_half=None if started is None else
                lambda at, half: started.encode_part(box.y0 + at, half, together=False))
            let_go()  # encoding lets go of the GIL: the text need not wait for it
            banded = started is not None and started.encode_part(box.y0, photo)
            return photo, drawn, store, banded

        pending = Background(photo_and_its_rows, head_start=True, then=store_when_encoded)
    try:
        plan = plan_card(story, fmt, project)
        image = draw_card(plan, project, None)
    except BaseException:
        encoded.set()
        if pending is not None:  # the text's error is the one reported
            with contextlib.suppress(Exception):
                pending.result()
                pending.finished()
        raise
    if pending is not None:
        if started is not None:  # the text's rows, while the photo is still on its way
            # On two threads when the photo's thread is done (a text-only edit), not while
            # it is still decoding: that would only slow the decode down.
            started.encode(image, outside=(layout.photo.y0, layout.photo.y1),
                           together=pending.done())
        photo, drawn, _store, banded = pending.result()
        # The photo's bands were encoded from the crop itself; pasted only if it is needed.
        if not banded:
            place_photo(image, plan, photo)
        if drawn != digest:  # the photo changed a moment ago: file the card under what was drawn
            key = cache_key(story, fmt, project, drawn)
    try:
        data, quality = encode_jpeg(image, byte_limit(fmt, project.settings), quality,
                                    label=f"{story.file} ({fmt} card)", band_rows=rows,
                                    started=started)
        encoded.set()
        _write_atomic(path, data)
        manifest = {"key": key, "bytes": len(data), "quality": quality, "story": story.id,
                    "format": fmt, "dropped": {k: list(v) for k, v in plan.dropped.items()}}
        _write_atomic(_manifest_path(path),
                      json.dumps(manifest, ensure_ascii=False, indent=1).encode())
    finally:
        encoded.set()
        if pending is not None:
            pending.finished()
    return Card(story.id, fmt, path, width, height, len(data), text, cached=False)


def render_all(
    stories: Sequence[Story], project: Project, *, force: bool = False,
    progress: Callable[[Card], None] | None = None,
) -> list[Card]:
    """Every story's card in every format it is posted in; one bad story does not stop the rest.

    Raises CardError listing every story that could not be rendered, after the others are done.
    """
    cards: list[Card] = []
    failures: list[str] = []
    for story in stories:
        for fmt in story_formats(story, project.settings):
            try:
                card = render_card(story, fmt, project, force=force)
            except CardError as exc:
                failures.append(str(exc))
                continue
            cards.append(card)
            if progress is not None:
                progress(card)
    if failures:
        raise CardError("\n".join(dict.fromkeys(failures)))
    return cards
