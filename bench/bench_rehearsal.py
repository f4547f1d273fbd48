"""How late a rehearsal's posts go out, as a share of a campaign day (not a timed test).

The example week is rehearsed `--runs` times at `--day-seconds` (default 5 runs at
3 s a day, as issue 19's goal table asks); for each run, the latest post's lateness
(the moment its sending began against its due time, campaign time) as a percentage
of a campaign day, and which post it was. The line to compare is the worst of the
runs (anchor: 34 % before issue 19, goal at most 1 %).

    .venv/bin/python bench/bench_rehearsal.py [--runs 5] [--day-seconds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_scheduler import lateness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--day-seconds", type=float, default=3.0)
    args = parser.parse_args()
    lateness(args.runs, args.day_seconds)


if __name__ == "__main__":
    main()
