"""`campaign run --sandbox --faults demo`: the faults a new user should see handled."""

from __future__ import annotations

from typing import Any

#: `--faults demo`: one of each kind a new user should see handled.
DEMO_FAULTS: list[dict[str, Any]] = [
    # X answers 429 once: the post is retried after the reset time the header gives.
    {"platform": "x", "call": "create_tweet", "kind": "rate_limit", "times": 1, "reset_after": 2},
    # Facebook answers 500 once: retried with backoff.
    {"platform": "facebook", "call": "photos", "kind": "server_error", "times": 1},
    # Mastodon creates the post but the answer is lost: reconciled, not posted twice.
    {"platform": "mastodon", "call": "statuses", "kind": "drop_response", "times": 1},
    # LinkedIn's token has expired: the post fails and an alert goes out.
    {"platform": "linkedin", "call": "posts", "kind": "expired_token", "times": 1},
]

__all__ = ["DEMO_FAULTS"]
