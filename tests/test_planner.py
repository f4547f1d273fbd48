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


# -- issue 14: every story accounted for -------------------------------------------------

def test_consent_that_expires_before_the_campaign_is_an_error_even_for_a_spare() -> None:
    stories = [story(f"s{i}") for i in range(7)] + [story("late", expires=date(2027, 3, 1))]
    plan = build_plan(stories, settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert (error.file, error.field, error.line) == ("stories/late.md", "consent.expires", 10)
    assert error.message.startswith("the consent expires on 2027-03-01, before the campaign "
                                    "starts (2027-03-08): it is not posted; renew the consent")
    assert "late" not in plan.spares


def test_consent_signed_in_the_future_is_an_error() -> None:
    plan = build_plan([story("a", signed=date(2026, 12, 24))], settings(), NOW)
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert (error.field, error.line) == ("consent.signed", 8)
    assert error.message == ("2026-12-24 is in the future (today is 2026-11-22): a consent form "
                             "cannot be signed in the future; write the date that is on the "
                             "signed form")
    assert plan.posts == ()


def test_a_dated_newcomer_pushes_a_story_out_and_the_spare_says_which_day_and_why() -> None:
    stories = [story(f"0{i}") for i in range(1, 8)]
    assert build_plan(stories, settings(), NOW).spares == ()
    plan = build_plan([*stories, story("09-new", day=date(2027, 3, 10))], settings(), NOW)
    assert plan.spares == ("07",)
    assert plan.spare_reasons["07"] == ("every day has a story; without 09-new, which asks for "
                                        "2027-03-10 with day:, it would have been posted on "
                                        "2027-03-14")
    [warning] = [p for p in plan.problems if p.file == "stories/07.md"]
    assert warning.severity == "warning" and warning.message.startswith("is a reserve story")


def test_a_pinned_day_is_kept_and_a_newcomer_asking_for_it_is_told_the_free_days() -> None:
    stories = [story("a"), story("b"), story("c-new", day=date(2027, 3, 9))]
    pinned = {"a": date(2027, 3, 8), "b": date(2027, 3, 9)}
    plan = build_plan(stories, settings(), NOW, pinned=pinned)
    assert plan.days[date(2027, 3, 9)] == "b"
    [error] = [p for p in plan.problems if p.severity == "error"]
    assert error.file == "stories/c-new.md" and error.field == "day"
    assert error.message == ("2027-03-09 already has a story (stories/b.md): choose another day "
                             "(free days: 2027-03-10, 2027-03-11, 2027-03-12, 2027-03-13, "
                             "2027-03-14), or remove day: to let the planner choose")


def test_a_day_kept_for_a_story_with_an_error_is_not_given_away() -> None:
    plan = build_plan([story("spare")], settings(), NOW, pinned={"broken": date(2027, 3, 8)},
                      reserved={date(2027, 3, 8): "stories/broken.md"})
    assert plan.days[date(2027, 3, 8)] is None and plan.days[date(2027, 3, 9)] == "spare"
    assert any(p.message.startswith("2027-03-08 is kept for stories/broken.md, which has an error")
               for p in plan.problems)


def test_a_reserve_story_never_takes_over_a_day_that_is_over() -> None:
    # Thursday afternoon: the 8th to the 10th are over, and the 11th's first post (09:00)
    # is more than the two hours' grace ago; the reserve story gets the 12th.
    thursday = datetime(2027, 3, 11, 15, 0, tzinfo=UTC)
    pinned = {"a": date(2027, 3, 8)}
    plan = build_plan([story("a"), story("reserve")], settings(), thursday, pinned=pinned)
    assert plan.days[date(2027, 3, 12)] == "reserve"
    assert plan.days[date(2027, 3, 11)] is None
