"""How does caption cost grow with the number of stories? Ratios measured in one run.

    .venv/bin/python bench/bench_captions.py

For 10, 100 and 1,000 generated stories, composes all six captions (and the
six alt texts) of every story and prints the cost per story as a ratio
against the 10-story cost. Flat (about 1.0) is the goal: a story's captions
must not get dearer because there are more stories.

Every story is different (so no cache favours a size): 10 and 100 are
measured over 30 and 3 sets (300 stories each), 1,000 over one set. The
generated bodies are 300 to 2,500 characters of Dutch text with links,
hashtags, emoji and lists, so X, Bluesky and Mastodon shorten most of them.
`--rounds N` repeats the whole measurement and reports the median (default 1;
one round takes about a minute on one core).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from campaign.captions import compose_alt_text, compose_caption  # noqa: E402
from campaign.config import load_project  # noqa: E402
from campaign.models import PLATFORMS, Consent, Story  # noqa: E402

SIZES = (10, 100, 1000)
AT_LEAST = 300  # stories measured per size
WORDS = (
    "zeldzame", "kanker", "diagnose", "behandeling", "ziekenhuis", "arts", "onderzoek", "hoop",
    "lotgenoten", "familie", "vertrouwen", "expertisecentrum", "ĳzersterk", "één", "naïef",
    "patiëntenvereniging", "sarcoom", "tumor", "operatie", "bestraling", "chemokuur",
    "controle", "scan", "uitslag", "wachten",
)
EXTRAS = ("🧑\u200d⚕️", "❤️\u200d🩹", "💪", "#ZeldzameKanker", "https://www.example.org/meer")


def make_story(rng: random.Random, number: int) -> Story:
    paragraphs = []
    target = rng.randint(300, 2500)
    length = 0
    while length < target:
        words = [rng.choice(WORDS) for _ in range(rng.randint(8, 20))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(EXTRAS))
        sentence = " ".join(words).capitalize() + rng.choice(".!?")
        if rng.random() < 0.15:
            sentence = f"- {sentence}"
        elif rng.random() < 0.2:
            sentence = f"Lees [meer](https://www.example.org/verhalen/{number}). " + sentence
        paragraphs.append(sentence)
        length += len(sentence)
    return Story(
        id=f"story-{number:05d}",
        file=f"stories/story-{number:05d}.md",
        title=f"Verhaal {number}",
        name="Anna",
        quote="Vraag door. Jij kent je lichaam het best.",
        body="\n\n".join(paragraphs),
        consent=Consent(date(2026, 11, 30), f"REF-{number}", None, None),
        age=rng.randint(18, 90),
        diagnosis="Sarcoom",
        photo=REPO / "assets" / "anna.jpg",  # never opened: captions only read the words
        photo_alt="Anna op een bankje in het park",
        hashtags=("Sarcoom", "AYA"),
        link=f"https://www.example.org/verhalen/{number}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat and report the median")
    rounds = parser.parse_args().rounds
    settings = load_project(REPO / "campaign.toml").settings
    rng = random.Random(2027)
    # Warm up imports and the emoji tables once, outside the measurement.
    warm = make_story(rng, 0)
    for platform in PLATFORMS:
        compose_caption(warm, platform, settings)

    per_story: dict[int, list[float]] = {size: [] for size in SIZES}
    number = 1
    for _round in range(rounds):
        for size in SIZES:
            sets = []
            for _ in range(max(1, AT_LEAST // size)):
                sets.append([make_story(rng, number + i) for i in range(size)])
                number += size
            count = sum(len(stories) for stories in sets)
            start = time.perf_counter()
            for stories in sets:
                for story in stories:
                    for platform in PLATFORMS:
                        compose_caption(story, platform, settings)
                        compose_alt_text(story, platform, settings)
            per_story[size].append((time.perf_counter() - start) / count)

    base = statistics.median(per_story[SIZES[0]])
    print(f"caption cost per story (all {len(PLATFORMS)} platforms), median of {rounds} round(s)")
    print(f"{'stories':>8}  {'ms/story':>9}  {'ratio vs 10':>11}")
    for size in SIZES:
        cost = statistics.median(per_story[size])
        print(f"{size:>8}  {cost * 1000:>9.2f}  {cost / base:>11.2f}")
    print("goal: every ratio about 1.0 (flat)")


if __name__ == "__main__":
    main()
