"""The workspace's story form, and the story file it reads and writes.

A story file stays the source of truth: the form is filled from the file, and
saving writes the file as a person would have written it (readable YAML in the
usual order, comments kept where ruamel.yaml keeps them, the body below). A
new story gets the next number and the name: `stories/09-anna.md`.

Saving is checked first: the new text goes to a hidden file next to the
stories (ignored by every command), is read and checked like any story
(`check.check_story`), and only when it has no errors does it replace the
story file. Otherwise the form shows each error next to its field.

Uploaded photos (`store_photo`): at most 50 MB, a real JPEG, PNG or WebP image
of at most 40 megapixels, turned upright, and saved again as a fresh JPEG
without any metadata under a random name in `assets/photos/`.
"""

from __future__ import annotations

import io
import os
import re
import secrets
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from campaign.check import StoryCheck, check_story_bounded
from campaign.config import Project
from campaign.files import MAX_PHOTO_BYTES
from campaign.i18n import _, format_number
from campaign.models import PLATFORMS, Problem
from campaign.stories import MAX_PHOTO_PIXELS, PHOTO_FORMATS
from campaign.storyfiles import story_files, story_id_of

#: The front matter's fields in the order people write them (SPEC §3).
ORDER = ["title", "name", "age", "diagnosis", "quote", "photo", "photo_alt", "photo_focus", "day",
         "consent", "hashtags", "link", *PLATFORMS]
CONSENT_ORDER = ["signed", "reference", "platforms", "expires"]


@dataclass
class StoryForm:
    """What the form holds: every field as the person typed it (text), and the body."""

    title: str = ""
    name: str = ""
    age: str = ""
    diagnosis: str = ""
    quote: str = ""
    photo: str = ""
    photo_alt: str = ""
    focus_x: str = ""
    focus_y: str = ""
    day: str = ""
    signed: str = ""
    reference: str = ""
    platforms: list[str] = field(default_factory=list)  # empty: every enabled platform
    expires: str = ""
    hashtags: str = ""  # comma-separated, without '#'
    link: str = ""
    overrides: dict[str, str] = field(default_factory=dict)
    body: str = ""

    @classmethod
    def from_request(cls, values: Any) -> StoryForm:
        """From a submitted form (a mapping with `get` and `getlist`)."""
        def text(name: str) -> str:
            return str(values.get(name, "") or "").replace("\r\n", "\n").strip()

        return cls(
            title=text("title"), name=text("name"), age=text("age"), diagnosis=text("diagnosis"),
            quote=text("quote"), photo=text("photo"), photo_alt=text("photo_alt"),
            focus_x=text("focus_x"), focus_y=text("focus_y"), day=text("day"),
            signed=text("signed"), reference=text("reference"),
            platforms=[p for p in values.getlist("platforms") if p in PLATFORMS],
            expires=text("expires"), hashtags=text("hashtags"), link=text("link"),
            overrides={p: text(f"override_{p}") for p in PLATFORMS if text(f"override_{p}")},
            body=text("body"),
        )

    @classmethod
    def from_file(cls, path: Path) -> StoryForm:
        """The form of an existing story file (as far as it can be read)."""
        text = path.read_text(encoding="utf-8-sig")
        front, body = _split(text)
        data = _yaml().load(front) if front.strip() else CommentedMap()
        if not isinstance(data, dict):
            data = CommentedMap()
        found = data.get("consent")
        consent: dict[str, Any] = found if isinstance(found, dict) else {}
        focus = data.get("photo_focus") or ["", ""]
        platforms = consent.get("platforms") or []
        return cls(
            title=_str(data.get("title")), name=_str(data.get("name")), age=_str(data.get("age")),
            diagnosis=_str(data.get("diagnosis")), quote=_str(data.get("quote")),
            photo=_str(data.get("photo")), photo_alt=_str(data.get("photo_alt")),
            focus_x=_str(focus[0]) if len(focus) > 0 else "",
            focus_y=_str(focus[1]) if len(focus) > 1 else "",
            day=_str(data.get("day")), signed=_str(consent.get("signed")),
            reference=_str(consent.get("reference")),
            platforms=[str(p) for p in platforms], expires=_str(consent.get("expires")),
            hashtags=", ".join(str(h) for h in data.get("hashtags") or []),
            link=_str(data.get("link")),
            overrides={p: _str(data.get(p)) for p in PLATFORMS if data.get(p)},
            body=body.strip("\n"),
        )


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 4096  # one field, one line: as people write them
    yaml.allow_unicode = True
    yaml.preserve_quotes = True  # a value written in quotes stays in quotes
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _split(text: str) -> tuple[str, str]:
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return "", text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1:])
    return "".join(lines[1:]), ""


def _value(text: str) -> Any:
    """A form's text as the YAML value a person would write: a date as a date, a whole
    number as a number, anything else as text (quoted by the writer when it must be)."""
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            return text
    if re.fullmatch(r"\d{1,3}", text):
        return int(text)
    return text


