"""Read story files (`stories/*.md`): YAML front matter, then the story in Markdown.

`read_story(path, project)` never raises on bad input: it returns a
`StoryReading` with the `Story` (or None) and every `Problem` found, each as
`stories/x.md:7: consent.signed: what is wrong and the fix`. `read_stories`
does that for every file, in file-name order, so one bad file never hides
another.

Front matter is parsed with ruamel.yaml's round-trip loader, which gives line
numbers and never builds Python objects; any YAML tag (`!!python/object`,
`!foo`) is refused. Text fields are cleaned of control and bidi-override
characters. Photos must be real images inside the repository.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from campaign.config import Project
from campaign.models import PLATFORMS, Consent, Platform, Problem, Story
from campaign.validation import clean_text, describe, dotted

MAX_PHOTO_PIXELS = 40_000_000
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
MAX_STORY_BYTES = 1_000_000  # a story is a page of text; anything larger is a mistake
_HASHTAG = re.compile(r"^#?[^\W_]\w*$")
_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+[^\s]*$")
_STANDARD_TAG = re.compile(r"^tag:yaml\.org,2002:(str|int|float|bool|null|timestamp|map|seq)$")


class _FrontMatter(BaseModel):
    """What a story's front matter may contain (SPEC §3)."""

    model_config = ConfigDict(extra="forbid")

    class ConsentModel(BaseModel):
        model_config = ConfigDict(extra="forbid")
        signed: date
        reference: str = Field(min_length=1, max_length=100)
        platforms: list[Platform] | None = None
        expires: date | None = None

        @model_validator(mode="after")
        def _expires_after_signed(self) -> _FrontMatter.ConsentModel:
            if self.expires is not None and self.expires < self.signed:
                raise ValueError("expires is before signed: check both dates on the consent form")
            return self

    title: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=80)
    age: int | None = Field(default=None, ge=0, le=130)
    diagnosis: str | None = Field(default=None, max_length=120)
    quote: str = Field(min_length=1, max_length=600)
    photo: str | None = None
    photo_alt: str | None = Field(default=None, max_length=1000)
    photo_focus: tuple[float, float] | None = None
    day: date | None = None
    consent: ConsentModel
    hashtags: list[str] = []
    link: str | None = None
    x: str | None = None
    facebook: str | None = None
    instagram: str | None = None
    linkedin: str | None = None
    mastodon: str | None = None
    bluesky: str | None = None

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _HASHTAG.match(value):
                raise ValueError(
                    f"{value!r} is not a hashtag: use letters and digits only, no spaces "
                    "or punctuation, e.g. ZeldzameKanker"
                )
        return [v.lstrip("#") for v in values]

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError(
                f"{value!r} is not a web address: write it as https://example.org/path"
            )
        return value

    @field_validator("photo_focus")
    @classmethod
    def _focus(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0.0 <= v <= 1.0 for v in value):
            raise ValueError("must be two numbers from 0 to 1, e.g. [0.5, 0.3] (x, y)")
        return value

    @model_validator(mode="after")
    def _photo_needs_alt(self) -> _FrontMatter:
        if self.photo and not (self.photo_alt and self.photo_alt.strip()):
            raise ValueError("photo_alt: is required when photo is set: describe the photo")
        return self


_EXAMPLES = {
    "title": "Twee jaar zoeken naar een diagnose",
    "name": "Marieke",
    "quote": "Vraag door. Jij kent je lichaam het best.",
    "consent": "(a block with signed and reference)",
    "signed": "2026-11-30",
    "reference": "CCA-2026-014",
}


@dataclass
class StoryReading:
    """The result of reading one file: the story if it is valid, and every problem."""

    file: str
    story: Story | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


def story_files(project: Project) -> list[Path]:
    """Story files in file-name order. Files starting with '_' or '.' and README.md are skipped."""
    folder = project.stories_dir
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.glob("*.md")
        if not p.name.startswith(("_", ".")) and p.name.lower() != "readme.md"
    )


def read_stories(project: Project) -> list[StoryReading]:
    return [read_story(path, project) for path in story_files(project)]


