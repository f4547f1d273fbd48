"""`campaign check` and `campaign plan`: read every story, plan the week, report it all.

Read everything first, then plan, then report (Pelican's habit): one bad file
is listed with its path and the run goes on. The JSON shapes are the contract
of SPEC §10; keys may be added, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
            "caption": None,
            "caption_length": None,
            "caption_limit": None,
            "shortened": False,
            "alt_text": None,
            "card": None,
        }


def run_check(project: Project, now: datetime) -> CheckReport:
    """Validate every story, plan the week, and collect every problem."""
    readings = tuple(read_stories(project))
    stories = [r.story for r in readings if r.story is not None]
    problems: list[Problem] = [p for r in readings for p in r.problems]
    plan = build_plan(stories, project.settings, now)
    # A story that the planner refused (day taken, consent) is not posted: its errors count.
    problems.extend(plan.problems)
    return CheckReport(project=project, readings=readings, plan=plan, problems=tuple(problems))
