"""Per-story cost of `check` + `plan` at 10, 100 and 1,000 generated stories.

Prints the cost per story at each size and its ratio to the 10-story cost from
one run: the goal is flat (ratios near 1.0). Not a timed test: the numbers are
ratios within one run on one machine, so a slow shared machine does not fail it.

    .venv/bin/python bench/bench_check_plan.py
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from campaign.check import run_check
from campaign.config import load_project

REPO = Path(__file__).resolve().parent.parent
STORY = """---
title: Verhaal nummer {i}
name: Persoon {i}
age: {age}
diagnosis: Zeldzame tumor
quote: Een citaat van persoon {i}, over zoeken, vinden en doorgaan.
consent:
  signed: 2026-10-30
  reference: BENCH-{i:05d}
hashtags: [ZeldzameKanker]
link: https://www.example.org/verhalen/{i}
---
Dit is het verhaal van persoon {i}. Het gaat over een **zeldzame** kanker,
over artsen die doorvroegen, en over hoop.

- Eerste punt
- Tweede punt
"""


def make_campaign(root: Path, count: int) -> Path:
    root.mkdir(parents=True)
    text = (REPO / "campaign.toml").read_text(encoding="utf-8")
    # A campaign as long as the number of stories (at most a year; the rest are spares).
    end = date(2027, 3, 8) + timedelta(days=min(max(count, 7), 365) - 1)
    text = text.replace("end = 2027-03-14", f"end = {end.isoformat()}")
    (root / "campaign.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "assets", root / "assets")
    stories = root / "stories"
    stories.mkdir()
    for i in range(count):
        (stories / f"{i:05d}.md").write_text(STORY.format(i=i, age=20 + i % 60), encoding="utf-8")
    return root


def per_story_seconds(count: int, workdir: Path) -> float:
    root = make_campaign(workdir / f"c{count}", count)
    project = load_project(root / "campaign.toml")
    now = datetime(2026, 11, 22, tzinfo=UTC)
    run_check(project, now)  # warm the imports and caches once
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        report = run_check(project, now)
        best = min(best, time.perf_counter() - start)
    assert report.ok, [p.format() for p in report.errors][:3]
    return best / count


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        costs = {n: per_story_seconds(n, workdir) for n in (10, 100, 1000)}
    base = costs[10]
    print("check + plan, cost per story (best of 3 runs)")
    for n, cost in costs.items():
        print(f"  {n:>5} stories: {cost * 1000:7.3f} ms/story   ratio to 10 stories: {cost / base:5.2f}")
    print(f"flatness (1,000 vs 10): {costs[1000] / base:.2f}  (goal: near 1.0, at most 2)")


if __name__ == "__main__":
    main()
