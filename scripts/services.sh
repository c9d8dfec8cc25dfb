#!/usr/bin/env bash
# scripts/services.sh — private PostgreSQL + Redis for development and tests.
#
# Usage: scripts/services.sh COMMAND
#   up       start (initialising/installing if needed) a private PostgreSQL
#            cluster and a private Redis; idempotent and fast when already up.
#            stdout carries ONLY the env lines, so both of these work:
#              eval "$(scripts/services.sh up)"
#              scripts/services.sh up >/dev/null && . ./.data/env
#   down     stop both (no error when they are not running)
#   status   print the state of each service (exit 0 when all are up, 3 if not)
#   env      print the env lines of the running services (exit 1 if not up)
#   destroy  down + delete all service data (.data/, and the /var/tmp
#            directory used when the postgres user cannot reach the checkout)
#
# Everything lives under .data/ in the repository root:
#   .data/pg      PostgreSQL cluster (or a symlink to /var/tmp/herotasks-<hash>/pg
#                 when running as root and user postgres cannot traverse the repo)
#   .data/pgrun   PostgreSQL unix socket directory (sibling of the cluster)
#   .data/redis   Redis dir: redis.conf, redis.pid, redis.log
#   .data/ports   chosen ports (PG_PORT=..., REDIS_PORT=...)
#   .data/env     export DATABASE_URL=... / export REDIS_URL=...
#
# Environment:
#   DATABASE_URL / REDIS_URL   when set (and not pointing at our own service),
#                              that service is left alone: an external one is used
#   HT_PG_FAST=1               fsync/synchronous_commit/full_page_writes off (tests)
#   HT_PG_PORT_BASE            first port tried for PostgreSQL (default 55432)
#   HT_REDIS_PORT_BASE         first port tried for Redis (default 56379)
#   HT_PG_BIN                  directory holding pg_ctl/initdb/postgres to prefer
#
# PostgreSQL refuses to run as root: as root, the cluster is run as the system
# user "postgres" (runuser). Missing packages are apt-get installed when root;
# otherwise the script says what to install and exits 1.

set -euo pipefail

SCRIPT_PATH="$(readlink -f -- "${BASH_SOURCE[0]}")"
ROOT="$(cd -- "$(dirname -- "$SCRIPT_PATH")/.." && pwd -P)"
DATA="$ROOT/.data"
PG_LINK="$DATA/pg"
REDIS_DIR="$DATA/redis"
PORTS_FILE="$DATA/ports"
ENV_FILE="$DATA/env"
PG_BASE_PORT="${HT_PG_PORT_BASE:-55432}"
REDIS_BASE_PORT="${HT_REDIS_PORT_BASE:-56379}"
DB_NAME=herotasks
PG_SUPERUSER=postgres
PG_SYSTEM_USER=postgres
CUR_USER="$(id -un)"
CUR_UID="$(id -u)"

# Variables that would otherwise leak into pg_ctl/psql/postgres.
unset PGDATA PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGSERVICE PGSERVICEFILE \
  PGOPTIONS PGSSLMODE PGTARGETSESSIONATTRS PGCONNECT_TIMEOUT

# State filled in by the functions below.
PGBIN="" PGDATA="" PGRUN="" PG_OWNER="" PG_PID="" PG_RUN_PORT="" PG_PORT="" PG_STATE=""
REDIS_SERVER="" REDIS_CLI="" REDIS_PID="" REDIS_RUN_PORT="" REDIS_PORT="" REDIS_STATE=""
REC_PG_PORT="" REC_REDIS_PORT=""

# ---------------------------------------------------------------- helpers --

