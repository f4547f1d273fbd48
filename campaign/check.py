"""`campaign check` and `campaign plan`: read every story, plan the week, report it all.

Read everything first, then plan, then report (Pelican's habit): one bad file
is listed with its path and the run goes on. The JSON shapes are the contract
of SPEC §10; keys may be added, never changed.

`run_check` is the one plan (SPEC §11): `check`, `plan`, `preview`, `status`,
`run` and the rehearsal all call it, with the ledger's facts (the days it has
already given, the withdrawals), so they always show the same week. It gives
every file in `stories/` exactly one fate (`Fate`): planned, spare, invalid,
withdrawn or ignored.

Each story file is checked (read, captions, cards) by `check_story` in a
worker process with a budget of time and memory (`guard.py`): a file that
runs over it is *invalid*, and the other stories are checked as usual.
Results are kept per file version in a `CheckCache`, so a scheduler that
plans again every few seconds only reads the files that changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from campaign import checkcache
from campaign.config import Project
from campaign.guard import OverBudget, run_bounded
from campaign.i18n import _, language
from campaign.models import Fate, LedgerFacts, Plan, Post, Problem, Story
from campaign.planner import build_plan
from campaign.storyfiles import IgnoredFile, StoryReading, scan_stories, story_id_of


@dataclass(frozen=True)
class StoryCheck:
    """One story file, checked: what reading it found, and what its captions and cards found."""

    reading: StoryReading
    problems: tuple[Problem, ...] = ()

    @property
    def all_problems(self) -> list[Problem]:
        return [*self.reading.problems, *self.problems]


def check_story(path: Path, project: Project) -> StoryCheck:
    """Read one story file and check its captions and cards. Runs in the story worker."""
    from campaign.captions import caption_problems
    from campaign.cards import card_problems
    from campaign.stories import read_story

    reading = read_story(path, project)
    if reading.story is None:
        return StoryCheck(reading)
    story = reading.story
    found = caption_problems(story, project.settings) + card_problems(story, project)
    return StoryCheck(reading, tuple(found))


def _over_budget(path: Path, project: Project, exc: Exception) -> StoryCheck:
    shown = project.relative(path)
    if isinstance(exc, OverBudget):
        if exc.kind == "crash":
            message = _("could not be checked: checking it stopped unexpectedly, so it is not "
                        "posted. The file is probably damaged or holds something very unusual "
                        "(thousands of symbols, a pasted file): open it, keep only the story, "
                        "and save it again as plain text")
            code = "check.crashed"
        else:
            message = _("could not be checked: checking it {reason}, so it is not posted. The "
                        "file is probably damaged or holds something very unusual (thousands "
                        "of symbols, a pasted file): open it, keep only the story, and save it "
                        "again as plain text").format(reason=str(exc))
            code = "check.over_budget"
    else:  # a bug of ours: this file is not posted, the others go on
        message = _("could not be checked (internal error {error}: {detail}), so it is not "
                    "posted: this is a bug in campaign; please report it with this file").format(
                        error=type(exc).__name__, detail=exc)
        code = "check.internal_error"
    return StoryCheck(StoryReading(file=shown, story=None,
                                   problems=[Problem(shown, None, None, message, code=code)]))


def check_story_bounded(path: Path, project: Project) -> StoryCheck:
    """`check_story` within the story budget (time and memory); never raises for the file."""
    try:
        return run_bounded(check_story, path, project)
    except Exception as exc:
        return _over_budget(path, project, exc)


def _signature(path: Path) -> tuple[int, ...] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_mode)


@dataclass
class CheckCache:
    """Checked story files by path and settings, valid while the file and its photo are
    unchanged (same size, times and inode), kept in memory and on disk.

    On disk (`build/cache/check/<story>.json`, `checkcache.py`) a result outlives the
    process, so an unchanged week checks in a stat per file (issue 19); in memory, a
    scheduler that plans again every few seconds does not even read those notes.
    """

    entries: dict[tuple[str, int, str],
                  tuple[tuple[int, ...], tuple[int, ...] | None, StoryCheck]] = \
        field(default_factory=dict)
    contexts: dict[tuple[str, int, str], str] = field(default_factory=dict)

    def _context(self, project: Project, settings_key: int) -> str:
        key = (str(project.root), settings_key, language())
        if key not in self.contexts:
            self.contexts[key] = checkcache.context_key(project)
        return self.contexts[key]

    def campaign_problems(self, project: Project, settings_key: int) -> list[Problem]:
        """What campaign.toml's captions and theme settings have wrong (lower-case campaign
        hashtags; theme contrast and files), kept on disk like a story's check."""
        try:
            config_text: str | None = project.config_file.read_text(encoding="utf-8")
        except OSError:
            config_text = None
        note = checkcache.note_path(project, checkcache.CAMPAIGN_NOTE)
        context = checkcache.campaign_context(self._context(project, settings_key), config_text)
        kept = checkcache.load_problems(note, context)
        if kept is not None:
            return kept
        from campaign.captions import campaign_hashtag_problems
        from campaign.cards import theme_problems

        found = [*campaign_hashtag_problems(project.settings, config_text),
                 *theme_problems(project)]
        checkcache.save_problems(note, context, found)
        return found

    def check(self, path: Path, project: Project, settings_key: int) -> StoryCheck:
        signature = _signature(path)
        key = (str(path), settings_key, language())  # the messages are in the active language
        cached = self.entries.get(key)
        if cached is not None and signature is not None and cached[0] == signature:
            photo = cached[2].reading.story.photo if cached[2].reading.story else None
            if photo is None or _signature(photo) == cached[1]:
                return cached[2]
        disk = checkcache.note_path(project, story_id_of(path))
        context = self._context(project, settings_key)
        kept = checkcache.load(disk, path, context)
        if kept is not None:
            result = StoryCheck(*kept)
        else:
            result = check_story_bounded(path, project)
            if checkcache.worth_keeping(result.reading, result.problems):
                checkcache.save(disk, path, context, result.reading, result.problems)
        story = result.reading.story
        if signature is not None:
            photo_signature = _signature(story.photo) if story and story.photo else None
            self.entries[key] = (signature, photo_signature, result)
        return result


