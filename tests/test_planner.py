"""The planner: pure, DST-correct, consent-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from campaign.config import Settings, load_project
from campaign.models import Consent, Story
from campaign.planner import build_plan
from tests.conftest import REPO

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def settings(**campaign: object) -> Settings:
    base = load_project(REPO / "campaign.toml").settings
    return base.model_copy(update={"campaign": base.campaign.model_copy(update=campaign)})


def story(sid: str, day: date | None = None, signed: date = date(2026, 11, 1),
          expires: date | None = None, platforms: tuple[str, ...] | None = None) -> Story:
    return Story(
        id=sid, file=f"stories/{sid}.md", title="T", name="N", quote="Q", body="B",
        consent=Consent(signed=signed, reference="R", platforms=platforms,  # type: ignore[arg-type]
                        expires=expires),
        day=day, lines={"day": 5, "consent.signed": 8, "consent.expires": 10},
    )


def test_explicit_day_wins_and_others_fill_in_file_name_order() -> None:
    plan = build_plan([story("a"), story("b", day=date(2027, 3, 8)), story("c")], settings(), NOW)
    assert plan.days[date(2027, 3, 8)] == "b"
    assert plan.days[date(2027, 3, 9)] == "a"
    assert plan.days[date(2027, 3, 10)] == "c"
    assert plan.spares == ()


def test_extra_stories_are_spares_and_empty_days_warn() -> None:
    stories = [story(f"s{i}") for i in range(9)]
    plan = build_plan(stories, settings(), NOW)
    assert plan.spares == ("s7", "s8")
    few = build_plan(stories[:5], settings(), NOW)
    warnings = [p.message for p in few.problems if p.severity == "warning"]
    assert len(warnings) == 2
    assert warnings[0].startswith("2027-03-13 has no story")


def test_two_stories_on_one_day_is_an_error_on_the_later_file() -> None:
    plan = build_plan([story("a", day=date(2027, 3, 9)), story("b", day=date(2027, 3, 9))],
                      settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert error.file == "stories/b.md" and error.field == "day" and error.line == 5
    assert "already has a story (stories/a.md)" in error.message


def test_day_outside_campaign_is_an_error() -> None:
    plan = build_plan([story("a", day=date(2027, 4, 1))], settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert "outside the campaign (2027-03-08 to 2027-03-14)" in error.message


def test_due_times_are_aware_utc_and_dst_correct() -> None:
    # The last Sunday of March 2027 is the 28th: clocks go from +01:00 to +02:00.
    spanning = settings(start=date(2027, 3, 26), end=date(2027, 3, 30))
    plan = build_plan([story(f"s{i}") for i in range(5)], spanning, NOW)
    facebook = [p for p in plan.posts if p.platform == "facebook"]  # 10:00 local
    assert [p.due.tzinfo for p in facebook] == [UTC] * 5
    assert [p.due.hour for p in facebook] == [9, 9, 8, 8, 8]
    local = [p.due.astimezone(spanning.tz).strftime("%H:%M %z") for p in facebook]
    assert local == ["10:00 +0100", "10:00 +0100", "10:00 +0200", "10:00 +0200", "10:00 +0200"]


def test_a_time_in_the_spring_forward_gap_is_the_real_instant() -> None:
    from datetime import time

    from campaign.planner import due_time

    due = due_time(date(2027, 3, 28), time(2, 30), settings())
    assert due == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)  # 03:30 CEST, as clocks read


def test_platforms_are_enabled_and_within_consent() -> None:
    plan = build_plan([story("a", platforms=("facebook", "x"))], settings(), NOW)
    assert sorted(p.platform for p in plan.posts) == ["facebook", "x"]


def test_consent_expired_on_the_explicit_day_is_an_error() -> None:
    plan = build_plan([story("a", day=date(2027, 3, 12), expires=date(2027, 3, 10))],
                      settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert error.field == "consent.expires" and error.line == 10
    assert "renew the consent" in error.message
    assert plan.posts == ()


def test_a_story_without_day_goes_to_the_first_day_its_consent_covers() -> None:
    during = datetime(2027, 3, 10, 6, 0, tzinfo=UTC)
    plan = build_plan([story("late", signed=date(2027, 3, 10))], settings(), during)
    assert plan.days[date(2027, 3, 10)] == "late"
    assert plan.days[date(2027, 3, 8)] is None


def test_consent_valid_on_no_free_day_is_an_error() -> None:
    plan = build_plan([story("a", expires=date(2027, 1, 1))], settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert error.field == "consent.expires"


def test_pinned_days_keep_a_running_week_stable() -> None:
    stories = [story("a"), story("b")]
    pinned = {"b": date(2027, 3, 8)}
    plan = build_plan([story("0-new"), *stories], settings(), NOW, pinned=pinned)
    assert plan.days[date(2027, 3, 8)] == "b"
    assert plan.days[date(2027, 3, 9)] == "0-new"


def test_planner_is_pure(tmp_path: Path) -> None:
    stories = [story(f"s{i}") for i in range(8)]
    assert build_plan(stories, settings(), NOW) == build_plan(stories, settings(), NOW)