log() { printf 'services: %s\n' "$*" >&2; }
die() {
  printf 'services: error: %s\n' "$*" >&2
  exit 1
}
out() { printf '%s\n' "$@" >&3; } # the real stdout (see main)
is_root() { [[ $CUR_UID -eq 0 ]]; }
is_true() { [[ ${1:-} =~ ^(1|[Tt]rue|TRUE|[Yy]es|YES|[Oo]n|ON)$ ]]; }
is_port() { [[ ${1:-} =~ ^[0-9]{1,5}$ ]] && ((10#$1 > 0 && 10#$1 < 65536)); }

# Show a path relative to the repo when it is inside it.
pretty() {
  case $1 in
    "$ROOT"/*) printf '%s' "${1#"$ROOT"/}" ;;
    *) printf '%s' "$1" ;;
  esac
}

# Close every fd above 2 in the current (sub)shell, so that daemons started
# from it never hold our real stdout (fd 3), the lock (fd 9) or any pipe the
# caller passed down: `$(services.sh up)` or a CI log pipe would never see EOF.
close_extra_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd=${fd##*/}
    [[ $fd =~ ^[0-9]+$ ]] && ((fd > 2)) && eval "exec $fd>&-"
  done
  exec 3>&- 9>&- # in case /proc is missing
}

# run_as USER CMD...: run CMD as USER from "/" (USER may not be able to enter
# the caller's cwd), without inherited extra fds.
run_as() {
  local user=$1
  shift
  if [[ $user == "$CUR_USER" ]]; then
    (cd / && close_extra_fds && exec "$@")
  elif command -v runuser >/dev/null 2>&1; then
    (cd / && close_extra_fds && exec runuser -u "$user" -- "$@")
  else
    (cd / && close_extra_fds && exec su -s /bin/bash "$user" -c "$(printf '%q ' "$@")")
  fi
}

# Print the tail of FILE starting at byte offset OFF (indented).
show_log_tail() {
  local file=$1 off=${2:-0} lines=${3:-30}
  if [[ -r $file ]]; then
    tail -c +"$((off + 1))" -- "$file" | tail -n "$lines" | sed 's/^/    | /' >&2
  else
    log "(no log at $file)"
  fi
}

# Is process $1 alive (and not a zombie awaiting its reaper)?
pid_alive() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  if [[ -r /proc/$1/stat ]]; then
    st="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    st=${st##*) }
    [[ ${st:0:1} != Z ]] || return 1
  fi
  return 0
}

file_size() { stat -c %s -- "$1" 2>/dev/null || echo 0; }

# Is anything listening on TCP port $1 (any address)?
port_in_use() {
  local p=$1
  if command -v ss >/dev/null 2>&1; then
    [[ -n $(ss -Hltn "sport = :$p" 2>/dev/null) ]] && return 0
  fi
  # shellcheck disable=SC2016 # $1 is expanded by the inner bash
  timeout 2 bash -c 'exec 8<>"/dev/tcp/127.0.0.1/$1"' _ "$p" 2>/dev/null && return 0
  return 1
}

# choose_port BASE RECORDED AVOID: the recorded port if free, else the first
# free port from BASE; never AVOID.
choose_port() {
  local base=$1 rec=$2 avoid=$3 p
  if is_port "$rec" && [[ $rec != "$avoid" ]] && ! port_in_use "$rec"; then
    printf '%s' "$rec"
    return 0
  fi
  for ((p = base; p < base + 200 && p < 65536; p++)); do
    [[ $p == "$avoid" ]] && continue
    if ! port_in_use "$p"; then
      printf '%s' "$p"
      return 0
    fi
  done
  return 1
}

read_ports() {
  REC_PG_PORT="" REC_REDIS_PORT=""
  [[ -f $PORTS_FILE ]] || return 0
  local k v
  while IFS='=' read -r k v || [[ -n $k ]]; do
    case $k in
      PG_PORT) is_port "$v" && REC_PG_PORT=$v ;;
      REDIS_PORT) is_port "$v" && REC_REDIS_PORT=$v ;;
    esac
  done <"$PORTS_FILE"
  return 0
}

# write_file PATH CONTENT: atomic replace.
write_file() {
  local tmp
  tmp="$(mktemp "$1.XXXXXX")"
  printf '%s' "$2" >"$tmp"
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$1"
}

take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$DATA/.lock"
  if ! flock -w 300 9; then
    die "timed out waiting for another scripts/services.sh (lock $DATA/.lock)"
  fi
}

ensure_data_dir() {
  [[ -d $DATA ]] || mkdir -m 0755 -- "$DATA" # $ROOT always exists
}

apt_get() {
  local sub=$1
  shift
  DEBIAN_FRONTEND=noninteractive apt-get "$sub" -y -q -o DPkg::Lock::Timeout=600 "$@"
}

# pkg_install WHAT PACKAGE...: apt-get install when root, else explain and exit.
pkg_install() {
  local what=$1
  shift
  if ! is_root; then
    die "$what not found. Install it with:
    sudo apt-get install -y $*
  (or set DATABASE_URL / REDIS_URL to use servers you already run)"
  fi
  command -v apt-get >/dev/null 2>&1 ||
    die "$what not found and apt-get is unavailable; install these packages: $*"
  ensure_data_dir
  local alog="$DATA/apt.log"
  log "$what not found; installing $* with apt-get (log: $(pretty "$alog"))..."
  # (package scripts may start daemons: they must not inherit our fds)
  if ! (close_extra_fds && apt_get install "$@") </dev/null >>"$alog" 2>&1; then
    log "apt-get install failed; running apt-get update and retrying..."
    (close_extra_fds && apt_get update) </dev/null >>"$alog" 2>&1 || true
    if ! (close_extra_fds && apt_get install "$@") </dev/null >>"$alog" 2>&1; then
      show_log_tail "$alog" 0 20
      die "apt-get install $* failed (full log: $alog)"
    fi
  fi
}