#: The old name of the cache the scheduler and the rehearsal hand in.
StageCache = CheckCache


@dataclass(frozen=True)
class CheckReport:
    project: Project
    readings: tuple[StoryReading, ...]
    plan: Plan
    problems: tuple[Problem, ...]
    fates: tuple[Fate, ...] = ()
    facts: LedgerFacts = field(default_factory=LedgerFacts)

    @property
    def stories(self) -> list[Story]:
        """Valid stories: read without error, not refused by the planner, not withdrawn."""
        refused = {p.file for p in self.problems if p.severity == "error"}
        return [r.story for r in self.readings if r.story is not None and r.story.file not in refused
                and r.story.id not in self.facts.withdrawn]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def story(self, story_id: str) -> Story | None:
        return next((s for s in self.stories if s.id == story_id), None)

    def fate(self, story_id: str) -> Fate | None:
        return next((f for f in self.fates if f.story_id == story_id and f.kind != "ignored"), None)

    def day_of(self, story_id: str) -> str | None:
        for day, sid in self.plan.days.items():
            if sid == story_id:
                return day.isoformat()
        return None

    def check_json(self) -> dict[str, Any]:
        """SPEC §10 `check --json`, with every file's fate (SPEC §11)."""
        stories = [
            {
                "file": fate.file,
                "id": fate.story_id,
                "day": fate.day.isoformat() if fate.day else None,
                "spare": fate.kind == "spare",
                "fate": fate.kind,
                "reason": fate.reason,
            }
            for fate in self.fates
        ]
        return {
            "ok": self.ok,
            "errors": [p.as_json() for p in self.errors],
            "warnings": [p.as_json() for p in self.warnings],
            "stories": stories,
        }

    def plan_json(self) -> dict[str, Any]:
        """SPEC §10 `plan --json`."""
        return {
            "posts": [self.post_json(post) for post in self.plan.posts],
            "spares": list(self.plan.spares),
            "days": {d.isoformat(): s for d, s in self.plan.days.items()},
        }

    def post_json(self, post: Post) -> dict[str, Any]:
        from campaign.cards import card_format, card_path

        tz = self.project.settings.tz
        return {
            "story": post.story_id,
            "platform": post.platform,
            "day": post.day.isoformat(),
            "due": post.due.astimezone(tz).isoformat(),
            **self.caption_json(post),
            "card": self.project.relative(
                card_path(post.story_id, card_format(post.platform, self.project.settings),
                          self.project)
            ),
        }

    def caption_json(self, post: Post) -> dict[str, Any]:
        """The caption fields of a post (SPEC §10), composed as the publisher will send them."""
        from campaign.captions import compose_alt_text, compose_caption

        story = self.story(post.story_id)
        if story is None:
            return {"caption": None, "caption_length": None, "caption_limit": None,
                    "shortened": False, "alt_text": None}
        settings = self.project.settings
        caption = compose_caption(story, post.platform, settings)
        return {
            "caption": caption.text,
            "caption_length": caption.length,
            "caption_limit": caption.limit,
            "shortened": caption.shortened,
            "alt_text": compose_alt_text(story, post.platform, settings),
        }


