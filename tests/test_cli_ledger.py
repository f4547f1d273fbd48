"""The ledger commands in-process, against the sandbox: exit codes, output, and the alert.

Each test runs on both ledgers: the SQLite file, and a PostgreSQL database named by
CAMPAIGN_LEDGER_URL (as a second host would reach it: `ledger_backend`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from campaign.cli import app
from campaign.sandbox import Fault, Sandbox
from tests.conftest import make_campaign
from tests.servers.postgres_fixture import LedgerBackend

NOW = "2027-03-08T10:00:00+01:00"
runner = CliRunner()


@pytest.fixture
def setup(tmp_path: Path, webhook: tuple[list[dict[str, Any]], str],
          ledger_backend: LedgerBackend) -> Iterator[Any]:
    root = make_campaign(tmp_path / "campaign")
    for story in (Path(__file__).parent.parent / "stories").glob("*.md"):
        (root / "stories" / story.name).write_bytes(story.read_bytes())
    config = root / "campaign.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"email_to = \[[^\]]*\]", "email_to = []", text).replace(
        "webhook = false", "webhook = true")
    config.write_text(text, encoding="utf-8")
    with Sandbox(port=0) as sandbox:
        env = {**sandbox.env(), "CAMPAIGN_ALERT_WEBHOOK_URL": webhook[1], **ledger_backend.env}

        def run(*args: str) -> Any:
            return runner.invoke(app, ["--config", str(config), "--now", NOW, *args], env=env)

        yield run, sandbox, webhook[0]


def test_approve_post_pause_resume_status_withdraw(setup: Any) -> None:
    run, sandbox, alerts = setup
    held = run("post", "01-marieke", "--platform", "x")
    assert held.exit_code == 1
    assert "held" in held.stderr and "campaign approve 01-marieke --by NAME" in held.stderr

    approved = run("approve", "01-marieke", "--by", "Anna de Vries")
    assert approved.exit_code == 0
    assert re.fullmatch(r"approved: 01-marieke \(version [0-9a-f]{12}\) by Anna de Vries\n",
                        approved.stdout)

    posted = run("post", "01-marieke", "--platform", "x")
    assert posted.exit_code == 0, posted.output
    assert posted.stdout.startswith("posted: 01-marieke on x: https://")
    again = run("post", "01-marieke", "--platform", "x")
    assert again.exit_code == 0 and "already posted; not sent again" in again.stdout
    assert len(sandbox.posts()) == 1

    assert run("pause", "--by", "Piet").stdout == "paused: nothing is posted until `campaign resume`\n"
    refused = run("post", "01-marieke", "--platform", "facebook")
    assert refused.exit_code == 1 and "posting is paused" in refused.stderr
    assert run("resume").exit_code == 0
    assert run("post", "01-marieke", "--platform", "facebook").exit_code == 0

    # A post that failed (an expired token, say) can be posted again by hand once fixed.
    sandbox.add_fault(Fault(platform="mastodon", call="create", kind="expired_token"))
    failed = run("post", "01-marieke", "--platform", "mastodon")
    assert failed.exit_code == 1 and failed.stdout.startswith("failed: 01-marieke on mastodon")
    retried = run("post", "01-marieke", "--platform", "mastodon")
    assert retried.exit_code == 0 and retried.stdout.startswith("posted: ")
    assert len([p for p in sandbox.posts() if p["platform"] == "mastodon"]) == 1

    status = json.loads(run("status", "--json").stdout)
    assert status["paused"] is False and status["scheduler"]["alive"] is False
    mine = {p["platform"]: p for p in status["posts"] if p["story"] == "01-marieke"}
    assert mine["x"]["state"] == "posted" and mine["x"]["attempts"] == 1
    assert mine["instagram"]["state"] == "planned"  # approved, not yet due

    withdrawn = run("withdraw", "01-marieke", "--by", "Anna de Vries")
    assert withdrawn.exit_code == 0, withdrawn.output
    lines = withdrawn.stdout.splitlines()
    assert lines[0] == "withdrawn: 01-marieke will never be posted again"
    assert any(line.startswith("deleted: ") and {"x", "facebook", "mastodon"} ==
               set(line.removeprefix("deleted: ").split(", ")) for line in lines), lines
    assert sandbox.posts() == []
    [alert] = alerts
    assert alert["text"].startswith("01-marieke: consent withdrawn; it will never be posted again.")
    # The story is never posted again, even with its file still there.
    assert run("post", "01-marieke", "--platform", "x").exit_code == 1
    assert run("withdraw", "01-marieke").exit_code == 0
    assert len(alerts) == 1  # one alert per withdrawal, not one per command


def test_a_withdrawn_story_vanishes_from_plan_cards_preview_and_shows_its_end_states(
        setup: Any) -> None:
    run, _sandbox, _alerts = setup
    assert run("render").exit_code == 0
    page = Path(run("preview").stdout.strip())
    build = page.parent.parent
    assert list((build / "cards").glob("04-henk-*.jpg"))
    assert list((build / "preview" / "cards").glob("04-henk-*.jpg"))
    assert run("approve", "04-henk", "--by", "Anna").exit_code == 0
    assert run("post", "04-henk", "--platform", "x").exit_code == 0
    reported = json.loads(run("report", "--refresh", "--json").stdout)
    assert [(p["story"], p["metrics"]["likes"]["status"]) for p in reported["posts"]] == [
        ("04-henk", "ok")]
    assert list((build / "report" / "cards").glob("04-henk-*.jpg"))

    assert run("withdraw", "04-henk", "--by", "Anna").exit_code == 0
    assert not list(build.rglob("04-henk-*")), "no card of it is left in the build folder"
    report_page = (build / "report" / "index.html").read_text(encoding="utf-8")
    assert "04-henk" not in report_page and "Henk" not in report_page  # written again
    text = page.read_text(encoding="utf-8")
    assert "04-henk" not in text and "Henk" not in text  # the preview was written again
    plan = json.loads(run("plan", "--json").stdout)
    assert not [p for p in plan["posts"] if p["story"] == "04-henk"]
    assert "04-henk" not in plan["days"].values()
    assert run("render").exit_code == 0
    assert not list(build.rglob("04-henk-*")), "render never draws it again"
    status = json.loads(run("status", "--json").stdout)
    henk = {p["platform"]: p for p in status["posts"] if p["story"] == "04-henk"}
    assert henk["x"]["state"] == "deleted" and henk["x"]["reason"] == "consent withdrawn"
    assert set(henk) == {"x"}  # the one post the ledger knew of, in its end state
    [fate] = [s for s in status["stories"] if s["id"] == "04-henk"]
    assert fate["fate"] == "withdrawn"
    check = json.loads(run("check", "--json").stdout)
    assert [s["fate"] for s in check["stories"] if s["id"] == "04-henk"] == ["withdrawn"]


def test_control_commands_reach_a_running_rehearsal_and_never_the_real_ledger_by_accident(
        setup: Any, tmp_path: Path, ledger_backend: LedgerBackend) -> None:
    from campaign.config import load_project
    from campaign.ledger import Ledger, SchedulerLock

    run, _sandbox, _alerts = setup
    root = tmp_path / "campaign"
    project = load_project(root / "campaign.toml")
    workdir = root / "state" / "rehearsals" / "20270308T090000"
    workdir.mkdir(parents=True)
    with SchedulerLock(workdir / "ledger.sqlite"), Ledger.open(workdir / "ledger.sqlite"):
        refused = run("pause")
        assert refused.exit_code == 1
        assert "a rehearsal is running (state/rehearsals/20270308T090000, pid " in refused.stderr
        assert "add --rehearsal" in refused.stderr and "add --real" in refused.stderr
        assert run("withdraw", "01-marieke").exit_code == 1
        assert not project.ledger_path.exists(), "the real ledger was not touched"

        assert run("pause", "--rehearsal", "--by", "Piet").exit_code == 0
        status = json.loads(run("status", "--rehearsal", "--json").stdout)
        assert status["paused"] is True
        assert "a rehearsal is running" in run("status").stdout
        assert run("resume", "--rehearsal").exit_code == 0
        assert json.loads(run("status", "--rehearsal", "--json").stdout)["paused"] is False
        assert run("pause", "--real").exit_code == 0  # said on purpose: the real one
    with Ledger.open(ledger_backend.url or project.ledger_path) as real:
        assert real.is_paused()
    with Ledger.open(workdir / "ledger.sqlite") as rehearsal:
        assert not rehearsal.is_paused()
        assert [e.actor for e in rehearsal.events() if e.kind == "paused"] == ["Piet"]