# ensure_owned_dir DIR OWNER MODE: create DIR (not through a symlink) owned by OWNER.
ensure_owned_dir() {
  local d=$1 owner=$2 mode=$3 cur
  [[ -L $d ]] && die "$d is a symlink; refusing to use it"
  if [[ ! -d $d ]]; then
    mkdir -m "$mode" -- "$d" || die "cannot create $d"
  fi
  cur="$(stat -c %U -- "$d")"
  if [[ $cur != "$owner" ]]; then
    if is_root && [[ $cur == root ]]; then
      chown -- "$owner:" "$d"
    else
      die "$d is owned by $cur, expected $owner"
    fi
  fi
}

relocated_base() {
  printf '/var/tmp/herotasks-%s' "$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
}

# ------------------------------------------------------------- postgresql --

pg_bin_ok() { [[ -x $1/pg_ctl && -x $1/initdb && -x $1/postgres ]]; }

pg_major() { # major version of the binaries in dir $1
  local v
  v="$("$1/postgres" --version 2>/dev/null | awk '{print $3}')" || true
  printf '%s' "${v%%[!0-9]*}"
}

# find_pg_bin [MAJOR]: set PGBIN. Order: $HT_PG_BIN, PATH, /usr/lib/postgresql/*
# (highest version first); a directory of version MAJOR wins when given.
find_pg_bin() {
  local want=${1:-} p d
  local cands=()
  [[ -n ${HT_PG_BIN:-} ]] && cands+=("$HT_PG_BIN")
  if p="$(command -v pg_ctl 2>/dev/null)"; then
    cands+=("$(dirname -- "$(readlink -f -- "$p")")")
  fi
  while IFS= read -r d; do
    cands+=("$d")
  done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
  if [[ -n $want ]]; then
    for d in "${cands[@]}"; do
      if pg_bin_ok "$d" && [[ $(pg_major "$d") == "$want" ]]; then
        PGBIN=$d
        return 0
      fi
    done
  fi
  for d in "${cands[@]}"; do
    if pg_bin_ok "$d"; then
      PGBIN=$d
      return 0
    fi
  done
  return 1
}

pg_tool() { # path of a client tool, preferring the server's bin dir
  if [[ -n $PGBIN && -x $PGBIN/$1 ]]; then
    printf '%s' "$PGBIN/$1"
  else
    command -v "$1" 2>/dev/null || die "$1 not found (install postgresql-client)"
  fi
}

pg_libdir() {
  if [[ -x $PGBIN/pg_config ]]; then
    "$PGBIN/pg_config" --pkglibdir 2>/dev/null && return 0
  fi
  printf '%s' "$(dirname -- "$PGBIN")/lib"
}

pg_contrib_ok() {
  local lib
  lib="$(pg_libdir)"
  [[ ! -d $lib ]] || [[ -e $lib/pg_stat_statements.so && -e $lib/pg_trgm.so ]]
}

# pg_locate: set PGDATA/PGRUN for an existing cluster location (creates nothing).
pg_locate() {
  PGDATA=""
  if [[ -L $PG_LINK ]]; then
    PGDATA="$(readlink -- "$PG_LINK")"
  elif [[ -d $PG_LINK ]]; then
    PGDATA=$PG_LINK
  else
    return 1
  fi
  [[ -d $PGDATA ]] || return 1
  PGDATA="$(cd -- "$PGDATA" && pwd -P)" || return 1
  pg_set_rundir
}