def _flow(items: list[Any]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()  # [a, b] on one line, as in the examples
    return seq


def story_text(form: StoryForm, existing: str | None = None) -> str:
    """The story file for `form`: the existing file's front matter updated in place (its
    comments and order kept), or a new one in the usual order."""
    front, _body = _split(existing) if existing else ("", "")
    data = _yaml().load(front) if front.strip() else None
    if not isinstance(data, CommentedMap):
        data = CommentedMap()
    wanted: dict[str, Any] = {
        "title": form.title, "name": form.name, "age": _value(form.age) if form.age else "",
        "diagnosis": form.diagnosis, "quote": form.quote, "photo": form.photo,
        "photo_alt": form.photo_alt,
        "photo_focus": _flow([_number(form.focus_x), _number(form.focus_y)])
        if form.focus_x and form.focus_y else "",
        "day": _value(form.day) if form.day else "",
        "hashtags": _flow([h.strip().lstrip("#") for h in form.hashtags.split(",") if h.strip()])
        if form.hashtags.strip() else "",
        "link": form.link,
        **{p: form.overrides.get(p, "") for p in PLATFORMS},
    }
    consent = data.get("consent") if isinstance(data.get("consent"), CommentedMap) else CommentedMap()
    consent_wanted: dict[str, Any] = {
        "signed": _value(form.signed) if form.signed else "", "reference": form.reference,
        "platforms": _flow(list(form.platforms)) if form.platforms else "",
        "expires": _value(form.expires) if form.expires else "",
    }
    _update(consent, consent_wanted, CONSENT_ORDER)
    wanted["consent"] = consent
    _update(data, wanted, ORDER)
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    body = form.body.replace("\r\n", "\n").strip("\n")
    return f"---\n{buffer.getvalue()}---\n{body}\n"


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _update(target: CommentedMap, wanted: dict[str, Any], order: list[str]) -> None:
    """Set, change or remove each field, keeping the file's order (new fields in `order`)."""
    for key in order:
        value = wanted.get(key, "")
        empty = value == "" or value is None or (isinstance(value, CommentedMap) and not value)
        if empty:
            if key in target:
                del target[key]
            continue
        if key in target:
            unchanged = value is target[key] or (
                not isinstance(value, (CommentedMap, CommentedSeq))
                and str(target[key]) == str(value))
            if isinstance(value, CommentedSeq) and isinstance(target[key], list):
                unchanged = [str(v) for v in target[key]] == [str(v) for v in value]
            if not unchanged:  # an unchanged value keeps its quotes and its comments
                target[key] = value
            continue
        later = [k for k in order[order.index(key) + 1:] if k in target]
        position = list(target).index(later[0]) if later else len(target)
        target.insert(position, key, value)


def new_story_path(project: Project, name: str) -> Path:
    """`stories/<nn>-<name>.md`: the next number, and the name in plain letters."""
    numbers = [int(m.group(1)) for p in story_files(project)
               if (m := re.match(r"(\d+)", p.name))]
    number = max(numbers, default=0) + 1
    slug = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", slug).strip("-")[:40] or "verhaal"
    path = project.stories_dir / f"{number:02d}-{slug}.md"
    while path.exists():
        number += 1
        path = project.stories_dir / f"{number:02d}-{slug}.md"
    return path


@dataclass(frozen=True)
class SaveResult:
    saved: bool
    path: Path
    check: StoryCheck | None
    errors: dict[str, list[str]]  # form field -> messages; "" for the file as a whole


def _form_field(problem: Problem) -> str:
    key = problem.field or ""
    if key.startswith("consent."):
        key = key.removeprefix("consent.")
    key = key.split("[", 1)[0]
    if key == "photo_focus":
        return "focus_x"
    if key in PLATFORMS:
        return f"override_{key}"
    return key


def save_story(project: Project, path: Path, text: str) -> SaveResult:
    """Check `text` as the story `path`, and write it there only if it has no errors."""
    project.stories_dir.mkdir(parents=True, exist_ok=True)
    trial = project.stories_dir / f".workspace-{secrets.token_hex(6)}-{path.name}"
    trial.write_text(text, encoding="utf-8")
    result = check_story_bounded(trial, project)  # within the story budget, as in check
    errors: dict[str, list[str]] = {}
    for problem in result.all_problems:
        if problem.severity == "error":
            errors.setdefault(_form_field(problem), []).append(problem.message)
    if errors:
        trial.unlink(missing_ok=True)
        return SaveResult(False, path, result, errors)
    os.replace(trial, path)
    return SaveResult(True, path, check_story_bounded(path, project), {})


class PhotoRefused(Exception):
    """An upload that is not a usable photo; the message says why and what to do."""


def store_photo(project: Project, data: bytes, filename: str) -> str:
    """Save an uploaded photo, upright and without metadata, under a random name; return its
    path relative to the repository (`assets/photos/3f9c....jpg`)."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoRefused(_("the photo is {size} MB, more than the 50 MB allowed: export it "
                             "smaller (a JPEG of 12 megapixels is about 5 MB)").format(
                                 size=format_number(round(len(data) / 1e6))))
    if not data:
        raise PhotoRefused(_("the file is empty: choose the photo again"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in PHOTO_FORMATS:
                    raise PhotoRefused(_("{filename} is a {format} image: use a JPEG, PNG or "
                                         "WebP photo").format(filename=filename,
                                                              format=image.format))
                if image.width * image.height > MAX_PHOTO_PIXELS:
                    raise PhotoRefused(_("{filename} is {width}x{height}: scale it down to "
                                         "at most 40 megapixels").format(
                                             filename=filename, width=image.width,
                                             height=image.height))
                image.load()
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
    except PhotoRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused(_("{filename} claims to be enormous (a decompression bomb?): use a "
                             "photo of at most 40 megapixels").format(filename=filename)) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise PhotoRefused(_("{filename} is not a photo that can be read: choose a JPEG or PNG "
                             "photo").format(filename=filename)) from None
    folder = project.root / "assets" / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(12)}.jpg"
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=92, optimize=True)  # fresh pixels: no EXIF, no GPS
    (folder / name).write_bytes(buffer.getvalue())
    return f"assets/photos/{name}"


def story_id_for(path: Path) -> str:
    return story_id_of(path)
