#!/usr/bin/env bash
# Installs axe-core (Deque's accessibility engine, MPL-2.0) as pinned by package-lock.json,
# for tests/test_workspace.py, which runs it in Debian's chromium on every page of the
# workspace. One small package from the npm registry; no scripts run. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
if [[ -f node_modules/axe-core/axe.min.js ]] &&
   grep -q "\"version\": \"$(node -p 'require("./package.json").dependencies["axe-core"]')\"" \
     node_modules/axe-core/package.json; then
  echo "axe-core: already installed"
  exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
echo "axe-core: installed $(node -p 'require("./node_modules/axe-core/package.json").version')"
