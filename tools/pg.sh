#!/usr/bin/env bash
# Private, throwaway PostgreSQL cluster for the subscription_billing tests.
#
#   tools/pg.sh start|stop|status     manage the cluster
#   tools/pg.sh odoo-args             print the --db_* options Odoo needs
#   tools/pg.sh psql [ARGS...]        psql connected as the odoo role
#   tools/pg.sh dropdb DB...          drop databases (if they exist)
#
# Environment:
#   SB_PGDATA   data directory           (default /tmp/subscription_billing_pg/data)
#   SB_PGPORT   port on 127.0.0.1        (default 54329)
#   SB_PGBIN    PostgreSQL bin directory (default /usr/lib/postgresql/15/bin)
#   SB_DB_HOST  use this existing server instead (start/stop then do nothing);
#               with SB_DB_PORT (default 5432) and SB_DB_USER (default odoo);
#               a password goes in the usual PGPASSWORD variable.
set -euo pipefail

PGDATA_DIR="${SB_PGDATA:-/tmp/subscription_billing_pg/data}"
BASE_DIR="$(dirname "$PGDATA_DIR")"
SOCKET_DIR="$BASE_DIR/socket"
LOG_FILE="$BASE_DIR/postgresql.log"
PORT="${SB_PGPORT:-54329}"

find_pgbin() {
    if [ -n "${SB_PGBIN:-}" ]; then
        echo "$SB_PGBIN"
        return
    fi
    if [ -x /usr/lib/postgresql/15/bin/pg_ctl ]; then
        echo /usr/lib/postgresql/15/bin
        return
    fi
    # Fall back on the newest installed server, then on whatever is on PATH.
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    else
        echo "pg.sh: no PostgreSQL server binaries found (set SB_PGBIN)" >&2
        exit 1
    fi
}

# Connection parameters (external server or private cluster).
if [ -n "${SB_DB_HOST:-}" ]; then
    CONN_HOST="$SB_DB_HOST"
    CONN_PORT="${SB_DB_PORT:-5432}"
    CONN_USER="${SB_DB_USER:-odoo}"
else
    CONN_HOST="127.0.0.1"
    CONN_PORT="$PORT"
    CONN_USER="odoo"
fi

# Run a command as the postgres OS user when we are root (PostgreSQL refuses
# to run as root); as ourselves otherwise.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

client() {
    # Client tools from the same bin dir when available, else from PATH.
    local tool="$1"
    shift
    local bin
    bin="$(find_pgbin 2>/dev/null || true)"
    if [ -n "$bin" ] && [ -x "$bin/$tool" ]; then
        "$bin/$tool" "$@"
    else
        "$tool" "$@"
    fi
}

is_running() {
    [ -f "$PGDATA_DIR/PG_VERSION" ] || return 1
    as_pg "$PGBIN/pg_ctl" status -D "$PGDATA_DIR" >/dev/null 2>&1
}

ensure_role() {
    # As the postgres superuser through the private unix socket.
    local exists
    exists="$(client psql -X -q -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_roles WHERE rolname = 'odoo'")"
    if [ "$exists" != 1 ]; then
        client psql -X -q -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres \
            -c "CREATE ROLE odoo LOGIN CREATEDB SUPERUSER" >/dev/null
        echo "pg.sh: created role odoo"
    fi
}

cmd_start() {
    if [ -n "${SB_DB_HOST:-}" ]; then
        echo "pg.sh: SB_DB_HOST=$SB_DB_HOST is set, using that server (nothing to start)"
        return 0
    fi
    PGBIN="$(find_pgbin)"
    mkdir -p "$BASE_DIR" "$SOCKET_DIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$BASE_DIR" "$SOCKET_DIR"
        chmod 755 "$BASE_DIR"
    fi
    if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
        rm -rf "$PGDATA_DIR"
        mkdir -p "$PGDATA_DIR"
        [ "$(id -u)" = 0 ] && chown postgres: "$PGDATA_DIR"
        echo "pg.sh: initdb $PGDATA_DIR"
        as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres \
            -E UTF8 --locale=C.UTF-8 >"$BASE_DIR/initdb.log" 2>&1 \
            || { cat "$BASE_DIR/initdb.log" >&2; exit 1; }
    fi
    if is_running; then
        echo "pg.sh: already running on 127.0.0.1:$PORT ($PGDATA_DIR)"
    else
        [ "$(id -u)" = 0 ] && touch "$LOG_FILE" && chown postgres: "$LOG_FILE"
        # A throwaway test cluster: durability is not needed, speed is.
        if ! as_pg "$PGBIN/pg_ctl" start -w -t 120 -D "$PGDATA_DIR" -l "$LOG_FILE" \
            -o "-c listen_addresses=127.0.0.1 -p $PORT -k $SOCKET_DIR \
                -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                -c max_connections=200" >/dev/null; then
            echo "pg.sh: could not start PostgreSQL, last log lines:" >&2
            tail -n 30 "$LOG_FILE" >&2 || true
            exit 1
        fi
        echo "pg.sh: started on 127.0.0.1:$PORT ($PGDATA_DIR)"
    fi
    ensure_role
}

cmd_stop() {
    if [ -n "${SB_DB_HOST:-}" ]; then
        echo "pg.sh: SB_DB_HOST=$SB_DB_HOST is set, nothing to stop"
        return 0
    fi
    PGBIN="$(find_pgbin)"
    if is_running; then
        as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w >/dev/null
        echo "pg.sh: stopped"
    else
        echo "pg.sh: not running"
    fi
}

cmd_status() {
    if [ -n "${SB_DB_HOST:-}" ]; then
        if client pg_isready -q -h "$CONN_HOST" -p "$CONN_PORT"; then
            echo "pg.sh: external server $CONN_HOST:$CONN_PORT is accepting connections"
            return 0
        fi
        echo "pg.sh: external server $CONN_HOST:$CONN_PORT is not reachable"
        return 3
    fi
    PGBIN="$(find_pgbin)"
    if is_running; then
        echo "pg.sh: running on 127.0.0.1:$PORT ($PGDATA_DIR)"
        return 0
    fi
    echo "pg.sh: not running ($PGDATA_DIR)"
    return 3
}

cmd_odoo_args() {
    echo "--db_host=$CONN_HOST --db_port=$CONN_PORT --db_user=$CONN_USER"
}

cmd_psql() {
    client psql -X -h "$CONN_HOST" -p "$CONN_PORT" -U "$CONN_USER" "$@"
}

cmd_dropdb() {
    local db
    for db in "$@"; do
        # --force (PostgreSQL 13+) also ends connections a killed Odoo left.
        client dropdb --if-exists --force -h "$CONN_HOST" -p "$CONN_PORT" \
            -U "$CONN_USER" "$db" 2>/dev/null \
            || client dropdb --if-exists -h "$CONN_HOST" -p "$CONN_PORT" \
                -U "$CONN_USER" "$db"
    done
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    odoo-args) cmd_odoo_args ;;
    psql) shift; cmd_psql "$@" ;;
    dropdb) shift; cmd_dropdb "$@" ;;
    *)
        echo "usage: $0 start|stop|status|odoo-args|psql [ARGS]|dropdb DB..." >&2
        exit 2
        ;;
esac
