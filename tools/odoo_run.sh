#!/usr/bin/env bash
# `make run`: a local Odoo with this addon and its demo data.
#
# Starts the private PostgreSQL cluster (tools/pg.sh), installs the addon in
# database ${DB:-subscription_demo} (-i the first time, -u afterwards), then
# serves Odoo on http://localhost:${HTTP_PORT:-8069} until Ctrl-C.
# `make stop` stops PostgreSQL afterwards.
#
# Environment: DB, HTTP_PORT, HTTP_INTERFACE (default 127.0.0.1), SB_PYTHON,
# ODOO_ADDONS_PATH, SB_ADDON_DIR, plus those of tools/pg.sh.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
PY="${SB_PYTHON:-python3}"
DB="${DB:-subscription_demo}"
PORT="${HTTP_PORT:-8069}"
INTERFACE="${HTTP_INTERFACE:-127.0.0.1}"
MODULE=subscription_billing
DATA_DIR="${SB_ODOO_DATA_DIR:-$(dirname "${SB_PGDATA:-/tmp/subscription_billing_pg/data}")/odoo-data}"

"$HERE/pg.sh" start
ADDONS_PATH="$("$HERE/addons_path.sh")"
read -r -a DB_ARGS <<<"$("$HERE/pg.sh" odoo-args)"
COMMON=(--addons-path="$ADDONS_PATH" "${DB_ARGS[@]}" --data-dir="$DATA_DIR" -d "$DB")

state="$("$HERE/pg.sh" psql -d "$DB" -tAc \
    "SELECT state FROM ir_module_module WHERE name = '$MODULE'" 2>/dev/null || true)"
if [ "$state" = installed ]; then
    echo "== updating $MODULE in database $DB"
    INIT=(-u "$MODULE")
else
    echo "== installing $MODULE with demo data in database $DB"
    INIT=(-i "$MODULE")
fi
# Not from the addon folder: `python3 -m odoo` puts the working directory on
# sys.path, where the addon's folders would shadow top-level modules.
mkdir -p "$DATA_DIR" && cd "$DATA_DIR"
"$PY" -m odoo "${COMMON[@]}" "${INIT[@]}" --stop-after-init --max-cron-threads=0 \
    --http-port="$PORT" --log-level=warn

echo
echo "Odoo: http://localhost:$PORT (database $DB)"
echo "Login: admin / Password: admin"
echo "Ctrl-C stops Odoo; 'make stop' stops PostgreSQL."
echo
exec "$PY" -m odoo "${COMMON[@]}" --db-filter="^${DB}\$" \
    --http-interface="$INTERFACE" --http-port="$PORT"
