#!/usr/bin/env bash
# The GraphQL-over-HTTP conformance audit of the npm package graphql-http
# (serverAudits), run against a live server.
#
#   scripts/graphql-http-audit.sh install      # fetch the pinned packages (idempotent)
#   scripts/graphql-http-audit.sh run URL      # audit URL (http://host:port/graphql)
#
# The packages go into a cache folder outside the repository,
# ${XDG_CACHE_HOME:-$HOME/.cache}/herotasks/npm (HT_NPM_DIR overrides it).
# `run` exits 1 on any failure or warning: the bar is 0 and 0.
set -euo pipefail

GRAPHQL_HTTP_VERSION=1.23.1
GRAPHQL_VERSION=16.11.0
dir=${HT_NPM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/herotasks/npm}
here=$(cd "$(dirname "$0")" && pwd)

install() {
	command -v node >/dev/null && command -v npm >/dev/null || {
		echo "graphql-http audit: node and npm are required (apt-get install nodejs npm)" >&2
		exit 1
	}
	local have
	have=$(node -p "try { require('$dir/node_modules/graphql-http/package.json').version + ' ' + require('$dir/node_modules/graphql/package.json').version } catch (e) { '' }" 2>/dev/null || true)
	if [[ $have == "$GRAPHQL_HTTP_VERSION $GRAPHQL_VERSION" ]]; then
		return
	fi
	mkdir -p "$dir"
	[[ -f $dir/package.json ]] || echo '{"name":"herotasks-test-tools","private":true}' >"$dir/package.json"
	(cd "$dir" && npm install --no-audit --no-fund --no-save --silent \
		"graphql-http@$GRAPHQL_HTTP_VERSION" "graphql@$GRAPHQL_VERSION" >&2)
}

case ${1:-} in
install)
	install
	;;
run)
	[[ -n ${2:-} ]] || { echo "usage: $0 run URL" >&2; exit 2; }
	install
	HT_NPM_DIR=$dir exec node "$here/graphql-http-audit.cjs" "$2"
	;;
*)
	echo "usage: $0 install | run URL" >&2
	exit 2
	;;
esac
