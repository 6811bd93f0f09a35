#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, CI and benchmarks, on 127.0.0.1 and a free port.
#
#   scripts/postgres.sh start   # install Debian's postgresql if missing, initdb, start; prints the URL
#   scripts/postgres.sh url     # prints the URL of the running server (exit 1 if none)
#   scripts/postgres.sh stop    # stops the server and deletes its data
#
#   export CONNECTOR_TEST_POSTGRES_URL="$(scripts/postgres.sh start)"
#
# State lives in ${CONNECTOR_PG_STATE:-build/postgres} (URL, data directory). PostgreSQL
# refuses to run as root: as root the cluster lives in a temporary directory owned by the
# `postgres` user (created by Debian's package) and every server command runs as that user.
# The password is random, kept in the state directory (mode 0700), and only ever printed
# inside the URL on standard output.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${CONNECTOR_PG_STATE:-$ROOT/build/postgres}"
DB=connector
USER_NAME=connector

log() { echo "postgres.sh: $*" >&2; }

bindir() {
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    fi
}

install_postgres() {
    if [[ -n "$(bindir)" ]]; then
        return
    fi
    if [[ "$(id -u)" != 0 ]]; then
        log "PostgreSQL binaries not found; install them (apt-get install -y postgresql) as root"
        exit 1
    fi
    log "installing Debian's postgresql package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
}

# Run a server command as the owner of the cluster.
as_owner() {
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

running() {
    [[ -f "$STATE/url" && -f "$STATE/datadir" ]] &&
        as_owner "$(bindir)/pg_ctl" -D "$(cat "$STATE/datadir")" status >/dev/null 2>&1
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    install_postgres
    if running; then
        cat "$STATE/url"
        return
    fi
    stop_quietly
    local bin port password base data
    bin="$(bindir)"
    port="$(free_port)"
    password="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    if [[ "$(id -u)" == 0 ]]; then
        # The repository may sit under a directory the postgres user cannot enter.
        base="$(mktemp -d "${TMPDIR:-/tmp}/connector-postgres.XXXXXX")"
        chown postgres: "$base"
    else
        base="$STATE"
    fi
    data="$base/data"
    echo "$data" >"$STATE/datadir"
    local pwfile="$base/pwfile"
    (umask 077 && echo "$password" >"$pwfile")
    [[ "$(id -u)" == 0 ]] && chown postgres: "$pwfile"
    as_owner "$bin/initdb" -D "$data" -U "$USER_NAME" --pwfile="$pwfile" \
        --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$base/initdb.log" 2>&1 ||
        { cat "$base/initdb.log" >&2; exit 1; }
    rm -f "$pwfile"
    as_owner "$bin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$base' \
            -c max_connections=200 -c shared_buffers=64MB" start >&2 ||
        { cat "$base/server.log" >&2; exit 1; }
    PGPASSWORD="$password" "$bin/psql" -q -h 127.0.0.1 -p "$port" -U "$USER_NAME" \
        -d postgres -c "CREATE DATABASE $DB" >&2
    (umask 077 && echo "postgresql://$USER_NAME:$password@127.0.0.1:$port/$DB" >"$STATE/url")
    log "started on 127.0.0.1:$port (data in $data)"
    cat "$STATE/url"
}

stop_quietly() {
    if [[ -f "$STATE/datadir" ]]; then
        local data
        data="$(cat "$STATE/datadir")"
        # Only ever delete what start() made: STATE itself or a connector-postgres.* dir.
        if [[ -d "$data" && "$data" == */data ]] &&
            [[ "$(dirname "$data")" == "$STATE" || "$data" == */connector-postgres.*/data ]]; then
            as_owner "$(bindir)/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
            rm -rf "$(dirname "$data")"
        fi
    fi
    rm -rf "$STATE"
}

case "${1:-}" in
    start) start ;;
    url)
        if running; then cat "$STATE/url"; else log "not running"; exit 1; fi
        ;;
    stop) stop_quietly; log "stopped" ;;
    *)
        echo "usage: $0 start|url|stop" >&2
        exit 2
        ;;
esac
