"""The story files in `stories/`: which files are stories, their ids, and what reading
one gives (`StoryReading`). Reading itself is `stories.read_story`.

Kept apart from `campaign.stories` (YAML, pydantic and Pillow) so that a command whose
stories are all unchanged (their checks kept in build/, `checkcache.py`) only lists the
folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from campaign.i18n import _
from campaign.models import Problem, Severity, Story

if TYPE_CHECKING:
    from campaign.config import Project

@dataclass
class StoryReading:
    """The result of reading one file: the story if it is valid, and every problem."""

    file: str
    story: Story | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


#: What a story file's name may end in, in any case: `.md`, `.MD`, `.markdown`.
STORY_SUFFIXES = (".md", ".markdown")
# Saved by a word processor or Notepad instead of as .md: warned about by name.
_NOT_SAVED_AS_MD = (".txt", ".text", ".docx", ".doc", ".rtf", ".odt", ".pages", ".html", ".htm")
# Left behind by editors and office programs: not a story, and not worth a word.
_LEFT_BEHIND = ("~", ".swp", ".swx", ".bak", ".tmp", ".orig")


@dataclass(frozen=True)
class IgnoredFile:
    """A file in stories/ that is not read, with the reason and the fix.

    `severity` is None for files that are plainly not stories (photos, drafts
    starting with '_', README.md), and a warning or an error for files that
    look like a story someone meant to post.
    """

    file: str
    story_id: str
    reason: str
    severity: Severity | None = None
    code: str = ""


def story_id_of(path: Path) -> str:
    """The story's id: its file name without `.md` (or `.MD`, `.markdown`)."""
    name = path.name
    for suffix in STORY_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _is_story_name(name: str) -> bool:
    lower = name.lower()
    return any(lower.endswith(s) and len(lower) > len(s) for s in STORY_SUFFIXES)


def scan_stories(project: Project) -> tuple[list[Path], list[IgnoredFile]]:
    """The story files in file-name order, and every other file in stories/ with why it
    is not read. Two files with the same story id (`a.md`, `a.MD`): the second is an error."""
    folder = project.stories_dir
    if not folder.is_dir():
        return [], []
    stories: list[Path] = []
    ignored: list[IgnoredFile] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        lower = name.lower()
        shown = project.relative(path)
        if name.startswith((".", "~$", "#")) or lower.endswith(_LEFT_BEHIND):
            continue  # hidden files, editor backups and office lock files
        if _safe_is_dir(path):
            continue
        if lower == "readme.md":
            ignored.append(IgnoredFile(shown, path.stem, _("the folder's own notes"),
                                       code="file.readme"))
            continue
        if _is_story_name(name):
            sid = story_id_of(path)
            if name.startswith("_"):
                ignored.append(IgnoredFile(shown, sid, _(
                    "its name starts with _, so it is a draft: rename it to {name} to post it")
                    .format(name=name[1:]), code="file.draft"))
                continue
            if sid.lower() in seen:
                other = project.relative(seen[sid.lower()])
                ignored.append(IgnoredFile(shown, sid, _(
                    "has the same name as {other}: rename one of them (each story needs its "
                    "own name)").format(other=other), "error", code="file.same_name"))
                continue
            seen[sid.lower()] = path
            stories.append(path)
            continue
        for suffix in _NOT_SAVED_AS_MD:
            if lower.endswith(suffix):
                base = name[: -len(suffix)]
                base = base if _is_story_name(base) else base + ".md"
                if suffix in (".txt", ".text"):
                    reason = _("is saved as .txt (Notepad does this), so it is not read: save "
                               "it as plain text (UTF-8) named {name}").format(name=base)
                    code = "file.saved_as_txt"
                else:
                    reason = _("is a {suffix} file, not a story file, so it is not read: save "
                               "it as plain text (UTF-8) named {name}").format(suffix=suffix,
                                                                               name=base)
                    code = "file.not_saved_as_md"
                ignored.append(IgnoredFile(shown, story_id_of(Path(base)), reason, "warning",
                                           code=code))
                break
        else:
            ignored.append(IgnoredFile(shown, path.stem, _("not a story file (.md)"),
                                       code="file.not_a_story"))
    return stories, ignored


def _safe_is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:
        return False


def story_files(project: Project) -> list[Path]:
    """Story files in file-name order (`.md`, any case, and `.markdown`). Files starting
    with '_' or '.' and README.md are not stories: see `scan_stories`."""
    return scan_stories(project)[0]


def find_story_file(project: Project, story_id: str) -> Path | None:
    """The file of a story id, whatever its suffix; None when there is none."""
    for path in story_files(project):
        if story_id_of(path) == story_id:
            return path
    return None


def unknown_story(project: Project, story_id: str) -> str:
    """What to say when no story has this id: which ones exist, and the nearest."""
    import difflib

    known = [story_id_of(p) for p in story_files(project)]
    nearest = difflib.get_close_matches(story_id, known, n=1, cutoff=0.6)
    where = project.relative(project.stories_dir)
    stories = ", ".join(known)
    if nearest:
        message = _("there is no story {story!r} in {where}/: did you mean {nearest}? The "
                    "stories are: {stories} (the file name without .md).")
    elif known:
        message = _("there is no story {story!r} in {where}/ The stories are: {stories} (the "
                    "file name without .md).")
    else:
        message = _("there is no story {story!r} in {where}/: there are no story files there "
                    "yet.")
    message = message.format(story=story_id, where=where, nearest=nearest[0] if nearest else "",
                             stories=stories)
    return message
