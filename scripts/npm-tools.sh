#!/usr/bin/env bash
# Frontend tooling for the tests and the Makefile, installed on demand and
# never into the repository:
#
#   scripts/npm-tools.sh bin         print the bin folder of the schema tools
#                                    (GraphQL Code Generator, graphql-inspector,
#                                    tsc), installing them first when missing
#   scripts/npm-tools.sh run TOOL ARG...
#                                    run one of them (graphql-codegen,
#                                    graphql-inspector, tsc) from the repository
#   scripts/npm-tools.sh chromium    make sure Debian's chromium is installed
#                                    (apt-get as root; otherwise say what to do)
#   scripts/npm-tools.sh playground  rebuild playground/dist from playground/web
#   scripts/npm-tools.sh schema-diff [OLD [NEW]]
#                                    breaking changes from OLD (default
#                                    schema/released.graphqls) to NEW (default
#                                    schema.graphqls); exit 1 when any
#
# The schema tools' versions are pinned by scripts/npm-tools/package-lock.json
# and installed with `npm ci` into $HT_NPM_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/herotasks/npm-tools/<hash of the lock>), so a
# changed lock installs afresh and parallel callers share one install.

set -euo pipefail

ROOT="$(cd -- "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.." && pwd -P)"
TOOLS="$ROOT/scripts/npm-tools"

die() {
	echo "npm-tools: $*" >&2
	exit 1
}

need_node() {
	command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 ||
		die "node and npm are needed (Node.js 20 or later): install them, for example with apt-get install nodejs npm"
}

# tools_bin installs the pinned schema tools once per lock and prints their bin folder.
tools_bin() {
	need_node
	local hash cache dir
	hash=$(cat "$TOOLS/package.json" "$TOOLS/package-lock.json" | sha256sum | cut -c1-16)
	cache="${HT_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/herotasks/npm-tools}"
	dir="$cache/$hash"
	if [[ ! -x "$dir/node_modules/.bin/graphql-codegen" ]]; then
		mkdir -p "$cache"
		(
			flock 9
			if [[ ! -x "$dir/node_modules/.bin/graphql-codegen" ]]; then
				local tmp
				tmp=$(mktemp -d "$cache/.install.XXXXXX")
				cp "$TOOLS/package.json" "$TOOLS/package-lock.json" "$tmp/"
				echo "npm-tools: installing the schema tools into $dir ..." >&2
				if ! (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error) >&2; then
					rm -rf "$tmp"
					die "npm ci failed"
				fi
				rm -rf "$dir"
				mv "$tmp" "$dir"
			fi
		) 9>"$cache/.lock"
	fi
	echo "$dir/node_modules/.bin"
}

ensure_chromium() {
	if command -v "${CHROMIUM:-chromium}" >/dev/null 2>&1; then
		return
	fi
	if [[ $(id -u) != 0 ]]; then
		die "Debian's chromium is needed for the Playground's browser test: sudo apt-get install -y chromium"
	fi
	command -v apt-get >/dev/null 2>&1 || die "chromium is missing and apt-get is unavailable"
	echo "npm-tools: installing chromium with apt-get ..." >&2
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600)
	if ! "${apt[@]}" install chromium </dev/null >/dev/null; then
		"${apt[@]}" update </dev/null >/dev/null
		"${apt[@]}" install chromium </dev/null >/dev/null || die "apt-get install chromium failed"
	fi
	command -v chromium >/dev/null 2>&1 || die "chromium is still missing after apt-get install"
}

build_playground() {
	need_node
	cd "$ROOT/playground/web"
	npm ci --no-audit --no-fund --loglevel=error
	npm run build
}

schema_diff() {
	local old=${1:-$ROOT/schema/released.graphqls} new=${2:-$ROOT/schema.graphqls} bin
	bin=$(tools_bin)
	# graphql-inspector exits 1 on a breaking change and lists every change.
	"$bin/graphql-inspector" diff "$old" "$new"
}

case "${1:-}" in
bin) tools_bin ;;
run)
	[[ $# -ge 2 ]] || die "usage: $0 run TOOL ARG..."
	bin=$(tools_bin)
	tool=$2
	shift 2
	# Plugins named in codegen.yml resolve from the tools' node_modules.
	NODE_PATH="$(dirname "$bin")" exec "$bin/$tool" "$@"
	;;
chromium) ensure_chromium ;;
playground) build_playground ;;
schema-diff)
	shift
	schema_diff "$@"
	;;
*) die "usage: $0 bin|run TOOL ARG...|chromium|playground|schema-diff [OLD [NEW]]" ;;
esac
