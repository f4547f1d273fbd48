"""What `check` found in each story file, kept on disk: an unchanged week checks in a
stat per file (issue 19), in a new process too.

One note per story, `build/cache/check/<story>.json`, holding the file's signature
(size, times, inode) and the sha256 of its bytes, the same of its photo, the context
it was checked in (the settings, the language of the messages, the theme's files, the
repository's folder and this program's own files) and the result: the story as read
and every problem of its captions and cards.

A note is used when the context is the same and the file and photo are unchanged: by
their signature (a stat), or, when only their times changed (a copy, a `touch`), by
their bytes. Anything else (another version, an unreadable or damaged note) means the
file is checked again; a note is never trusted over the file. Results that may depend
on something outside the file are not kept: a check that ran out of time or memory
(the machine may have been busy), and a photo that could not be read (it may be added
later). A withdrawn story's note is deleted with its cards (`publish.remove_story_files`).

campaign.toml's own problems (its campaign hashtags, the theme's colours and files) are
kept the same way in `_campaign.json`, keyed by the context and the file's text. One
thing outside all of these is not seen: Pillow gaining or losing its text layout
library (raqm) without any file of the campaign changing; deleting build/cache/
checks everything again.

JSON, not pickle: the notes are data, read back field by field, and a note that does
not fit is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any, cast

from campaign.config import Project
from campaign.files import MAX_PHOTO_BYTES, FileRefused, read_bounded
from campaign.i18n import language
from campaign.models import PLATFORMS, Consent, Platform, Problem, Story
from campaign.storyfiles import StoryReading

#: Bump when the shape of a note changes.
NOTE_VERSION = 1
#: The note of campaign.toml's own problems (a story file starting with _ is a draft,
#: so no story has this name).
CAMPAIGN_NOTE = "_campaign"

#: Story files and photos are at most this large; anything larger is never noted.
MAX_NOTED_BYTES = MAX_PHOTO_BYTES
_PACKAGE = Path(__file__).resolve().parent
_code_key: str | None = None


def note_path(project: Project, story_id: str) -> Path:
    return project.build_dir / "cache" / "check" / f"{story_id}.json"


def code_key() -> str:
    """This program's own files (names, sizes and times), once per process: a new version
    of campaign, or a changed rule in development, checks every story again."""
    global _code_key
    if _code_key is None:
        digest = hashlib.sha256()
        for folder, dirs, files in os.walk(_PACKAGE):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".mo")):
                    stat = os.stat(os.path.join(folder, name))
                    digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
        _code_key = digest.hexdigest()
    return _code_key


def context_key(project: Project) -> str:
    """Everything besides the file and its photo that a story's check depends on."""
    theme = project.settings.theme
    files = []
    for relative in (theme.font_regular, theme.font_semibold, theme.font_bold,
                     theme.font_fallback, theme.logo):
        if relative:
            try:
                stat = project.path(relative).stat()
                files.append(f"{relative}:{stat.st_size}:{stat.st_mtime_ns}")
            except OSError:
                files.append(f"{relative}:missing")
    material = [str(NOTE_VERSION), code_key(), project.settings.model_dump_json(), language(),
                str(project.root), *files]
    return hashlib.sha256("\n".join(material).encode()).hexdigest()


def worth_keeping(reading: StoryReading, problems: tuple[Problem, ...]) -> bool:
    """Only results that follow from the file, its photo and the context."""
    photo_known = reading.story is not None and reading.story.photo is not None
    for problem in (*reading.problems, *problems):
        if problem.code.startswith("check.") or (
                problem.code.startswith("photo.") and not photo_known):
            return False
    return True


def _file_facts(path: Path) -> tuple[list[int], str] | None:
    """(signature, sha256) of a file, or None when it cannot be read. Read the way story
    files are (`files.read_bounded`): an ordinary file of a story's or photo's size, never
    a pipe or a device, which would wait for ever."""
    try:
        status = os.stat(path)
        data = read_bounded(path, MAX_NOTED_BYTES, too_large="")
    except (OSError, FileRefused):
        return None
    return _stat_list(status), hashlib.sha256(data).hexdigest()


def _stat_list(stat: os.stat_result) -> list[int]:
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _unchanged(path: Path, recorded: Any) -> bool:
    """The file is as recorded: the same signature, or else the same bytes."""
    if not isinstance(recorded, dict):
        return False
    try:
        if _stat_list(os.stat(path)) == recorded.get("signature"):
            return True
    except OSError:
        return False
    facts = _file_facts(path)
    return facts is not None and facts[1] == recorded.get("sha256")


