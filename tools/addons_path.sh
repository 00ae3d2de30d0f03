#!/usr/bin/env bash
# Print the Odoo --addons-path to use for this addon.
#
# Odoo takes a module's name from its directory name, and the repository may
# be cloned in a folder of any name: so a temporary folder holds a symlink
#   ${TMPDIR:-/tmp}/sb_addons_<hash>/subscription_billing -> <addon root>
# and that folder goes in the addons path.
#
# Environment:
#   SB_ADDON_DIR       addon root (default: the parent of this tools/ folder)
#   ODOO_ADDONS_PATH   Odoo's (and any other) addons folders, comma separated
#                      (default: the addons/ folder next to the importable odoo
#                      package, e.g. /opt/odoo18/addons)
#   SB_PYTHON          the Python that runs Odoo (default python3)
#
#   tools/addons_path.sh            -> "<odoo addons>,<symlink folder>"
#   tools/addons_path.sh --link-dir -> "<symlink folder>" only
set -euo pipefail

MODULE=subscription_billing
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
ADDON_DIR="$(cd "${SB_ADDON_DIR:-$HERE/..}" && pwd -P)"

HASH="$(printf '%s' "$ADDON_DIR" | sha1sum | cut -c1-10)"
LINK_DIR="${TMPDIR:-/tmp}/sb_addons_$HASH"
mkdir -p "$LINK_DIR"
ln -sfn "$ADDON_DIR" "$LINK_DIR/$MODULE"

if [ "${1:-}" = "--link-dir" ]; then
    echo "$LINK_DIR"
    exit 0
fi

ODOO_ADDONS="${ODOO_ADDONS_PATH:-}"
if [ -z "$ODOO_ADDONS" ]; then
    ODOO_ROOT="$("${SB_PYTHON:-python3}" -c \
        'import odoo, os; print(os.path.dirname(os.path.dirname(odoo.__file__)))' 2>/dev/null)" \
        || { echo "addons_path.sh: python cannot import odoo; set ODOO_ADDONS_PATH" >&2; exit 1; }
    ODOO_ADDONS="$ODOO_ROOT/addons"
fi
echo "$ODOO_ADDONS,$LINK_DIR"
