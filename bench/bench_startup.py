"""How long do people wait for a command? Ratios from one run (issue 19; not a timed test).

    .venv/bin/python bench/bench_startup.py

Each command runs as a new process, as staff run it, best of 7 (the least disturbed
run on a shared machine), against the same interpreter doing nothing
(`python -c pass`, the anchor):

1. `campaign --help`                                         aim <= 6x
2. `campaign check` on an unchanged week (its notes in build/) aim <= 10x
3. `campaign render` on an unchanged week (cards in build/)    aim <= 10x
4. for comparison: `campaign check` with no notes (every story checked again)
5. for comparison: `campaign check` and `campaign render` after one story's quote was
   edited (that story checked again in its worker, its cards drawn again)

Everything runs in a temporary copy of the example campaign, so build/ is left alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = Path(sys.executable)
CAMPAIGN = PYTHON.parent / "campaign"
RUNS = 7
# Gives the story file named on the command line a new quote (not timed: `best_ms`'s before).
EDIT_QUOTE = """
import random, re, sys
from pathlib import Path
story = Path(sys.argv[1])
quote = f"quote: Vraag door. Jij kent je lichaam het best. ({random.randrange(10**9)})"
text, found = re.subn(r"(?m)^quote: .*$", quote, story.read_text(encoding="utf-8"), count=1)
if not found:
    sys.exit(f"{story} has no quote line to edit")
story.write_text(text, encoding="utf-8")
"""


def _env() -> dict[str, str]:
    """The messages in English, and Python allowed to keep its compiled modules (some
    machines set PYTHONDONTWRITEBYTECODE; a user's does not, so every run would compile
    campaign's own modules again and measure that instead)."""
    env = {**os.environ, "CAMPAIGN_LANG": "en"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def best_ms(command: list[str], cwd: Path, before: list[str] | None = None) -> float:
    """The fastest of RUNS wall-clock timings of `command`; `before` runs untimed first."""
    env = _env()
    times = []
    for _ in range(RUNS):
        if before:  # it must do what it is for: the row would measure something else
            subprocess.run(before, cwd=cwd, env=env, check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=False, capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def row(label: str, ms: float, anchor: float, aim: str) -> None:
    print(f"{label:<58} {ms / anchor:6.1f}x   ({ms:6.0f} ms vs {anchor:.0f} ms)   aim {aim}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        work = Path(folder)
        shutil.copy2(REPO / "campaign.toml", work / "campaign.toml")
        for name in ("stories", "assets"):
            shutil.copytree(REPO / name, work / name)
        # Warm the notes and the cards, and the interpreter's own caches of the files.
        for command in (["check"], ["render"]):
            subprocess.run([str(CAMPAIGN), *command], cwd=work, env=_env(), check=False,
                           capture_output=True)
        anchor = best_ms([str(PYTHON), "-c", "pass"], work)
        print(f"anchor: `python -c pass`, best of {RUNS}: {anchor:.1f} ms "
              f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)")
        row("`campaign --help`", best_ms([str(CAMPAIGN), "--help"], work), anchor, "<= 6x")
        row("`campaign check` on an unchanged week",
            best_ms([str(CAMPAIGN), "check"], work), anchor, "<= 10x")
        row("`campaign render` on an unchanged week",
            best_ms([str(CAMPAIGN), "render"], work), anchor, "<= 10x")
        notes = work / "build" / "cache" / "check"
        row("`campaign check` with no notes kept (for comparison)",
            best_ms([str(CAMPAIGN), "check"], work,
                    before=[str(PYTHON), "-c", f"import shutil; shutil.rmtree({str(notes)!r}, True)"]),
            anchor, "-")
        story = work / "stories" / "01-marieke.md"
        edit = [str(PYTHON), "-c", EDIT_QUOTE, str(story)]
        row("`campaign check` after one story's quote was edited",
            best_ms([str(CAMPAIGN), "check"], work, before=edit), anchor, "-")
        row("`campaign render` after one story's quote was edited",
            best_ms([str(CAMPAIGN), "render"], work, before=edit), anchor, "-")


if __name__ == "__main__":
    main()
