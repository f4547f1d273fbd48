"""How long `check` takes on each file that used to hang it or stop the scheduler (issue 13).

For each hostile fixture in tests/fixtures/stories/ (and the special files: a named
pipe, a link to /dev/zero, a link to itself), the time of `check_story` on it and
its ratio to the time on an ordinary example story, from one run; and the largest
resident memory of a whole `campaign check --json` over all of them at once, in a
real process. The goal of issue 13: every case well under 2 s and 300 MB.

    .venv/bin/python bench/bench_hostile.py
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from campaign.check import check_story
from campaign.config import load_project

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "stories"
HOSTILE = sorted(p.name for p in FIXTURES.glob("story_yaml_*.md")) + sorted(
    p.name for p in FIXTURES.glob("story_body_*_flood.md"))


def best_of(runs: int, work: object) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        work()  # type: ignore[operator]
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "campaign"
        shutil.copytree(REPO / "assets", root / "assets")
        shutil.copy2(REPO / "campaign.toml", root / "campaign.toml")
        stories = root / "stories"
        shutil.copytree(REPO / "stories", stories)
        for name in HOSTILE:
            shutil.copy2(FIXTURES / name, stories / name)
        os.mkfifo(stories / "09-pipe.md")
        (stories / "10-zero.md").symlink_to("/dev/zero")
        (stories / "11-loop.md").symlink_to(stories / "11-loop.md")
        project = load_project(root / "campaign.toml")
        check_story(stories / "01-marieke.md", project)  # warm the fonts and caches
        base = best_of(5, lambda: check_story(stories / "01-marieke.md", project))
        print(f"ordinary story (01-marieke): {base * 1000:.1f} ms (best of 5)")
        print(f"{'file':40} {'ms':>8} {'x ordinary':>11}")
        for name in [*HOSTILE, "09-pipe.md", "10-zero.md", "11-loop.md"]:
            seconds = best_of(3, lambda name=name: check_story(stories / name, project))
            print(f"{name:40} {seconds * 1000:8.1f} {seconds / base:11.1f}")
        wrapper = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:], "
                   "stdout=subprocess.DEVNULL); print(resource.getrusage("
                   "resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")
        started = time.perf_counter()
        answer = subprocess.run(
            [sys.executable, "-c", wrapper, sys.executable, "-m", "campaign", "--config",
             str(root / "campaign.toml"), "check", "--json"],
            capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        peak = int(answer.stdout.split()[-1]) // 1024
        print(f"campaign check --json, all of them at once: exit {answer.returncode}, "
              f"{elapsed:.2f} s, largest resident memory {peak} MB (goal: under 300 MB)")


if __name__ == "__main__":
    main()