def read_story(path: Path, project: Project) -> StoryReading:
    """Read and validate one story file. Never raises on the file's content."""
    shown = project.relative(path)
    reading = StoryReading(file=shown, story=None)

    def problem(line: int | None, field_: str | None, message: str) -> None:
        reading.problems.append(Problem(shown, line, field_, message))

    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem(None, None, f"cannot be read ({exc.strerror}): check the file's permissions")
        return reading
    if len(raw) > MAX_STORY_BYTES:
        problem(None, None, f"is {len(raw):,} bytes, more than a story can be: check the file")
        return reading
    text = _decode(raw, problem)
    if text is None:
        return reading

    split = _split_front_matter(text)
    if split is None:
        problem(
            1, None,
            'has no front matter: start the file with a line "---", the fields, and another "---"',
        )
        return reading
    yaml_text, body = split
    # YAML refuses raw control characters with a puzzling message; they are removed
    # from every text field anyway, so remove them (and bidi overrides) first.
    yaml_text = clean_text(yaml_text, multiline=True)

    try:
        data = YAML(typ="rt", pure=True).load(yaml_text)
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 2 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        problem(line, None, f"front matter is not valid YAML ({what}): fix that line")
        return reading
    except Exception as exc:  # ruamel raises odd errors on pathological input
        problem(None, None, f"front matter could not be read ({type(exc).__name__}): fix its syntax")
        return reading
    if not isinstance(data, CommentedMap):
        problem(2, None, "front matter must be a list of fields (key: value), one per line")
        return reading

    lines: dict[str, int] = {}
    tags: list[tuple[str, int | None]] = []
    _walk(data, "", lines, tags)
    for where, line in tags:
        problem(line, where or None, "YAML tags (such as !!python/...) are not allowed: remove the tag")
    if tags:
        return reading
    cleaned = _clean(data)

    try:
        front = _FrontMatter.model_validate(cleaned)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [p for p in error["loc"] if isinstance(p, (str, int))]
            message = describe(error, _FrontMatter, _EXAMPLES.get(str(loc[-1]) if loc else "", ""))
            if message.startswith("photo_alt: "):
                loc, message = ["photo_alt"], message.removeprefix("photo_alt: ")
            key = dotted(loc)
            problem(_line_of(lines, key), key or None, message)
        return reading

    photo, photo_bytes = _check_photo(front, project, lines, problem)
    if reading.errors:
        return reading

    overrides: dict[Platform, str] = {}
    for platform in PLATFORMS:
        value = getattr(front, platform)
        if value:
            overrides[platform] = value
    consent = Consent(
        signed=front.consent.signed,
        reference=front.consent.reference,
        platforms=tuple(front.consent.platforms) if front.consent.platforms is not None else None,
        expires=front.consent.expires,
    )
    reading.story = Story(
        id=path.stem,
        file=shown,
        title=front.title,
        name=front.name,
        quote=front.quote,
        body=clean_text(body, multiline=True).strip("\n"),
        consent=consent,
        age=front.age,
        diagnosis=front.diagnosis,
        photo=photo,
        photo_alt=front.photo_alt,
        photo_focus=front.photo_focus,
        day=front.day,
        hashtags=tuple(front.hashtags),
        link=front.link,
        overrides=overrides,
        content_hash=hashlib.sha256(raw + b"\0" + photo_bytes).hexdigest(),
        lines=lines,
    )
    return reading


def _decode(raw: bytes, problem: Any) -> str | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problem(None, None, "is saved as UTF-16: save it as UTF-8 (Save As, Encoding: UTF-8)")
        return None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        problem(
            line, None,
            f"is not UTF-8 (byte 0x{byte} on this line; perhaps Windows-1252 or Latin-1): "
            "save the file as UTF-8 (Save As, Encoding: UTF-8)",
        )
        return None


def _split_front_matter(text: str) -> tuple[str, str] | None:
    """('yaml text', 'body') when the file starts with a '---' line and has a closing one."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return None


def _walk(node: Any, prefix: str, lines: dict[str, int], tags: list[tuple[str, int | None]]) -> None:
    """Record the file line of every key, and every explicit YAML tag."""
    tag = getattr(getattr(node, "tag", None), "value", None)
    if tag is not None and not _STANDARD_TAG.match(str(tag)):
        tags.append((prefix, lines.get(prefix)))
        return
    if isinstance(node, CommentedMap):
        for key in node:
            path = f"{prefix}.{key}" if prefix else str(key)
            with suppress(KeyError, TypeError, AttributeError):
                lines[path] = node.lc.key(key)[0] + 2  # +1 for 1-based, +1 for the '---' line
            _walk(node[key], path, lines, tags)
    elif isinstance(node, CommentedSeq):
        for i, item in enumerate(node):
            path = f"{prefix}[{i}]"
            with suppress(KeyError, TypeError, AttributeError):
                lines[path] = node.lc.item(i)[0] + 2
            _walk(item, path, lines, tags)


def _clean(node: Any) -> Any:
    """Plain dicts, lists and cleaned strings for pydantic."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else clean_text(k): _clean(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    if isinstance(node, str):
        return clean_text(str(node))
    return node


def _line_of(lines: dict[str, int], key: str) -> int | None:
    """The line of a key, or of its nearest parent that is in the file."""
    while key:
        if key in lines:
            return lines[key]
        key = key.rsplit(".", 1)[0] if "." in key else ""
    return None


def _check_photo(
    front: _FrontMatter, project: Project, lines: dict[str, int], problem: Any
) -> tuple[Path | None, bytes]:
    if not front.photo:
        return None, b""
    line = lines.get("photo")
    given = front.photo
    if given.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", given):
        problem(line, "photo", "is an absolute path: give it relative to the repository, "
                "e.g. assets/photos/marieke.jpg")
        return None, b""
    root = project.root.resolve()
    path = (root / given).resolve()
    if not path.is_relative_to(root):
        problem(line, "photo", f"{given!r} leads outside the repository (via '..' or a symlink): "
                "copy the photo into the repository, e.g. assets/photos/")
        return None, b""
    if not path.is_file():
        problem(line, "photo", f"{given!r} does not exist: check the path and the file name")
        return None, b""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:  # reads the header only
                fmt, (width, height) = image.format, image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        problem(line, "photo", f"{given!r} is absurdly large (a decompression bomb?): "
                "use a photo of at most 40 megapixels")
        return None, b""
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        problem(line, "photo", f"{given!r} is not an image Pillow can read: "
                "export it as JPEG or PNG")
        return None, b""
    if fmt not in PHOTO_FORMATS:
        problem(line, "photo", f"{given!r} is a {fmt} image: export it as JPEG or PNG")
        return None, b""
    if width * height > MAX_PHOTO_PIXELS:
        problem(line, "photo", f"{given!r} is {width}x{height} ({width * height / 1e6:.0f} "
                "megapixels): scale it down to at most 40 megapixels")
        return None, b""
    return path, path.read_bytes()
