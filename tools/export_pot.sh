#!/usr/bin/env bash
# `make pot`: export i18n/subscription_billing.pot from a throwaway database.
#
# Installs the addon (without demo data) in a temporary database of the
# private PostgreSQL cluster, exports the translation template, then drops
# the database (and stops PostgreSQL if this script started it).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ADDON_DIR="$(cd "${SB_ADDON_DIR:-$HERE/..}" && pwd -P)"
PY="${SB_PYTHON:-python3}"
MODULE=subscription_billing
DB="sb_pot_$$"
POT="$ADDON_DIR/i18n/$MODULE.pot"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/sb_pot_XXXXXX")"

was_running=0
if [ -n "${SB_DB_HOST:-}" ] || "$HERE/pg.sh" status >/dev/null 2>&1; then
    was_running=1
fi
cleanup() {
    cd /
    "$HERE/pg.sh" dropdb "$DB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
    if [ "$was_running" = 0 ]; then
        "$HERE/pg.sh" stop || true
    fi
}
trap cleanup EXIT

"$HERE/pg.sh" start
ADDONS_PATH="$("$HERE/addons_path.sh")"
read -r -a DB_ARGS <<<"$("$HERE/pg.sh" odoo-args)"
COMMON=(--addons-path="$ADDONS_PATH" "${DB_ARGS[@]}" --data-dir="$WORK/data"
    -d "$DB" --max-cron-threads=0 --stop-after-init --log-level=warn)

cd "$WORK" # not the addon folder, which `python3 -m odoo` would put on sys.path
echo "== installing $MODULE in throwaway database $DB"
"$PY" -m odoo "${COMMON[@]}" -i "$MODULE" --without-demo=all
mkdir -p "$(dirname "$POT")"
echo "== exporting $POT"
"$PY" -m odoo "${COMMON[@]}" --i18n-export="$POT" --modules="$MODULE"
echo "wrote $POT"
