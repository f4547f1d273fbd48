#!/usr/bin/env bash
# Installs the Debian packages the tests need, then the real test servers (issue 7).
# Runs as root in CI (.ci/run calls it when it exists). Idempotent: packages already
# installed are not fetched again, and install-test-servers.sh keeps its own cache.
#
#   chromium           the real browser the preview tests drive through Playwright for Python
#                      (tests/test_preview.py, executable_path=/usr/bin/chromium); Playwright's
#                      own browser download (`playwright install`) is never used
#   libfribidi0        bidirectional text for Pillow's text layout (cards)
#   fonts-dejavu-core  a system font for Chromium, so the preview renders the same everywhere
#   postgresql         the ledger on PostgreSQL (issue 20): tests/servers/postgres_fixture.py
#                      runs initdb and pg_ctl from /usr/lib/postgresql/*/bin in a throwaway
#                      folder (as `nobody`, since CI runs as root); Debian's own cluster that
#                      the package may start is not used
#   make, g++, python3, python3-venv
#                      the README's `make test` with its .venv, and the from-source build of
#                      better-sqlite3 for Bluesky's PDS (install-test-servers.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(chromium libfribidi0 fonts-dejavu-core postgresql make g++ python3 python3-venv)

missing=()
for package in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-system-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${PACKAGES[@]}"
else
  echo "install-system-deps: ${PACKAGES[*]} already installed"
fi

bash .ci/install-test-servers.sh
