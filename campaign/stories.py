"""Read story files (`stories/*.md`): YAML front matter, then the story in Markdown.

`read_story(path, project)` never raises on bad input: it returns a
`StoryReading` with the `Story` (or None) and every `Problem` found, each as
`stories/x.md:7: consent.signed: what is wrong and the fix`. `read_stories`
does that for every file, in file-name order, so one bad file never hides
another.

No file can stop the week (SPEC §11): a story file and its photo are read
with `files.read_bounded` (ordinary files only, at most `MAX_STORY_BYTES` and
`MAX_PHOTO_BYTES`, never waiting on a pipe or a device), and the front matter's
YAML is looked at event by event before anything is built from it: no anchors
or aliases (a story needs none, and they are how a 2 KB file becomes gigabytes),
no keys that are lists or maps, at most `MAX_YAML_DEPTH` levels and
`MAX_YAML_NODES` values. Only then is it parsed with ruamel.yaml's round-trip
loader, which gives line numbers and never builds Python objects; any YAML tag
(`!!python/object`, `!foo`) is refused. Text fields are cleaned of control and
bidi-override characters. Photos must be real images inside the repository.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from contextlib import suppress
from datetime import date
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    MappingStartEvent,
    NodeEvent,
    ScalarEvent,
)

from campaign.config import Project
from campaign.files import MAX_PHOTO_BYTES, FileRefused, read_bounded, resolve_inside
from campaign.i18n import N_, _
from campaign.models import PLATFORMS, Consent, Platform, Problem, Story
from campaign.platforms import display_name, from_written
from campaign.storyfiles import (
    StoryReading,
    story_files,
    story_id_of,
)
from campaign.validation import CodedError, clean_text, describe_with_code, dotted, error_field

MAX_PHOTO_PIXELS = 40_000_000
PHOTO_FORMATS = {"JPEG", "PNG", "WEBP"}
# A story is a page of text (the examples are 1 to 2 KB); anything this large is a mistake.
MAX_STORY_BYTES = 200_000
# The front matter: `consent: platforms: [...]` is 3 levels deep; a story has about 20 values.
MAX_YAML_DEPTH = 4
MAX_YAML_NODES = 400
# Every text in the front matter has a length limit, so nothing unbounded reaches a caption.
MAX_OVERRIDE_CHARS = 5_000
_HASHTAG = re.compile(r"^#?[^\W_]\w*$")
_URL = re.compile(r"^https?://[^\s/?#]+\.[^\s/?#]+[^\s]*$")
_STANDARD_TAG = re.compile(r"^tag:yaml\.org,2002:(str|int|float|bool|null|timestamp|map|seq)$")


class _FrontMatterBase(BaseModel):
    """What a story's front matter may contain (SPEC §3), but for the caption overrides."""

    model_config = ConfigDict(extra="forbid")

    class ConsentModel(BaseModel):
        model_config = ConfigDict(extra="forbid")
        signed: date
        reference: str = Field(min_length=1, max_length=100)
        platforms: list[Platform] | None = None
        expires: date | None = None

        @field_validator("platforms", mode="before")
        @classmethod
        def _platforms(cls, values: Any) -> Any:
            if not isinstance(values, list) or all(v in PLATFORMS for v in values):
                return values
            known = ", ".join(PLATFORMS)
            fixed: list[str] = []
            renamed: list[str] = []
            for value in values:
                found = from_written(str(value))
                if found is None:
                    raise CodedError(_("{value!r} is not a platform campaign posts to: use one "
                                       "of {known}").format(value=value, known=known),
                                     "consent.unknown_platform")
                fixed.append(found)
                if str(value).strip().lower() != found:
                    renamed.append(_("{name} ({written}) is written {platform}").format(
                        name=display_name(found), written=str(value).strip(), platform=found))
            fix = "platforms: [" + ", ".join(fixed) + "]"
            if renamed:
                raise CodedError(_("platform names are written in lower case, and {renamed}: "
                                   "write {fix}").format(renamed=", ".join(renamed), fix=fix),
                                 "consent.platform_spelling")
            raise CodedError(_("platform names are written in lower case: write {fix}")
                             .format(fix=fix), "consent.platform_spelling")

        @model_validator(mode="after")
        def _expires_after_signed(self) -> _FrontMatterBase.ConsentModel:
            if self.expires is not None and self.expires < self.signed:
                raise CodedError(_("expires is before signed: check both dates on the consent "
                                   "form"), "consent.expires_before_signed")
            return self

    title: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=80)
    age: int | None = Field(default=None, ge=0, le=130)
    diagnosis: str | None = Field(default=None, max_length=120)
    quote: str = Field(min_length=1, max_length=600)
    photo: str | None = Field(default=None, max_length=1000)
    photo_alt: str | None = Field(default=None, max_length=1000)
    photo_focus: tuple[float, float] | None = None
    day: date | None = None
    consent: ConsentModel
    hashtags: list[str] = Field(default=[], max_length=30)
    link: str | None = Field(default=None, max_length=2000)

    @field_validator("hashtags")
    @classmethod
    def _hashtags(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _HASHTAG.match(value):
                raise CodedError(
                    _("{value!r} is not a hashtag: use letters and digits only, no spaces "
                      "or punctuation, e.g. {example}").format(value=value,
                                                              example="ZeldzameKanker"),
                    "hashtag.invalid")
        return [v.lstrip("#") for v in values]

    @field_validator("link")
    @classmethod
    def _link(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise CodedError(
                _("{value!r} is not a web address: write it as {example}").format(
                    value=value, example="https://example.org/path"), "link.invalid")
        return value

    @field_validator("photo_focus")
    @classmethod
    def _focus(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and not all(0.0 <= v <= 1.0 for v in value):
            raise CodedError(_("must be two numbers from 0 to 1, e.g. {example} (x, y)")
                             .format(example="[0.5, 0.3]"), "photo_focus.out_of_range")
        return value

    @model_validator(mode="after")
    def _photo_needs_alt(self) -> _FrontMatterBase:
        if self.photo and not (self.photo_alt and self.photo_alt.strip()):
            raise CodedError(_("is required when photo is set: describe the photo"),
                             "photo.alt_missing", field="photo_alt")
        return self


# One caption override per platform, `x: shorter text`: a field for every platform.
_OVERRIDES: dict[str, Any] = {
    platform: (str | None, Field(default=None, max_length=MAX_OVERRIDE_CHARS))
    for platform in PLATFORMS
}
_FrontMatter: type[_FrontMatterBase] = create_model(
    "_FrontMatter", __base__=_FrontMatterBase, **_OVERRIDES
)


_EXAMPLES = {
    "title": "Twee jaar zoeken naar een diagnose",
    "name": "Marieke",
    "quote": "Vraag door. Jij kent je lichaam het best.",
    "consent": N_("(a block with signed and reference)"),
    "signed": "2026-11-30",
    "reference": "CCA-2026-014",
}


def read_stories(project: Project) -> list[StoryReading]:
    return [read_story(path, project) for path in story_files(project)]


def read_story(path: Path, project: Project) -> StoryReading:
    """Read and validate one story file. Never raises on the file's content."""
    shown = project.relative(path)
    reading = StoryReading(file=shown, story=None)

    def problem(line: int | None, field_: str | None, message: str, code: str) -> None:
        reading.problems.append(Problem(shown, line, field_, message, code=code))

    try:
        raw = read_bounded(path, MAX_STORY_BYTES, too_large=_(
            "a story is a page of text: check that this is the right file, "
            "and keep the story under 200 KB"))
    except FileRefused as exc:
        problem(None, None, str(exc), "file.not_readable")
        return reading
    if raw.startswith(_WORD_SIGNATURES):
        problem(None, None, _("this is a Word or office document, not a text file: open it, "
                "choose Save As, and save it as plain text (.txt, encoding UTF-8) named *.md"),
                "file.word_document")
        return reading
    text = _decode(raw, problem)
    if text is None:
        return reading

    split = _split_front_matter(text)
    if split is None:
        if text.lstrip("\ufeff").splitlines()[:1] == ["---"]:
            problem(1, None, _('the front matter is not closed: add a line "---" after the '
                    "last field, before the story's text"), "front_matter.not_closed")
        else:
            problem(1, None, _('has no front matter: start the file with a line "---", the '
                    'fields, and another "---"'), "front_matter.missing")
        return reading
    yaml_text, body = split
    # YAML refuses raw control characters with a puzzling message; they are removed
    # from every text field anyway, so remove them (and bidi overrides) first.
    yaml_text = clean_text(yaml_text, multiline=True)

    shape = _yaml_shape_problem(yaml_text)
    if shape is not None:
        problem(*shape)
        return reading
    try:
        data = YAML(typ="rt", pure=True).load(yaml_text)
    except YAMLError as exc:
        problem(*_yaml_error(exc, yaml_text))
        return reading
    except Exception as exc:  # ruamel raises odd errors on pathological input
        problem(None, None, _("front matter could not be read ({error}): fix its syntax")
                .format(error=type(exc).__name__), "yaml.unreadable")
        return reading
    if not isinstance(data, CommentedMap):
        problem(2, None, _("front matter must be a list of fields (key: value), one per line"),
                "front_matter.not_fields")
        return reading
    comments = _comment_values(yaml_text, data)
    for comment_line, key in comments:
        if key == "hashtags":
            message = _("the value starts with #, which YAML reads as a comment, so it is "
                        "empty: write hashtags without #: {fix}").format(fix="hashtags: [GIST]")
        else:
            message = _("the value starts with #, which YAML reads as a comment, so it is "
                        'empty: put it in quotes: {key}: "#..."').format(key=key)
        problem(comment_line, key, message, "yaml.hash_comment")
    if comments:
        return reading

    lines: dict[str, int] = {}
    tags: list[tuple[str, int | None]] = []
    _walk(data, "", lines, tags)
    for where, line in tags:
        problem(line, where or None, _("YAML tags (such as !!python/...) are not allowed: "
                                       "remove the tag"), "yaml.tag")
    if tags:
        return reading
    cleaned = _clean(data)

    try:
        front = _FrontMatter.model_validate(cleaned)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [p for p in error["loc"] if isinstance(p, (str, int))]
            example = _EXAMPLES.get(str(loc[-1]) if loc else "", "")
            message, code = describe_with_code(error, _FrontMatter,
                                               _(example) if example else "")
            named = error_field(error)
            if named is not None:
                loc = [named]
            key = dotted(loc)
            problem(_line_of(lines, key), key or None, message, code)
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
        id=story_id_of(path),
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


# .docx/.xlsx/.odt are zip files; .doc is an OLE compound file; .rtf starts with {\\rtf.
_WORD_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"{\\rtf")


def _yaml_shape_problem(yaml_text: str) -> tuple[int | None, str | None, str, str] | None:
    """(line, field, message, code) for front matter that must not be built, or None.

    Looks at the YAML's events one by one (linear in the text, and nothing is
    built), and stops at the first: an anchor or alias, a key that is a list or
    a map, nesting deeper than MAX_YAML_DEPTH, or more than MAX_YAML_NODES values.
    """
    # Per open collection: is it a map, and is its next node a key?
    open_: list[list[bool]] = []
    nodes = 0
    documents = 0
    try:
        for event in YAML(typ="rt", pure=True).parse(yaml_text):
            line = event.start_mark.line + 2 if event.start_mark is not None else None
            if isinstance(event, DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return (line, None, _("the front matter holds a second YAML document: "
                            "keep one block of fields between the two --- lines"),
                            "yaml.second_document")
            if isinstance(event, AliasEvent) or (isinstance(event, NodeEvent) and event.anchor):
                return (line, None, _("uses a YAML anchor (&name) or alias (*name); a story "
                        "needs none: write each value out in full (and put a text that starts "
                        "with & or * in quotes)"), "yaml.anchor")
            if isinstance(event, NodeEvent):
                nodes += 1
                if nodes > MAX_YAML_NODES:
                    return (line, None, _("the front matter has more than {limit} values: "
                            "a story needs about 20; check for a pasted list or text")
                            .format(limit=MAX_YAML_NODES), "yaml.too_many_values")
                if open_ and open_[-1][0] and open_[-1][1] and not isinstance(event, ScalarEvent):
                    return (line, None, _("a key is a list or a group of keys ([..] or {{..}} "
                            "before a colon): write each field as name: value, and put a text "
                            "with brackets in quotes").format(), "yaml.complex_key")
            if isinstance(event, CollectionStartEvent):
                if len(open_) >= MAX_YAML_DEPTH:
                    return (line, None, _("the front matter is nested more than {limit} "
                            "levels deep: a story needs at most 3 (consent: platforms: [..]); "
                            "put a text with brackets in quotes").format(limit=MAX_YAML_DEPTH),
                            "yaml.too_deep")
                open_.append([isinstance(event, MappingStartEvent), True])
            elif isinstance(event, ScalarEvent) and open_ and open_[-1][0]:
                open_[-1][1] = not open_[-1][1]
            elif isinstance(event, CollectionEndEvent) and open_:
                open_.pop()
                if open_ and open_[-1][0]:
                    open_[-1][1] = not open_[-1][1]
    except YAMLError:
        return None  # the loader reports the syntax error, with its line
    except Exception:  # ruamel raises odd errors on pathological input
        return (None, None, _("front matter could not be read: fix its syntax"),
                "yaml.unreadable")
    return None


_KEY_VALUE = re.compile(r"^(\s*)([A-Za-z_][\w.]*):\s*(.*?)\s*$")


def _yaml_error(exc: YAMLError, yaml_text: str) -> tuple[int | None, str | None, str, str]:
    """(line, field, message, code) for a YAML syntax error, saying what to do about the mistakes
    people really make: a colon in a text, a tab, a '#' in a list of hashtags."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    what = str(getattr(exc, "problem", None) or str(exc).splitlines()[0])
    if mark is None:
        return (None, None, _("front matter is not valid YAML ({error}): fix its syntax")
                .format(error=what), "yaml.syntax")
    lines = yaml_text.split("\n")
    index = min(mark.line, len(lines) - 1)
    # A flow list that is never closed is reported where the text ends: look back for it.
    while index > 0 and not lines[index].strip():
        index -= 1
    text = lines[index] if lines else ""
    line = index + 2  # 1-based, after the opening '---'
    found = _KEY_VALUE.match(text)
    key = _dotted_key(lines, index) if found else None
    value = found.group(3) if found else ""
    if "\t" in what or "\t" in text:
        column = text.index("\t") + 1 if "\t" in text else mark.column + 1
        return line, key, _("there is a tab at column {column}: YAML only takes spaces there: "
                            "replace the tab with spaces (two for each level)").format(
                                column=column), "yaml.tab"
    if "mapping values are not allowed" in what and found and ": " in value:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        name = found.group(2)
        return line, key, _("the text has a colon (:), which YAML reads as the start of "
                            'another field: put the whole text in quotes, like this: '
                            '{name}: "{quoted}"').format(name=name, quoted=quoted), \
            "yaml.colon_in_text"
    if "#" in text and ("[" in text or "expected the node content" in what):
        return line, key, _("a # starts a comment in YAML, so the rest of the line is not "
                            "read: write hashtags without # ({example}), or put each in quotes "
                            "('#GIST')").format(example="hashtags: [GIST, ZeldzameKanker]"), \
            "yaml.hash_comment"
    if "expected ',' or ']'" in what or "expected ',' or '}'" in what:
        opener, closer = ("[", "]") if "']'" in what else ("{", "}")
        for earlier in range(index, -1, -1):
            if lines[earlier].count(opener) > lines[earlier].count(closer):
                name = _dotted_key(lines, earlier)
                return earlier + 2, name, _(
                    "the {opener} on this line is never closed: end the list with {closer} on "
                    'the same line, or, if it is text, put it in quotes: {key}: "..."').format(
                        opener=opener, closer=closer, key=(name or "name").rsplit(".", 1)[-1]), \
                    "yaml.not_closed"
    if found and value[:1] in ('"', "'", "“", "‘") and "quote" not in what:
        return line, key, _("the quotes around the value do not match or are not closed "
                            "({error}): use straight quotes \" at both ends, or none").format(
                                error=what), "yaml.quotes"
    return line, key, _("front matter is not valid YAML ({error}): fix that line").format(
        error=what), "yaml.syntax"


def _dotted_key(lines: list[str], index: int) -> str | None:
    """The dotted path of the key on `lines[index]`, from the keys it is indented under."""
    found = _KEY_VALUE.match(lines[index].replace("\t", "  "))
    if not found:
        return None
    path, indent = [found.group(2)], len(found.group(1))
    for earlier in reversed(lines[:index]):
        parent = _KEY_VALUE.match(earlier.replace("\t", "  "))
        if parent and len(parent.group(1)) < indent:
            path.insert(0, parent.group(2))
            indent = len(parent.group(1))
            if indent == 0:
                break
    return ".".join(path)


def _comment_values(yaml_text: str, data: CommentedMap) -> list[tuple[int, str]]:
    """(line, key) of each field whose value was read as empty because it starts with '#'."""
    found = []
    for number, text in enumerate(yaml_text.split("\n")):
        match = _KEY_VALUE.match(text)
        if match and not match.group(1) and match.group(3).startswith("#"):
            key = match.group(2)
            if key in data and data[key] is None:
                found.append((number + 2, key))
    return found


def _decode(raw: bytes, problem: Any) -> str | None:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        problem(None, None, _("is saved as UTF-16: save it as UTF-8 (Save As, Encoding: UTF-8)"),
                "file.utf16")
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
            _("is not UTF-8 (byte 0x{byte} on this line; perhaps Windows-1252 or Latin-1): "
              "save the file as UTF-8 (Save As, Encoding: UTF-8)").format(byte=byte),
            "file.not_utf8",
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
    front: _FrontMatterBase, project: Project, lines: dict[str, int], problem: Any
) -> tuple[Path | None, bytes]:
    if not front.photo:
        return None, b""
    line = lines.get("photo")
    given = front.photo
    if given.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", given):
        problem(line, "photo", _("is an absolute path: give it relative to the repository, "
                "e.g. {example}").format(example="assets/photos/marieke.jpg"),
                "photo.absolute_path")
        return None, b""
    try:
        path = resolve_inside(project.root / given, project.root)
    except FileRefused as exc:
        problem(line, "photo", f"{given!r} {exc}", "photo.not_readable")
        return None, b""
    if path is None:
        problem(line, "photo", _("{photo!r} leads outside the repository (via '..' or a "
                "symlink): copy the photo into the repository, e.g. {example}").format(
                    photo=given, example="assets/photos/"), "photo.outside_repository")
        return None, b""
    if not path.exists():
        problem(line, "photo", _("{photo!r} does not exist: check the path and the file name")
                .format(photo=given), "photo.missing")
        return None, b""
    try:
        data = read_bounded(path, MAX_PHOTO_BYTES, too_large=_(
            "export it smaller (a JPEG of 12 megapixels is about 5 MB)"))
    except FileRefused as exc:
        problem(line, "photo", f"{given!r} {exc}", "photo.not_readable")
        return None, b""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:  # reads the header only
                fmt, (width, height) = image.format, image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        problem(line, "photo", _("{photo!r} is absurdly large (a decompression bomb?): "
                "use a photo of at most 40 megapixels").format(photo=given), "photo.too_large")
        return None, b""
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        problem(line, "photo", _("{photo!r} is not an image Pillow can read: "
                "export it as JPEG or PNG").format(photo=given), "photo.not_an_image")
        return None, b""
    if fmt not in PHOTO_FORMATS:
        problem(line, "photo", _("{photo!r} is a {format} image: export it as JPEG or PNG")
                .format(photo=given, format=fmt), "photo.format")
        return None, b""
    if width * height > MAX_PHOTO_PIXELS:
        problem(line, "photo", _("{photo!r} is {width}x{height} ({megapixels} megapixels): "
                "scale it down to at most 40 megapixels").format(
                    photo=given, width=width, height=height,
                    megapixels=f"{width * height / 1e6:.0f}"), "photo.too_many_pixels")
        return None, b""
    return path, data
