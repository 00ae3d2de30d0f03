#!/usr/bin/env bash
# `make run`: a local Odoo with this addon and its demo data.
#
# Starts the private PostgreSQL cluster (tools/pg.sh) unless SB_DB_HOST names an
# existing server, installs the addon in
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
if [ -n "${SB_DB_HOST:-}" ]; then
    echo "PostgreSQL: $SB_DB_HOST (SB_DB_HOST). Ctrl-C stops Odoo."
else
    echo "PostgreSQL: private cluster on 127.0.0.1:${SB_PGPORT:-54329}. Ctrl-C stops Odoo;"
    echo "'make stop' stops PostgreSQL."
fi
echo "To bill now: open a contract and click Invoice Now, or run the scheduled action"
echo "'Subscriptions: generate, post and send invoices' (Settings > Technical, Run Manually)."
echo "Customer portal: login portal / password portal, My Account > Subscriptions."
echo
exec "$PY" -m odoo "${COMMON[@]}" --db-filter="^${DB}\$" \
    --http-interface="$INTERFACE" --http-port="$PORT"