pg_set_rundir() {
  PGRUN="$(dirname -- "$PGDATA")/pgrun"
  # sun_path is 108 bytes; the socket file adds "/.s.PGSQL.NNNNN".
  if ((${#PGRUN} > 84)); then
    PGRUN="$(relocated_base)/pgrun"
  fi
}

# pg_running: is a postmaster running on our cluster? Sets PG_PID, PG_RUN_PORT.
# Stricter than "pg_ctl status": after a reboot the pid in a stale
# postmaster.pid may belong to an unrelated process.
pg_running() {
  PG_PID="" PG_RUN_PORT=""
  local f="$PGDATA/postmaster.pid" pid="" port="" comm cwd
  [[ -n $PGDATA && -r $f ]] || return 1
  { read -r pid && read -r _ && read -r _ && read -r port; } <"$f" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  if [[ -r /proc/$pid/comm ]]; then
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || comm=""
    [[ $comm == postgres* || $comm == postmaster* ]] || return 1
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || cwd=""
    [[ -z $cwd || $cwd == "$PGDATA" ]] || return 1
  fi
  PG_PID=$pid
  is_port "$port" && PG_RUN_PORT=$port
  return 0
}

# pg_prepare: create the cluster location (or find it), decide who runs it.
pg_prepare() {
  local base target
  ensure_data_dir
  if is_root && ! getent passwd "$PG_SYSTEM_USER" >/dev/null &&
    ! { pg_locate && [[ -f $PGDATA/PG_VERSION ]]; }; then
    die "running as root but there is no '$PG_SYSTEM_USER' user to run PostgreSQL (apt-get install postgresql creates it; or: useradd --system --home-dir /var/lib/postgresql --shell /bin/bash $PG_SYSTEM_USER)"
  fi
  if [[ -L $PG_LINK ]]; then
    target="$(readlink -- "$PG_LINK")"
    if [[ ! -d $target ]]; then
      case $target in
        /var/tmp/herotasks-*/pg) ;;
        *) die "$PG_LINK points to $target, which does not exist" ;;
      esac
      log "cluster directory $target is gone (machine reset?); creating a new one"
      ensure_owned_dir "$(dirname -- "$target")" "$PG_SYSTEM_USER" 0755
      ensure_owned_dir "$target" "$PG_SYSTEM_USER" 0700
      printf '%s\n' "$ROOT" >"$(dirname -- "$target")/checkout"
    fi
    PGDATA=$target
  elif [[ -d $PG_LINK ]]; then
    PGDATA=$PG_LINK
  elif [[ -e $PG_LINK ]]; then
    die "$PG_LINK exists but is not a directory"
  elif is_root && ! run_as "$PG_SYSTEM_USER" test -x "$DATA"; then
    base="$(relocated_base)"
    ensure_owned_dir "$base" "$PG_SYSTEM_USER" 0755
    ensure_owned_dir "$base/pg" "$PG_SYSTEM_USER" 0700
    printf '%s\n' "$ROOT" >"$base/checkout" # for humans: whose cluster this is
    ln -s -- "$base/pg" "$PG_LINK"
    log "user $PG_SYSTEM_USER cannot traverse $ROOT; the cluster lives in $base/pg (symlinked as .data/pg)"
    PGDATA=$base/pg
  else
    mkdir -m 0700 -- "$PG_LINK"
    PGDATA=$PG_LINK
  fi
  PGDATA="$(cd -- "$PGDATA" && pwd -P)"

  # Who runs the server: as root, the owner of an existing cluster (postgres,
  # or a developer who created it without root), else the postgres user.
  if is_root; then
    if [[ -f $PGDATA/PG_VERSION ]]; then
      PG_OWNER="$(stat -c %U -- "$PGDATA")"
      [[ $PG_OWNER != root ]] ||
        die "cluster $PGDATA is owned by root, and PostgreSQL cannot run as root; remove it (scripts/services.sh destroy) and rerun"
    else
      PG_OWNER=$PG_SYSTEM_USER
      ensure_owned_dir "$PGDATA" "$PG_OWNER" 0700
    fi
  else
    PG_OWNER=$CUR_USER
    local owner
    owner="$(stat -c %U -- "$PGDATA")"
    [[ $owner == "$CUR_USER" ]] ||
      die "cluster $PGDATA belongs to $owner; run this script as $owner or as root"
  fi

  pg_set_rundir
  if [[ $PGRUN == /var/tmp/herotasks-*/pgrun ]]; then
    ensure_owned_dir "$(dirname -- "$PGRUN")" "$PG_OWNER" 0755
  fi
  ensure_owned_dir "$PGRUN" "$PG_OWNER" 0755
}

pg_initdb() {
  local ilog="$DATA/initdb.log"
  if [[ -n $(ls -A -- "$PGDATA") ]]; then
    log "$PGDATA holds a partial cluster (no PG_VERSION); clearing it"
    find "$PGDATA" -mindepth 1 -delete
  fi
  log "initialising PostgreSQL $(pg_major "$PGBIN") cluster in $PGDATA ..."
  : >"$ilog"
  if ! run_as "$PG_OWNER" "$PGBIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth=trust \
    -E UTF8 --locale=C.UTF-8 >>"$ilog" 2>&1; then
    log "initdb --locale=C.UTF-8 failed; retrying with --locale=C"
    find "$PGDATA" -mindepth 1 -delete 2>/dev/null || true
    if ! run_as "$PG_OWNER" "$PGBIN/initdb" -D "$PGDATA" -U "$PG_SUPERUSER" --auth=trust \
      -E UTF8 --locale=C >>"$ilog" 2>&1; then
      show_log_tail "$ilog" 0 25
      die "initdb failed (log: $ilog)"
    fi
  fi
}

# pg_write_conf PORT: (re)generate herotasks.conf, included from postgresql.conf.
# Returns 0 when the file changed.
pg_write_conf() {
  local port=$1 conf="$PGDATA/herotasks.conf" content fast=""
  local sock=${PGRUN//\'/\'\'}
  if is_true "${HT_PG_FAST:-}"; then
    fast="
# HT_PG_FAST=1: durability off (tests only)
fsync = off
synchronous_commit = off
full_page_writes = off"
  fi
  content="# Managed by scripts/services.sh: rewritten on every 'up'. Do not edit.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
shared_preload_libraries = 'pg_stat_statements'
logging_collector = off
log_destination = 'stderr'${fast}
"
  if ! grep -q "^include_if_exists = 'herotasks.conf'" "$PGDATA/postgresql.conf"; then
    printf "\n# Added by scripts/services.sh\ninclude_if_exists = 'herotasks.conf'\n" \
      >>"$PGDATA/postgresql.conf"
  fi
  if [[ -f $conf && "$(cat -- "$conf")"$'\n' == "$content" ]]; then
    return 1
  fi
  write_file "$conf" "$content"
  is_root && chown -- "$PG_OWNER:" "$conf"
  return 0
}

pg_start() {
  local port=$1 logf="$PGDATA/postgresql.log" off attempt
  for attempt in 1 2; do
    off="$(file_size "$logf")"
    if run_as "$PG_OWNER" "$PGBIN/pg_ctl" -D "$PGDATA" -l "$logf" -w -t 120 -s start >&2; then
      return 0
    fi
    if ((attempt == 1)) && ! pg_running &&
      tail -c +"$((off + 1))" -- "$logf" 2>/dev/null | grep -qE 'lock file .* already exists|another server might be running'; then
      # Left behind by a crash/reboot; postgres trusts them if their pid was
      # reused (or is a not-yet-reaped zombie). Our cluster is not running.
      log "removing stale lock files (postmaster.pid, socket locks) and retrying"
      rm -f -- "$PGDATA/postmaster.pid" "$PGRUN"/.s.PGSQL.*
      continue
    fi
    break
  done
  log "PostgreSQL failed to start; last lines of $logf:"
  show_log_tail "$logf" "$off" 30
  die "could not start PostgreSQL (cluster $PGDATA, port $port)"
}

pg_wait_ready() {
  local port=$1 isready i
  isready="$(pg_tool pg_isready)"
  for ((i = 0; i < 60; i++)); do
    "$isready" -q -h 127.0.0.1 -p "$port" -U "$PG_SUPERUSER" -d postgres -t 2 && return 0
    sleep 0.5
  done
  show_log_tail "$PGDATA/postgresql.log" 0 20
  die "PostgreSQL on 127.0.0.1:$port is not accepting connections"
}

pg_psql() {
  "$(pg_tool psql)" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" \
    -U "$PG_SUPERUSER" -d postgres "$@" </dev/null
}

pg_ensure_db() {
  local have
  have="$(pg_psql -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ||
    die "cannot query PostgreSQL on 127.0.0.1:$PG_PORT"
  if [[ $have != 1 ]]; then
    pg_psql -c "CREATE DATABASE $DB_NAME" || die "cannot create database $DB_NAME"
    log "created database $DB_NAME"
  fi
}

# Major version of the existing cluster, if any.
pg_cluster_version() {
  if pg_locate && [[ -f $PGDATA/PG_VERSION ]]; then
    cat -- "$PGDATA/PG_VERSION"
  fi
}

pg_up() { # needs find_pg_bin done (ensure_tools)
  local ver=""
  pg_prepare

  if pg_running; then
    PG_PORT=${PG_RUN_PORT:-${REC_PG_PORT:-}}
    is_port "$PG_PORT" || die "PostgreSQL (pid $PG_PID) is running but its port is unknown"
    PG_STATE="already running"
    # Only reloadable settings (HT_PG_FAST) can differ here: apply them.
    if pg_write_conf "$PG_PORT"; then
      run_as "$PG_OWNER" "$PGBIN/pg_ctl" -D "$PGDATA" -s reload >&2 || true
      PG_STATE="already running, config reloaded"
    fi
  else
    if [[ -f $PGDATA/PG_VERSION ]]; then
      ver="$(<"$PGDATA/PG_VERSION")"
      [[ $ver == "$(pg_major "$PGBIN")" ]] ||
        die "cluster $PGDATA was created by PostgreSQL $ver but the binaries found ($PGBIN) are version $(pg_major "$PGBIN"); install postgresql-$ver, or discard the data with: scripts/services.sh destroy"
    fi
    if ! pg_contrib_ok; then
      pkg_install "PostgreSQL contrib modules (pg_stat_statements, pg_trgm)" postgresql-contrib
      pg_contrib_ok || die "pg_stat_statements/pg_trgm still missing from $(pg_libdir)"
    fi
    if is_root && ! run_as "$PG_OWNER" test -w "$PGDATA"; then
      die "user $PG_OWNER cannot access $PGDATA (is a parent directory not traversable?); fix permissions, or run scripts/services.sh destroy and up again"
    fi
    [[ -f $PGDATA/PG_VERSION ]] || pg_initdb
    PG_PORT="$(choose_port "$PG_BASE_PORT" "$REC_PG_PORT" "")" ||
      die "no free TCP port in $PG_BASE_PORT..$((PG_BASE_PORT + 199)) on 127.0.0.1"
    pg_write_conf "$PG_PORT" || true
    pg_start "$PG_PORT"
    PG_STATE="started"
  fi
  pg_wait_ready "$PG_PORT"
  pg_ensure_db
}

pg_stop() {
  local i
  find_pg_bin "$(cat -- "$PGDATA/PG_VERSION" 2>/dev/null || true)" || true
  if [[ -n $PGBIN ]] &&
    run_as "$PG_OWNER" "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w -t 60 -s stop >&2; then
    return 0
  fi
  # No pg_ctl, or it failed: signal the postmaster directly (SIGINT = fast shutdown).
  kill -INT "$PG_PID" 2>/dev/null || true
  for ((i = 0; i < 120; i++)); do
    pid_alive "$PG_PID" || return 0
    sleep 0.5
  done
  die "PostgreSQL (pid $PG_PID) did not stop"
}

# ------------------------------------------------------------------ redis --

find_redis() {
  REDIS_SERVER="$(command -v redis-server 2>/dev/null)" || REDIS_SERVER=""
  REDIS_CLI="$(command -v redis-cli 2>/dev/null)" || REDIS_CLI=""
  [[ -n $REDIS_SERVER && -n $REDIS_CLI ]]
}

redis_conf_port() {
  local p
  p="$(awk '$1 == "port" {print $2}' "$REDIS_DIR/redis.conf" 2>/dev/null | tail -n 1)" || true
  is_port "$p" && printf '%s' "$p"
}

# redis_running: is our redis-server (cwd = our dir) alive? Sets REDIS_PID/RUN_PORT.
redis_running() {
  REDIS_PID="" REDIS_RUN_PORT=""
  local pid="" comm cwd dir
  [[ -r $REDIS_DIR/redis.pid ]] || return 1
  read -r pid <"$REDIS_DIR/redis.pid" || true
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  pid_alive "$pid" || return 1
  if [[ -r /proc/$pid/comm ]]; then
    comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || comm=""
    [[ $comm == redis-server* || $comm == redis-check* ]] || return 1
    dir="$(cd -- "$REDIS_DIR" && pwd -P)"
    cwd="$(readlink "/proc/$pid/cwd" 2>/dev/null)" || cwd=""
    [[ -z $cwd || $cwd == "$dir" ]] || return 1
  fi
  REDIS_PID=$pid
  REDIS_RUN_PORT="$(redis_conf_port)" || true
  return 0
}

redis_ping() {
  [[ -n $REDIS_CLI ]] || return 1
  [[ "$(timeout 5 "$REDIS_CLI" -h 127.0.0.1 -p "$1" ping 2>/dev/null </dev/null)" == PONG ]]
}

redis_quote() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

redis_start() {
  local port=$1 dir conf logf off i
  dir="$(cd -- "$REDIS_DIR" && pwd -P)"
  conf="$dir/redis.conf"
  logf="$dir/redis.log"
  write_file "$conf" "# Managed by scripts/services.sh: rewritten on every start. Do not edit.
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
dir $(redis_quote "$dir")
pidfile $(redis_quote "$dir/redis.pid")
logfile $(redis_quote "$logf")
save \"\"
appendonly no
# A cache: bounded, evicting the least recently used keys when full.
maxmemory 256mb
maxmemory-policy allkeys-lru
"
  off="$(file_size "$logf")"
  if ! (cd -- "$dir" && close_extra_fds && exec "$REDIS_SERVER" "$conf" </dev/null >>"$logf" 2>&1); then
    log "redis-server failed to start; last lines of $logf:"
    show_log_tail "$logf" "$off" 20
    die "could not start Redis (dir $dir, port $port)"
  fi
  for ((i = 0; i < 100; i++)); do
    if redis_ping "$port" && redis_running; then
      return 0
    fi
    sleep 0.1
  done
  log "Redis is not answering on 127.0.0.1:$port; last lines of $logf:"
  show_log_tail "$logf" "$off" 20
  die "could not start Redis (dir $dir, port $port)"
}

redis_up() { # needs find_redis done (ensure_tools)
  [[ -d $REDIS_DIR ]] || mkdir -m 0755 -- "$REDIS_DIR"
  if redis_running; then
    REDIS_PORT=${REDIS_RUN_PORT:-}
    if ! is_port "$REDIS_PORT" || ! redis_ping "$REDIS_PORT"; then
      die "our redis-server (pid $REDIS_PID) is running but does not answer on port '${REDIS_PORT}'; try: scripts/services.sh down && scripts/services.sh up"
    fi
    REDIS_STATE="already running"
  else
    REDIS_PORT="$(choose_port "$REDIS_BASE_PORT" "$REC_REDIS_PORT" "$PG_PORT")" ||
      die "no free TCP port in $REDIS_BASE_PORT..$((REDIS_BASE_PORT + 199)) on 127.0.0.1"
    redis_start "$REDIS_PORT"
    REDIS_STATE="started"
  fi
}

redis_stop() {
  local i port
  port="$(redis_conf_port)" || true
  find_redis || true
  if [[ -n $REDIS_CLI ]] && is_port "$port"; then
    timeout 10 "$REDIS_CLI" -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 </dev/null || true
  else
    kill -TERM "$REDIS_PID" 2>/dev/null || true
  fi
  for ((i = 0; i < 100; i++)); do
    pid_alive "$REDIS_PID" || return 0
    ((i == 50)) && kill -TERM "$REDIS_PID" 2>/dev/null
    sleep 0.1
  done
  kill -KILL "$REDIS_PID" 2>/dev/null || true
}

# --------------------------------------------------------------- commands --

pg_url() { printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable' "$PG_SUPERUSER" "$1" "$DB_NAME"; }
redis_url() { printf 'redis://127.0.0.1:%s/0' "$1"; }

# Does URL $1 point at our own service on recorded port $2? Then it was
# exported by us (eval "$(services.sh up)") and must not disable management.
url_is_ours() {
  local url=$1 port=$2 scheme=$3
  is_port "$port" || return 1
  [[ $url =~ ^${scheme}://([^@/]*@)?(127\.0\.0\.1|localhost):${port}(/|\?|$) ]]
}

# ensure_tools MANAGE_PG MANAGE_REDIS: find the binaries; install everything
# missing in one go (root) or name all of it and exit 1 (non-root).
ensure_tools() {
  local pg=$1 redis=$2 want missing=() what=()
  want="$(pg_cluster_version)"
  if ((pg)) && ! find_pg_bin "$want"; then
    missing+=(postgresql postgresql-contrib)
    what+=("PostgreSQL server (pg_ctl, initdb, postgres)")
  fi
  if ((redis)) && ! find_redis; then
    missing+=(redis-server redis-tools)
    what+=("Redis (redis-server, redis-cli)")
  fi
  ((${#missing[@]})) || return 0
  pkg_install "$(printf '%s and ' "${what[@]}" | sed 's/ and $//')" "${missing[@]}"
  if ((pg)) && ! find_pg_bin "$want"; then
    die "PostgreSQL binaries still not found after installing (looked in PATH and /usr/lib/postgresql/*/bin)"
  fi
  if ((redis)) && ! find_redis; then
    die "redis-server/redis-cli still not found on PATH after installing"
  fi
}

cmd_up() {
  local manage_pg=1 manage_redis=1 env="" summary=()
  ensure_data_dir
  take_lock
  read_ports
  if [[ -n ${DATABASE_URL:-} ]] && ! url_is_ours "$DATABASE_URL" "$REC_PG_PORT" 'postgres(ql)?'; then
    manage_pg=0
    log "DATABASE_URL is set: using it, not managing PostgreSQL"
  fi
  if [[ -n ${REDIS_URL:-} ]] && ! url_is_ours "$REDIS_URL" "$REC_REDIS_PORT" 'rediss?'; then
    manage_redis=0
    log "REDIS_URL is set: using it, not managing Redis"
  fi

  ensure_tools "$manage_pg" "$manage_redis"
  if ((manage_pg)); then
    pg_up
    env+="export DATABASE_URL=$(pg_url "$PG_PORT")"$'\n'
    local where state=$PG_STATE
    where="$(pretty "$PG_LINK")"
    if [[ -L $PG_LINK ]]; then where+=" -> $PGDATA"; fi
    if is_true "${HT_PG_FAST:-}"; then state+=", fast/unsafe"; fi
    summary+=("postgres 127.0.0.1:$PG_PORT/$DB_NAME ($state; $where)")
  fi
  if ((manage_redis)); then
    redis_up
    env+="export REDIS_URL=$(redis_url "$REDIS_PORT")"$'\n'
    summary+=("redis 127.0.0.1:$REDIS_PORT ($REDIS_STATE)")
  fi

  write_file "$PORTS_FILE" "PG_PORT=${PG_PORT:-$REC_PG_PORT}
REDIS_PORT=${REDIS_PORT:-$REC_REDIS_PORT}
"
  write_file "$ENV_FILE" "$env"
  printf '%s' "$env" >&3
  if ((${#summary[@]})); then
    log "$(printf '%s; ' "${summary[@]}")env in $(pretty "$ENV_FILE")"
  else
    log "nothing to manage (DATABASE_URL and REDIS_URL are both set)"
  fi
}

cmd_down() {
  [[ -d $DATA ]] || {
    log "nothing to stop (no $(pretty "$DATA"))"
    return 0
  }
  take_lock
  if pg_locate && pg_running; then
    PG_OWNER="$(stat -c %U -- "$PGDATA")"
    pg_stop
    log "postgres stopped"
  else
    log "postgres not running"
  fi
  if redis_running; then
    redis_stop
    log "redis stopped"
  else
    log "redis not running"
  fi
}

cmd_status() {
  local rc=0 ext
  read_ports
  ext=""
  [[ -n ${DATABASE_URL:-} ]] && ! url_is_ours "$DATABASE_URL" "$REC_PG_PORT" 'postgres(ql)?' &&
    ext="  (DATABASE_URL is set: an external server is used instead)"
  if pg_locate && pg_running; then
    local ready="accepting connections"
    find_pg_bin "" || true
    if ! "$(pg_tool pg_isready)" -q -h 127.0.0.1 -p "${PG_RUN_PORT:-0}" -U "$PG_SUPERUSER" -d postgres -t 2; then
      ready="NOT accepting connections"
      rc=3
    fi
    out "postgres: running  pid $PG_PID  127.0.0.1:$PG_RUN_PORT  $ready  data $PGDATA$ext"
  elif [[ -n $PGDATA && -f $PGDATA/PG_VERSION ]]; then
    out "postgres: stopped  data $PGDATA$ext"
    [[ -n $ext ]] || rc=3
  else
    out "postgres: not set up (run scripts/services.sh up)$ext"
    [[ -n $ext ]] || rc=3
  fi

  ext=""
  [[ -n ${REDIS_URL:-} ]] && ! url_is_ours "$REDIS_URL" "$REC_REDIS_PORT" 'rediss?' &&
    ext="  (REDIS_URL is set: an external server is used instead)"
  if redis_running; then
    local ready="answering"
    find_redis || true
    if ! redis_ping "${REDIS_RUN_PORT:-0}"; then
      ready="NOT answering"
      rc=3
    fi
    out "redis:    running  pid $REDIS_PID  127.0.0.1:$REDIS_RUN_PORT  $ready  dir $REDIS_DIR$ext"
  elif [[ -f $REDIS_DIR/redis.conf ]]; then
    out "redis:    stopped  dir $REDIS_DIR$ext"
    [[ -n $ext ]] || rc=3
  else
    out "redis:    not set up (run scripts/services.sh up)$ext"
    [[ -n $ext ]] || rc=3
  fi
  return "$rc"
}

cmd_env() {
  local lines=() ok=1
  if [[ ! -f $ENV_FILE ]]; then
    log "services are not up (no $(pretty "$ENV_FILE")); run: scripts/services.sh up"
    return 1
  fi
  if grep -q '^export DATABASE_URL=' "$ENV_FILE"; then
    if pg_locate && pg_running && is_port "$PG_RUN_PORT"; then
      lines+=("export DATABASE_URL=$(pg_url "$PG_RUN_PORT")")
    else
      log "postgres is not running"
      ok=0
    fi
  fi
  if grep -q '^export REDIS_URL=' "$ENV_FILE"; then
    if redis_running && is_port "$REDIS_RUN_PORT"; then
      lines+=("export REDIS_URL=$(redis_url "$REDIS_RUN_PORT")")
    else
      log "redis is not running"
      ok=0
    fi
  fi
  if ((!ok)); then
    log "run: scripts/services.sh up"
    return 1
  fi
  ((${#lines[@]} == 0)) || out "${lines[@]}"
}

cmd_destroy() {
  local target=""
  cmd_down
  [[ -d $DATA ]] || return 0
  if [[ -L $PG_LINK ]]; then
    target="$(readlink -- "$PG_LINK")"
    case $target in
      /var/tmp/herotasks-*/pg)
        rm -rf -- "$(dirname -- "$target")"
        log "removed $(dirname -- "$target")"
        ;;
    esac
  fi
  local base
  base="$(relocated_base)"
  if [[ -d $base && ! -L $base ]]; then
    rm -rf -- "$base"
    log "removed $base"
  fi
  rm -rf -- "$DATA"
  log "removed $DATA"
}

usage() {
  sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$SCRIPT_PATH"
}

main() {
  # Our stdout is reserved for env lines / status: everything else, including
  # the output of the tools we run, goes to stderr.
  exec 3>&1 1>&2
  local cmd=${1:-}
  case $cmd in
    up) cmd_up ;;
    down | stop) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    destroy) cmd_destroy ;;
    -h | --help | help) usage >&3 ;;
    *)
      usage
      [[ -z $cmd ]] || log "unknown command: $cmd"
      exit 2
      ;;
  esac
}

main "$@"