def load(note: Path, path: Path, context: str) -> tuple[StoryReading, tuple[Problem, ...]] | None:
    """The kept result for the story file at `path`, or None when it must be checked again."""
    try:
        data = json.loads(note.read_text(encoding="utf-8"))
        if data.get("version") != NOTE_VERSION or data.get("context") != context:
            return None
        if data.get("file_path") != str(path) or not _unchanged(path, data.get("file")):
            return None
        reading = _reading(data["reading"])
        if reading.story is not None and reading.story.photo is not None and not _unchanged(
                reading.story.photo, data.get("photo")):
            return None
        return reading, tuple(_problem(p) for p in data["problems"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def campaign_context(context: str, config_text: str | None) -> str:
    """The context of campaign.toml's own problems: its text gives their lines."""
    return hashlib.sha256(f"{context}\n{config_text}".encode()).hexdigest()


def load_problems(note: Path, context: str) -> list[Problem] | None:
    """campaign.toml's kept problems (`CAMPAIGN_NOTE`), or None."""
    try:
        data = json.loads(note.read_text(encoding="utf-8"))
        if data.get("version") != NOTE_VERSION or data.get("context") != context:
            return None
        return [_problem(p) for p in data["problems"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def save_problems(note: Path, context: str, problems: list[Problem]) -> None:
    _write(note, {"version": NOTE_VERSION, "context": context,
                  "problems": [_problem_json(p) for p in problems]})


def save(note: Path, path: Path, context: str, reading: StoryReading,
         problems: tuple[Problem, ...]) -> None:
    """Keep the result; a note that cannot be written only means checking again next time."""
    facts = _file_facts(path)
    if facts is None:
        return
    photo = reading.story.photo if reading.story else None
    photo_facts = _file_facts(photo) if photo else None
    if photo is not None and photo_facts is None:
        return
    data = {
        "version": NOTE_VERSION,
        "context": context,
        "file_path": str(path),
        "file": {"signature": facts[0], "sha256": facts[1]},
        "photo": {"signature": photo_facts[0], "sha256": photo_facts[1]} if photo_facts else None,
        "reading": _reading_json(reading),
        "problems": [_problem_json(p) for p in problems],
    }
    _write(note, data)


def _write(note: Path, data: dict[str, Any]) -> None:
    """Write a note whole or not at all; a note that cannot be written only means checking
    again next time."""
    with contextlib.suppress(OSError):
        note.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=note.parent, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
            os.replace(temporary, note)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


# --------------------------------------------------------------------------- the JSON shapes


def _problem_json(problem: Problem) -> dict[str, Any]:
    return {"file": problem.file, "line": problem.line, "field": problem.field,
            "message": problem.message, "severity": problem.severity, "code": problem.code}


def _problem(data: dict[str, Any]) -> Problem:
    severity = data["severity"]
    if severity not in ("error", "warning"):
        raise ValueError(severity)
    return Problem(str(data["file"]), _int_or_none(data["line"]), _str_or_none(data["field"]),
                   str(data["message"]), severity, str(data["code"]))


def _reading_json(reading: StoryReading) -> dict[str, Any]:
    return {"file": reading.file, "story": _story_json(reading.story) if reading.story else None,
            "problems": [_problem_json(p) for p in reading.problems]}


def _reading(data: dict[str, Any]) -> StoryReading:
    story = data["story"]
    return StoryReading(file=str(data["file"]), story=_story(story) if story is not None else None,
                        problems=[_problem(p) for p in data["problems"]])


def _story_json(story: Story) -> dict[str, Any]:
    consent = story.consent
    return {
        "id": story.id, "file": story.file, "title": story.title, "name": story.name,
        "quote": story.quote, "body": story.body,
        "consent": {"signed": consent.signed.isoformat(), "reference": consent.reference,
                    "platforms": list(consent.platforms) if consent.platforms is not None else None,
                    "expires": consent.expires.isoformat() if consent.expires else None},
        "age": story.age, "diagnosis": story.diagnosis,
        "photo": str(story.photo) if story.photo else None, "photo_alt": story.photo_alt,
        "photo_focus": list(story.photo_focus) if story.photo_focus else None,
        "day": story.day.isoformat() if story.day else None,
        "hashtags": list(story.hashtags), "link": story.link, "overrides": story.overrides,
        "content_hash": story.content_hash, "lines": story.lines,
    }


def _story(data: dict[str, Any]) -> Story:
    consent = data["consent"]
    platforms = consent["platforms"]
    focus = data["photo_focus"]
    return Story(
        id=str(data["id"]), file=str(data["file"]), title=str(data["title"]),
        name=str(data["name"]), quote=str(data["quote"]), body=str(data["body"]),
        consent=Consent(signed=date.fromisoformat(consent["signed"]),
                        reference=str(consent["reference"]),
                        platforms=tuple(_platform(p) for p in platforms)
                        if platforms is not None else None,
                        expires=_date_or_none(consent["expires"])),
        age=_int_or_none(data["age"]), diagnosis=_str_or_none(data["diagnosis"]),
        photo=Path(data["photo"]) if data["photo"] else None,
        photo_alt=_str_or_none(data["photo_alt"]),
        photo_focus=(float(focus[0]), float(focus[1])) if focus else None,
        day=_date_or_none(data["day"]),
        hashtags=tuple(str(h) for h in data["hashtags"]), link=_str_or_none(data["link"]),
        overrides={_platform(k): str(v) for k, v in dict(data["overrides"]).items()},
        content_hash=str(data["content_hash"]),
        lines={str(k): int(v) for k, v in dict(data["lines"]).items()},
    )


def _platform(value: Any) -> Platform:
    if value not in PLATFORMS:
        raise ValueError(value)
    return cast(Platform, value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _date_or_none(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)
