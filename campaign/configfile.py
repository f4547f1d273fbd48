"""The name of the settings file and the two languages read from it before anything else.

Kept apart from `campaign.config` (which loads pydantic and every platform's rules) so
that `campaign --help` can choose its language in a millisecond.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG_FILE = "campaign.toml"


def peek_languages(config_file: Path) -> tuple[str | None, str]:
    """(`ui_language`, `language`) of campaign.toml, read before it is validated, so that
    even its own errors are reported in the staff's language; defaults when unreadable."""
    try:
        section = tomllib.loads(config_file.read_text(encoding="utf-8")).get("campaign", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None, "nl"
    ui, campaign = section.get("ui_language"), section.get("language")
    return (ui if isinstance(ui, str) else None,
            campaign if isinstance(campaign, str) else "nl")