def run_check(project: Project, now: datetime, cache: CheckCache | None = None, *,
              facts: LedgerFacts | None = None) -> CheckReport:
    """Validate every story, plan the week (keeping the ledger's days), give every file its fate.

    `facts` come from the ledger (`Ledger.facts`, or `ledger.read_facts` for a
    command that must not write to it); without them, the week of a campaign
    that has never run.
    """
    facts = facts or LedgerFacts()
    cache = cache if cache is not None else CheckCache()
    paths, ignored = scan_stories(project)
    settings_key = hash(project.settings.model_dump_json())
    checks: dict[str, StoryCheck] = {}
    problems: list[Problem] = []
    for path in paths:
        if story_id_of(path) in facts.withdrawn:
            continue  # never read again: nothing of it is shown, drawn or posted
        result = cache.check(path, project, settings_key)
        checks[project.relative(path)] = result
        problems.extend(result.all_problems)
    readings = tuple(c.reading for c in checks.values())
    stories = [r.story for r in readings if r.story is not None]
    for item in ignored:
        if item.severity is not None:
            problems.append(Problem(item.file, None, None, item.reason, item.severity,
                                    code=item.code))

    # Days the ledger gave to stories that have an error for now stay theirs.
    valid_ids = {s.id for s in stories}
    files_by_id = {story_id_of(p): project.relative(p) for p in paths}
    reserved: dict[date, str] = {}
    for story_id, day in facts.pinned.items():
        if story_id not in valid_ids and story_id in files_by_id:
            reserved.setdefault(day, files_by_id[story_id])
    plan = build_plan(stories, project.settings, now, pinned=facts.pinned, reserved=reserved)
    # A story that the planner refused (day taken, consent) is not posted: its errors count.
    problems.extend(plan.problems)
    problems.extend(cache.campaign_problems(project, settings_key))
    fates = story_fates(paths, ignored, project, problems, plan, facts)
    return CheckReport(project=project, readings=readings, plan=plan, problems=tuple(problems),
                       fates=fates, facts=facts)


def story_fates(paths: list[Path], ignored: list[IgnoredFile], project: Project,
                problems: list[Problem], plan: Plan, facts: LedgerFacts) -> tuple[Fate, ...]:
    """Exactly one fate per file in stories/, in file-name order. Pure."""
    first_error: dict[str, Problem] = {}
    for problem in problems:
        if problem.severity == "error":
            first_error.setdefault(problem.file, problem)
    day_of = {sid: day for day, sid in plan.days.items() if sid}
    fates: list[Fate] = []
    for path in paths:
        shown, sid = project.relative(path), story_id_of(path)
        if sid in facts.withdrawn:
            fates.append(Fate(shown, sid, "withdrawn"))
        elif shown in first_error:
            error = first_error[shown]
            where = _("line {line}: ").format(line=error.line) if error.line else ""
            field_ = f"{error.field}: " if error.field else ""
            fates.append(Fate(shown, sid, "invalid", reason=f"{where}{field_}{error.message}"))
        elif sid in day_of:
            fates.append(Fate(shown, sid, "planned", day=day_of[sid]))
        else:
            fates.append(Fate(shown, sid, "spare", reason=plan.spare_reasons.get(sid)))
    for item in ignored:
        fates.append(Fate(item.file, item.story_id, "ignored", reason=item.reason,
                          severity=item.severity))
    return tuple(sorted(fates, key=lambda f: f.file))
