"""`campaign check` and `campaign plan`: read every story, plan the week, report it all.

Read everything first, then plan, then report (Pelican's habit): one bad file
is listed with its path and the run goes on. The JSON shapes are the contract
of SPEC §10; keys may be added, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaign.captions import (
    campaign_hashtag_problems,
    caption_problems,
    compose_alt_text,
    compose_caption,
)
from campaign.cards import card_format, card_path, card_problems, theme_problems
from campaign.config import Project
from campaign.models import Plan, Post, Problem, Story
from campaign.planner import build_plan
from campaign.stories import StoryReading, read_stories


@dataclass(frozen=True)
class CheckReport:
    project: Project
    readings: tuple[StoryReading, ...]
    plan: Plan
    problems: tuple[Problem, ...]

    @property
    def stories(self) -> list[Story]:
        """Valid stories: read without error and not refused by the planner."""
        refused = {p.file for p in self.problems if p.severity == "error"}
        return [r.story for r in self.readings if r.story is not None and r.story.file not in refused]

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

    def day_of(self, story_id: str) -> str | None:
        for day, sid in self.plan.days.items():
            if sid == story_id:
                return day.isoformat()
        return None

    def check_json(self) -> dict[str, Any]:
        """SPEC §10 `check --json`."""
        stories = [
            {
                "file": s.file,
                "id": s.id,
                "day": self.day_of(s.id),
                "spare": s.id in self.plan.spares,
            }
            for s in self.stories
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
        }

    def post_json(self, post: Post) -> dict[str, Any]:
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


#: Problems of the caption and card stages per (story content hash, settings), which
#: depend on nothing else: the scheduler passes one in so that a rebuild stays cheap.
StageCache = dict[tuple[str, int], list[Problem]]


def run_check(project: Project, now: datetime, cache: StageCache | None = None) -> CheckReport:
    """Validate every story, plan the week, and collect every problem."""
    readings = tuple(read_stories(project))
    stories = [r.story for r in readings if r.story is not None]
    problems: list[Problem] = [p for r in readings for p in r.problems]
    plan = build_plan(stories, project.settings, now)
    # A story that the planner refused (day taken, consent) is not posted: its errors count.
    problems.extend(plan.problems)
    # Captions: shortened ones (warnings), overrides too long (errors), lowercase hashtags.
    try:
        config_text: str | None = project.config_file.read_text(encoding="utf-8")
    except OSError:
        config_text = None
    problems.extend(campaign_hashtag_problems(project.settings, config_text))
    # Cards: theme contrast and files; text that does not fit (errors), characters left out.
    problems.extend(theme_problems(project))
    settings_key = hash(project.settings.model_dump_json())
    for story in stories:
        key = (story.content_hash, settings_key)
        if cache is None or key not in cache:
            found = caption_problems(story, project.settings) + card_problems(story, project)
            if cache is None:
                problems.extend(found)
                continue
            cache[key] = found
        problems.extend(cache[key])
    return CheckReport(project=project, readings=readings, plan=plan, problems=tuple(problems))
