# subscription_billing (Odoo 18.0 addon): tests, linters and a local Odoo.
#
#   make test    pytest (lib/tests) + linters + Odoo suite    (tools/run_tests.py)
#   make lint    linters only: pylint-odoo, ruff, oca-checks-*
#   make fmt     ruff format + ruff check --fix
#   make run     Odoo with the addon and demo data on http://localhost:8069
#   make stop    stop the private PostgreSQL cluster
#   make pot     export i18n/subscription_billing.pot (throwaway database)
#   make bench   tools/bench.py with N=$(N), once that script exists
#                (USAGE=1: tools/bench_usage.py, metered billing, CONTRACTS/RECORDS/ONE_LINE)
#                (make test and make bench use .tools/wkhtmltox/bin first, the
#                patched wkhtmltopdf that .ci/run installs)
#   make bench-import  tools/bench_import.py: N contracts x 2 lines + N/2 mandates
#                through Odoo's import (DB must have the addon installed)
#
# Variables: PYTHON (python3), DB (subscription_demo), HTTP_PORT (8069), N (1000);
# environment variables of tools/run_tests.py and tools/pg.sh (SB_*).

SHELL := /bin/bash
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
PYTHON ?= python3
DB ?= subscription_demo
HTTP_PORT ?= 8069
N ?= 1000

export SB_PYTHON ?= $(PYTHON)

.PHONY: help test lint fmt run stop pot bench bench-import

help:
	@sed -n '2,15p' "$(ROOT)/Makefile" | sed 's/^# \{0,1\}//'

test:
	cd "$(ROOT)" && $(PYTHON) tools/run_tests.py

lint:
	cd "$(ROOT)" && $(PYTHON) tools/run_tests.py --only lint

fmt:
	cd "$(ROOT)" && $(PYTHON) -m ruff format . && $(PYTHON) -m ruff check --fix .

run:
	cd "$(ROOT)" && PATH="$(ROOT)/.tools/wkhtmltox/bin:$$PATH" DB="$(DB)" HTTP_PORT="$(HTTP_PORT)" tools/odoo_run.sh

stop:
	cd "$(ROOT)" && tools/pg.sh stop

pot:
	cd "$(ROOT)" && tools/export_pot.sh

bench:
	@cd "$(ROOT)" && if [ -f tools/bench.py ]; then \
		tools/pg.sh start && \
		SB_ADDONS_PATH="$$(tools/addons_path.sh)" \
		SB_ODOO_DB_ARGS="$$(tools/pg.sh odoo-args)" \
		PATH="$(ROOT)/.tools/wkhtmltox/bin:$$PATH" \
		N="$(N)" $(PYTHON) tools/$(if $(USAGE),bench_usage.py,bench.py); \
	else \
		echo "tools/bench.py does not exist yet: nothing to benchmark"; \
	fi

bench-import:
	@cd "$(ROOT)" && tools/pg.sh start && \
		nice -n 10 $(PYTHON) tools/bench_import.py --db "$(DB)" -n "$(N)" $(BENCH_ARGS) -- \
		$$(tools/pg.sh odoo-args) --addons-path="$$(tools/addons_path.sh)"
