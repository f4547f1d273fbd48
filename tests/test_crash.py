"""Exactly once, proven by crashing it: `campaign post` killed with SIGKILL at every step.

Each test runs the real command in a child process against the sandbox (in this
process, over HTTP on 127.0.0.1) and a real SQLite ledger, kills it at one
point of the publish path, starts it again, and checks that the sandbox holds
exactly one post and the ledger says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from campaign.config import load_project
from campaign.ledger import Ledger
from campaign.publishers import supported_platforms
from campaign.sandbox import Fault, Sandbox
from campaign.stories import read_story
from tests.conftest import make_campaign

STORY = "story_for_crash_tests"
PLATFORMS = supported_platforms()
SECRET_SENTINELS = ("X_API_SECRET", "FACEBOOK_PAGE_TOKEN", "INSTAGRAM_TOKEN")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(port=0) as running:
        yield running


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = make_campaign(tmp_path / "campaign", f"{STORY}.md")
    project = load_project(root / "campaign.toml")
    story = read_story(root / "stories" / f"{STORY}.md", project).story
    assert story is not None
    with Ledger.open(project.ledger_path) as ledger:
        ledger.approve(STORY, story.content_hash, "Test", datetime.now(UTC))
    return root


def start(root: Path, sandbox: Sandbox, platform: str, crash_at: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, **sandbox.env(), "PYTHONUNBUFFERED": "1"}
    env.pop("CAMPAIGN_CRASH_AT", None)
    if crash_at:
        env["CAMPAIGN_CRASH_AT"] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"),
         "post", STORY, "--platform", platform],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def live(sandbox: Sandbox, platform: str) -> list[dict[str, object]]:
    return [p for p in sandbox.posts() if p["platform"] == platform]


def state(root: Path, platform: str) -> tuple[str, str | None]:
    project = load_project(root / "campaign.toml")
    with Ledger.open(project.ledger_path) as ledger:
        record = ledger.post(STORY, platform)
        assert record is not None
        return record.state, record.remote_id


def restart_and_check(root: Path, sandbox: Sandbox, platform: str) -> None:
    """Run the command again: it must reconcile, and end with exactly one post."""
    again = start(root, sandbox, platform)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, (out, err)
    assert out.startswith("posted:"), out
    posts = live(sandbox, platform)
    assert len(posts) == 1, posts
    assert state(root, platform) == ("posted", posts[0]["id"])
    # A third run sends nothing.
    third = start(root, sandbox, platform)
    out, _ = third.communicate(timeout=120)
    assert "already posted" in out
    assert len(live(sandbox, platform)) == 1


def crash_by_itself(root: Path, sandbox: Sandbox, platform: str, point: str) -> None:
    process = start(root, sandbox, platform, crash_at=point)
    _, err = process.communicate(timeout=120)
    assert process.returncode == -signal.SIGKILL, err
    assert f"crash point {point}" in err


@pytest.mark.parametrize("platform", PLATFORMS)
def test_killed_before_the_publishing_commit(root: Path, sandbox: Sandbox, platform: str) -> None:
    crash_by_itself(root, sandbox, platform, "before_claim")
    assert live(sandbox, platform) == []
    assert state(root, platform)[0] == "planned"
    restart_and_check(root, sandbox, platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_killed_after_the_publishing_commit_before_the_request(root: Path, sandbox: Sandbox,
                                                               platform: str) -> None:
    crash_by_itself(root, sandbox, platform, "after_claim")
    assert live(sandbox, platform) == []
    assert state(root, platform)[0] == "publishing"
    restart_and_check(root, sandbox, platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_killed_while_the_platform_holds_the_request(root: Path, sandbox: Sandbox,
                                                     platform: str) -> None:
    # The sandbox holds the creating request, then drops it without acting.
    sandbox.add_fault(Fault(platform=platform, call="create", kind="timeout", delay=3))
    process = start(root, sandbox, platform)
    wait_for(lambda: len(sandbox.faults.met) == 1, "the sandbox to hold the request")
    process.kill()
    process.wait()
    assert live(sandbox, platform) == []
    assert state(root, platform)[0] == "publishing"
    restart_and_check(root, sandbox, platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_killed_after_the_post_was_created_before_the_answer(root: Path, sandbox: Sandbox,
                                                             platform: str) -> None:
    sandbox.add_fault(Fault(platform=platform, call="create", kind="slow_response", delay=5))
    process = start(root, sandbox, platform)
    wait_for(lambda: len(live(sandbox, platform)) == 1, "the sandbox to create the post")
    process.kill()
    process.wait()
    assert state(root, platform)[0] == "publishing"
    restart_and_check(root, sandbox, platform)  # found by the lookup, not posted again


@pytest.mark.parametrize("platform", PLATFORMS)
def test_killed_after_the_answer_before_the_outcome_commit(root: Path, sandbox: Sandbox,
                                                           platform: str) -> None:
    crash_by_itself(root, sandbox, platform, "after_publish")
    assert len(live(sandbox, platform)) == 1
    assert state(root, platform)[0] == "publishing"
    restart_and_check(root, sandbox, platform)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_two_processes_racing_for_one_post_make_one_post(root: Path, sandbox: Sandbox,
                                                         platform: str) -> None:
    # Slow the platform down so that the two really overlap.
    sandbox.add_fault(Fault(platform=platform, call="create", kind="slow_response", delay=1))
    first, second = start(root, sandbox, platform), start(root, sandbox, platform)
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert len(live(sandbox, platform)) == 1, outputs
    assert state(root, platform)[0] == "posted"
    said = sorted(out.split(":")[0] for out, _ in outputs)
    assert said == ["posted", "posted"], outputs  # the second found it already posted
    assert sum("already posted" in out for out, _ in outputs) == 1


def test_secrets_appear_nowhere(root: Path, sandbox: Sandbox) -> None:
    """The sandbox's credentials stand in for real secrets: none may leak anywhere."""
    secrets = {k: v for k, v in sandbox.env().items() if k in SECRET_SENTINELS}
    assert secrets
    sandbox.add_fault(Fault(platform=PLATFORMS[0], call="create", kind="expired_token"))
    outputs = []
    for platform in PLATFORMS:
        process = start(root, sandbox, platform)
        outputs.append(process.communicate(timeout=120))
    status = subprocess.run(
        [sys.executable, "-m", "campaign", "--config", str(root / "campaign.toml"), "status", "--json"],
        env={**os.environ, **sandbox.env()}, capture_output=True, text=True, check=True,
    )
    texts = [out + err for out, err in outputs] + [status.stdout, status.stderr]
    files = [p.read_bytes() for p in (root / "state").iterdir() if p.is_file()]
    for value in secrets.values():
        for text in texts:
            assert value not in text
        for data in files:
            assert value.encode() not in data
