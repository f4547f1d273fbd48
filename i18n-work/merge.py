"""Session tool (not committed): rebuild the catalogues from the code and the fragments.

    .venv/bin/python i18n-work/merge.py [--missing PATH_SUBSTRING]

1. extracts every marked message (babel.cfg) into campaign/locale/campaign.pot,
2. writes campaign/locale/nl/LC_MESSAGES/campaign.po with each message's Dutch from
   i18n-work/*.po (the fragments; the last one read wins) and en with msgstr = msgid,
3. prints how many messages have no Dutch yet, and lists those whose source location
   contains --missing (e.g. --missing campaign/doctor.py), or all with --missing ''.
Every write is atomic, so helpers may run it at the same time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "campaign" / "locale"


def _atomic(path: Path, catalog: Catalog, **kw: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        write_po(out, catalog, **kw)
    os.replace(tmp, path)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--missing", default=None)
    args = parser.parse_args()
    fd, pot_tmp = tempfile.mkstemp(suffix=".pot")
    os.close(fd)
    subprocess.run([str(ROOT / ".venv/bin/pybabel"), "--quiet", "extract", "-F", "babel.cfg",
                    "-k", "N_", "-k", "ngettext:1,2", "--sort-output", "--project", "campaign",
                    "-o", pot_tmp, "."], cwd=ROOT, check=True)
    with open(pot_tmp, "rb") as handle:
        pot = read_po(handle)
    os.unlink(pot_tmp)
    found: dict[object, object] = {}
    for fragment in sorted((ROOT / "i18n-work").glob("*.po")):
        try:
            with fragment.open("rb") as handle:
                frag = read_po(handle)
        except Exception as exc:  # a fragment being written, or broken: say so
            print(f"{fragment.name}: cannot be read ({exc})", file=sys.stderr)
            continue
        for message in frag:
            if message.id and message.string and (
                    not isinstance(message.string, tuple) or all(message.string)):
                found[message.id] = message.string
    nl = Catalog(locale="nl", domain="campaign", project="campaign", fuzzy=False)
    en = Catalog(locale="en", domain="campaign", project="campaign", fuzzy=False)
    missing = []
    for message in pot:
        if not message.id:
            continue
        string = found.get(message.id)
        nl.add(message.id, string or ("" if not message.pluralizable else ("", "")),
               flags=message.flags, auto_comments=message.auto_comments)
        en.add(message.id, message.id if not message.pluralizable else tuple(message.id),
               flags=message.flags)
        if not string:
            missing.append(message)
    pot_clean = Catalog(domain="campaign", project="campaign")
    for message in pot:
        if message.id:
            pot_clean.add(message.id, flags=message.flags, auto_comments=message.auto_comments)
    _atomic(LOCALE / "campaign.pot", pot_clean, omit_header=False, sort_output=True)
    _atomic(LOCALE / "nl" / "LC_MESSAGES" / "campaign.po", nl, sort_output=True)
    _atomic(LOCALE / "en" / "LC_MESSAGES" / "campaign.po", en, sort_output=True)
    print(f"{len([m for m in pot if m.id])} messages, {len(missing)} without Dutch")
    if args.missing is not None:
        for message in missing:
            where = ", ".join(f"{f}:{n}" for f, n in message.locations)
            if args.missing in where:
                print(f"  {where}: {message.id!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
