#!/usr/bin/env python3
"""Run every check of the subscription_billing addon; what `make test` runs.

Steps (each counted in the closing `N passed, N failed` line):
  pytest  pure-Python tests of lib/ (lib/tests), no Odoo, no database;
  lint    pylint-odoo (OCA 18.0 mandatory set), ruff check, ruff format --check,
          oca-checks-odoo-module, oca-checks-po (i18n/*.po[t], if any);
  odoo    only when `python3` imports Odoo 18.0: a private PostgreSQL cluster
          (tools/pg.sh), then
            - DB sb_test_<pid>: install without demo data and run the addon's
              tests (--test-tags=/subscription_billing); every Odoo test counts;
            - DB sb_demo_<pid>: install with demo data (1 test), then
              uninstall it cleanly (1 test);
          a run fails on a failed test, an ERROR/CRITICAL log line, a WARNING
          of the addon (from its odoo.addons.subscription_billing.* loggers,
          or any WARNING whose message names subscription_billing, such as
          missing access rules or failed demo data), a non-zero exit code or
          zero Odoo tests.

Usage: tools/run_tests.py [--only pytest,lint,odoo]

Environment:
  SB_ADDON_DIR       addon to test (default: the parent of tools/)
  SB_PYTHON          Python running pytest/linters/Odoo (default: this one)
  ODOO_ADDONS_PATH   Odoo's addons folders (default: <odoo source>/addons)
  SB_TEST_TAGS       Odoo --test-tags (default /subscription_billing),
                     e.g. /subscription_billing:TestContract
  SB_SKIP_DEMO=1     skip the demo install and uninstall steps
  SB_KEEP_DB=1       keep the databases and leave PostgreSQL running
  SB_FORCE_NO_ODOO=1 behave as if Odoo were not importable (Odoo suite skipped)
  SB_VERBOSE=1       stream the whole Odoo log (default: a filtered view)
  SB_ODOO_TIMEOUT    seconds allowed for one Odoo run (default 2400)
  SB_DB_HOST (+ SB_DB_PORT, SB_DB_USER, PGPASSWORD), SB_PGDATA, SB_PGPORT:
                     see tools/pg.sh
Only the standard library is used.
"""

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODULE = "subscription_billing"
TOOLS = Path(__file__).resolve().parent
ADDON = Path(os.environ.get("SB_ADDON_DIR") or TOOLS.parent).resolve()
PY = os.environ.get("SB_PYTHON") or sys.executable
PY = PY if os.sep in PY else (shutil.which(PY) or PY)
ENV = dict(os.environ, SB_ADDON_DIR=str(ADDON), SB_PYTHON=PY, PYTHONUNBUFFERED="1")
# The patched wkhtmltopdf installed by .ci/run (tools/install_wkhtmltox.sh)
# comes first on the PATH: the PDFs of the tests are then a customer's PDFs.
WKHTMLTOX_BIN = ADDON / ".tools" / "wkhtmltox" / "bin"
if (WKHTMLTOX_BIN / "wkhtmltopdf").exists():
    ENV["PATH"] = f"{WKHTMLTOX_BIN}{os.pathsep}{ENV.get('PATH', '')}"
STEPS = ("pytest", "lint", "odoo")

# Odoo log record: "2025-01-31 12:00:00,123 4242 INFO db logger.name: message"
LOG_RE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ "
    r"(?P<level>[A-Z?]+) (?P<db>\S+) (?P<logger>[^\s:]+): (?P<msg>.*)$"
)
SUMMARY_RE = re.compile(
    r"(?P<failed>\d+) failed, (?P<errors>\d+) error\(s\) of (?P<total>\d+) tests"
)
OUR_LOGGER = f"odoo.addons.{MODULE}"


class Results:
    def __init__(self):
        self.rows = []  # (name, passed, failed, seconds, note)

    def add(self, name, passed, failed, seconds, note=""):
        self.rows.append((name, passed, failed, seconds, note))
        status = "FAILED" if failed else "ok"
        extra = f" -- {note}" if note else ""
        print(
            f">>> {name}: {passed} passed, {failed} failed "
            f"[{status}] ({seconds:.1f}s){extra}",
            flush=True,
        )

    @property
    def passed(self):
        return sum(r[1] for r in self.rows)

    @property
    def failed(self):
        return sum(r[2] for r in self.rows)


def banner(title):
    print(f"\n===== {title} =====", flush=True)


def run(cmd, cwd=ADDON, env=None, check=False):
    """Run a command, return (exit code, combined output)."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env or ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        check=False,
    )
    if check and proc.returncode:
        print(proc.stdout)
        raise RuntimeError(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    return proc.returncode, proc.stdout


def python_has(module):
    return run([PY, "-c", f"import {module}"])[0] == 0


# --------------------------------------------------------------------------- #
# a) pure-Python tests
# --------------------------------------------------------------------------- #
def step_pytest(results):
    banner("pytest: lib/tests")
    start = time.monotonic()
    if not python_has("pytest"):
        results.add("pytest", 0, 1, 0, f"pytest is not installed for {PY}")
        return
    tests_dir = ADDON / "lib" / "tests"
    if (tests_dir / "__init__.py").exists():
        print(
            "lib/tests/__init__.py exists: remove it. With it pytest imports the "
            "repository root (the Odoo addon package) and fails outside Odoo."
        )
    if not tests_dir.is_dir():
        print("pytest: no lib/tests folder: 0 tests")
        results.add("pytest", 0, 0, time.monotonic() - start, "no lib/tests")
        return
    cmd = [PY, "-m", "pytest", f"--confcutdir={tests_dir}", "-p", "no:cacheprovider"]
    proc = subprocess.Popen(
        cmd,
        cwd=ADDON,
        env=ENV,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        lines.append(line)
    rc = proc.wait()
    elapsed = time.monotonic() - start
    counts = {}
    for line in reversed(lines):
        found = re.findall(
            r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed|deselected)", line
        )
        if found and (" in " in line or line.startswith("=")):
            counts = {
                kind.rstrip("s") if kind.startswith("error") else kind: int(n)
                for n, kind in found
            }
            break
    passed = sum(counts.get(k, 0) for k in ("passed", "xfailed", "xpassed"))
    failed = counts.get("failed", 0) + counts.get("error", 0)
    if rc == 5:
        print("pytest: no tests collected (exit code 5), counted as 0 tests")
        results.add("pytest", 0, 0, elapsed, "no tests collected")
        return
    note = ""
    if rc != 0 and failed == 0:
        failed = 1
        note = f"pytest exit code {rc}"
    results.add("pytest", passed, failed, elapsed, note)


# --------------------------------------------------------------------------- #
# b) linters
# --------------------------------------------------------------------------- #
def lint_one(results, name, cmd, cwd=ADDON, rewrite=None):
    start = time.monotonic()
    rc, out = run(cmd, cwd=cwd)
    if rewrite:
        out = rewrite(out)
    elapsed = time.monotonic() - start
    if rc == 0:
        results.add(name, 1, 0, elapsed)
    else:
        print(f"--- {name} output ---\n{out.rstrip()}\n--- end of {name} output ---")
        results.add(name, 0, 1, elapsed, f"exit code {rc}")


def module_copy(workdir):
    """A copy of the addon in a folder named like the module.

    oca-checks-odoo-module resolves symlinks and takes the module name from the
    real folder; it also looks for the manifest *below* the git top folder,
    which the repository root itself (the addon) is not. So it checks a copy:
    <workdir>/subscription_billing, with an empty <workdir>/.git marking the
    top folder (paths in its messages are then subscription_billing/...).
    """
    target = Path(workdir) / MODULE
    shutil.copytree(
        ADDON,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git",
            "__pycache__",
            "*.pyc",
            ".ruff_cache",
            ".pytest_cache",
            "node_modules",
        ),
    )
    (Path(workdir) / ".git").mkdir()
    return target


def step_lint(results):
    banner("linters")
    missing = [
        m for m in ("pylint_odoo", "ruff", "oca_pre_commit_hooks") if not python_has(m)
    ]
    if missing:
        print(
            f"missing Python packages for {PY}: {', '.join(missing)} "
            "(pip install pylint-odoo ruff oca-odoo-pre-commit-hooks)"
        )
    link_dir = run([str(TOOLS / "addons_path.sh"), "--link-dir"], check=True)[1].strip()
    lint_one(
        results,
        "pylint-odoo",
        [PY, "-m", "pylint", f"--rcfile={ADDON / '.pylintrc'}", MODULE],
        cwd=link_dir,
    )
    lint_one(
        results,
        "ruff check",
        [PY, "-m", "ruff", "check", "--no-fix", "--output-format=concise", "."],
    )
    lint_one(results, "ruff format", [PY, "-m", "ruff", "format", "--check", "."])
    with tempfile.TemporaryDirectory(prefix="sb_oca_checks_") as workdir:
        copy = module_copy(workdir)

        def rewrite(out):
            out = out.replace(str(copy) + os.sep, "")
            return re.sub(rf"(?m)^{MODULE}/", "", out)

        lint_one(
            results,
            "oca-checks-odoo-module",
            [
                PY,
                "-c",
                "import sys; from oca_pre_commit_hooks.cli import main; "
                "sys.exit(main())",
                # The conventions put the description in README.md.
                "--disable=prefer-readme-rst",
                str(copy / "__manifest__.py"),
            ],
            cwd=workdir,
            rewrite=rewrite,
        )
        po_files = sorted(
            str(p) for p in (copy / "i18n").glob("*.po*") if p.suffix in (".po", ".pot")
        )
        if po_files:
            lint_one(
                results,
                "oca-checks-po",
                [
                    PY,
                    "-c",
                    "import sys; from oca_pre_commit_hooks.cli_po import main; "
                    "sys.exit(main())",
                    "--disable=po-pretty-format",  # as OCA's pre-commit config
                    *po_files,
                ],
                cwd=workdir,
                rewrite=rewrite,
            )
        else:
            print("oca-checks-po: no i18n/*.po or *.pot file, nothing to check")


# --------------------------------------------------------------------------- #
# c) Odoo suite
# --------------------------------------------------------------------------- #
def odoo_version_problem():
    """None when PY imports Odoo 18.0, else the reason why not."""
    if os.environ.get("SB_FORCE_NO_ODOO") == "1":
        return "SB_FORCE_NO_ODOO=1"
    rc, out = run([PY, "-c", "import odoo.release as r; print(r.version)"])
    lines = out.strip().splitlines()
    if rc != 0:
        return lines[-1] if lines else f"exit code {rc}"
    version = lines[-1].strip() if lines else ""
    if not version.startswith("18.0"):
        return f"found version {version!r}"
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LogCheck:
    """Reads an Odoo log as it streams, keeps what the verdict needs."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.errors = []  # records (list of lines) at ERROR/CRITICAL
        self.warnings = []  # WARNING records of (or about) the addon
        self.summary = None  # (failed, errors, total) of odoo.tests.result
        self.test_reports = []  # ERROR records that report a failed test
        self._current = None  # lines of the record being read
        self._show = False

    def feed(self, line):
        match = LOG_RE.match(line)
        if not match:
            if self._current is not None:
                self._current.append(line)
            if self.verbose or self._show or line.startswith("SB-"):
                sys.stdout.write(line)
            return
        level, logger, msg = match["level"], match["logger"], match["msg"]
        record = [line]
        self._current = record
        ours = logger == OUR_LOGGER or logger.startswith(OUR_LOGGER + ".")
        if level in ("ERROR", "CRITICAL"):
            if self._is_test_report(logger, msg):
                self.test_reports.append(record)
            else:
                self.errors.append(record)
        elif level == "WARNING" and (ours or MODULE in msg):
            self.warnings.append(record)
        if logger == "odoo.tests.result":
            found = SUMMARY_RE.search(msg)
            if found:
                self.summary = tuple(
                    int(found[k]) for k in ("failed", "errors", "total")
                )
        self._show = self.verbose or (
            level in ("WARNING", "ERROR", "CRITICAL")
            or ours
            or logger.startswith("odoo.tests")
            or (logger == "odoo.modules.loading" and self._progress(msg))
        )
        if self._show:
            sys.stdout.write(line)

    @staticmethod
    def _progress(msg):
        """The few odoo.modules.loading lines worth showing."""
        return bool(
            re.match(
                r"(init db|\d+ modules loaded|Modules loaded|Loading module )", msg
            )
            or (MODULE in msg and not msg.startswith("loading "))
        )

    @staticmethod
    def _is_test_report(logger, msg):
        return (
            logger.startswith("odoo.tests")
            or (".tests" in logger and re.match(r"(FAIL|ERROR)\b", msg))
            or msg.startswith("At least one test failed")
        )


def run_odoo(cmd, log_path, label, timeout):
    """Run an Odoo command; its log goes to log_path and (filtered) to stdout.

    It runs in the log folder, not in the addon: `python3 -m odoo` puts its
    working directory on sys.path, where the addon's folders (lib, tests,
    tools, models...) would shadow top-level modules of the same names.
    """
    shown = [a if "\n" not in a else "<snippet>" for a in cmd]
    print(f"$ {' '.join(shown)}\n(full log: {log_path})", flush=True)
    check = LogCheck(os.environ.get("SB_VERBOSE") == "1")
    timed_out = []

    def kill():
        timed_out.append(True)
        proc.kill()

    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=Path(log_path).parent,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        watchdog = threading.Timer(timeout, kill)
        watchdog.start()
        try:
            for line in proc.stdout:
                log.write(line)
                check.feed(line)
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            watchdog.cancel()
    if timed_out:
        print(f"{label}: killed after SB_ODOO_TIMEOUT={timeout}s")
        check.errors.append([f"{label}: killed after {timeout}s (SB_ODOO_TIMEOUT)\n"])
    return rc, check


def verdict(label, rc, check, log_path, failed_tests=0):
    """Problems of an Odoo run other than its failed tests; prints the records."""
    problems = []
    if check.errors:
        problems.append(f"{len(check.errors)} ERROR/CRITICAL log record(s)")
    if check.warnings:
        problems.append(f"{len(check.warnings)} WARNING record(s) of {MODULE}")
    if check.test_reports and not failed_tests:
        problems.append("failed tests reported in the log")
    if rc != 0 and not failed_tests:
        problems.append(f"exit code {rc}")
    records = check.test_reports + check.errors + check.warnings
    if problems or records:
        print(f"--- {label}: offending log records ---")
        for record in records[:50]:
            sys.stdout.write("".join(record[:80]))
        if rc != 0 and not records:
            print(f"--- last lines of {log_path} ---")
            with open(log_path, encoding="utf-8", errors="replace") as log:
                sys.stdout.write("".join(log.readlines()[-60:]))
        print(f"--- end of {label} offending records ---")
    return problems


UNINSTALL_SNIPPET = r"""
import sys
db = sys.argv[1]
from odoo.tools import config
config.parse_config(sys.argv[2:], setup_logging=True)
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
module_name = "%(module)s"
with Registry(db).cursor() as cr:
    env = api.Environment(cr, SUPERUSER_ID, {})
    module = env["ir.module.module"].search([("name", "=", module_name)])
    if module.state != "installed":
        print(f"SB-UNINSTALL: {module_name} is {module.state!r}, not installed")
        sys.exit(3)
    module.button_immediate_uninstall()
with Registry(db).cursor() as cr:
    cr.execute("SELECT state FROM ir_module_module WHERE name = %%s", [module_name])
    state = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM ir_model_data WHERE module = %%s", [module_name])
    xmlids = cr.fetchone()[0]
print(f"SB-UNINSTALL: state={state} xmlids_left={xmlids}")
sys.exit(0 if state == "uninstalled" and not xmlids else 4)
""" % {"module": MODULE}


def step_odoo(results):
    banner("Odoo suite")
    problem = odoo_version_problem()
    if problem:
        print(f"Odoo suite SKIPPED: python3 cannot import odoo 18.0 ({problem})")
        return
    wkhtmltopdf = shutil.which("wkhtmltopdf", path=ENV.get("PATH"))
    version = run([wkhtmltopdf, "--version"])[1].strip() if wkhtmltopdf else "none"
    print(f"wkhtmltopdf: {wkhtmltopdf} ({version})")
    pg = str(TOOLS / "pg.sh")
    external = bool(os.environ.get("SB_DB_HOST"))
    keep = os.environ.get("SB_KEEP_DB") == "1"
    timeout = int(os.environ.get("SB_ODOO_TIMEOUT", "2400"))
    was_running = external or run([pg, "status"])[0] == 0
    pid = os.getpid()
    test_db, demo_db = f"sb_test_{pid}", f"sb_demo_{pid}"
    workdir = Path(tempfile.mkdtemp(prefix="sb_odoo_run_"))
    databases = []
    rows_before = len(results.rows)
    try:
        start = time.monotonic()
        rc, out = run([pg, "start"])
        print(out.rstrip())
        if rc:
            results.add("postgresql", 0, 1, time.monotonic() - start, "cannot start")
            return
        print(f"postgresql ready ({time.monotonic() - start:.1f}s)")
        addons_path = run([str(TOOLS / "addons_path.sh")], check=True)[1].strip()
        db_args = run([pg, "odoo-args"], check=True)[1].split()
        base = [
            PY,
            "-m",
            "odoo",
            f"--addons-path={addons_path}",
            *db_args,
            f"--data-dir={workdir / 'data'}",
            "--max-cron-threads=0",
            "--log-level=info",
            "--stop-after-init",
        ]

        # -- install without demo data + the addon's tests ------------------ #
        banner(f"Odoo tests ({test_db})")
        start = time.monotonic()
        tags = os.environ.get("SB_TEST_TAGS") or f"/{MODULE}"
        databases.append(test_db)
        rc, check = run_odoo(
            base
            + [
                "-d",
                test_db,
                "-i",
                MODULE,
                "--without-demo=all",
                "--test-enable",
                f"--test-tags={tags}",
                f"--http-port={free_port()}",
            ],
            workdir / f"{test_db}.log",
            "odoo tests",
            timeout,
        )
        elapsed = time.monotonic() - start
        passed = failed = 0
        problems = []
        if check.summary:
            n_failed, n_errors, total = check.summary
            failed = n_failed + n_errors
            passed = total - failed
            print(
                f"Odoo test summary: {n_failed} failed, {n_errors} error(s) "
                f"of {total} tests"
            )
            if total == 0:
                problems.append("zero Odoo tests ran (a stub is not a pass)")
        else:
            problems.append("no Odoo test summary line (odoo.tests.result)")
        problems += verdict("odoo tests", rc, check, workdir / f"{test_db}.log", failed)
        if problems:
            failed += 1
        results.add("odoo tests", passed, failed, elapsed, "; ".join(problems))

        if os.environ.get("SB_SKIP_DEMO") == "1":
            print("SB_SKIP_DEMO=1: demo install and uninstall skipped")
            return

        # -- install with demo data ------------------------------------------ #
        banner(f"Odoo install with demo data ({demo_db})")
        start = time.monotonic()
        databases.append(demo_db)
        rc, check = run_odoo(
            base + ["-d", demo_db, "-i", MODULE, f"--http-port={free_port()}"],
            workdir / f"{demo_db}.log",
            "install with demo",
            timeout,
        )
        problems = verdict("install with demo", rc, check, workdir / f"{demo_db}.log")
        installed = rc == 0 and not problems
        results.add(
            "install with demo",
            int(not problems),
            int(bool(problems)),
            time.monotonic() - start,
            "; ".join(problems),
        )

        # -- uninstall --------------------------------------------------------- #
        banner(f"Odoo uninstall ({demo_db})")
        start = time.monotonic()
        if (
            not installed
            and run(
                [
                    pg,
                    "psql",
                    "-d",
                    demo_db,
                    "-tAc",
                    f"SELECT 1 FROM ir_module_module WHERE name='{MODULE}' "
                    "AND state='installed'",
                ]
            )[1].strip()
            != "1"
        ):
            results.add("uninstall", 0, 1, 0, "module not installed, cannot uninstall")
            return
        config_args = [a for a in base[3:] if a != "--stop-after-init"]
        rc, check = run_odoo(
            [PY, "-c", UNINSTALL_SNIPPET, demo_db, *config_args],
            workdir / f"{demo_db}_uninstall.log",
            "uninstall",
            timeout,
        )
        problems = verdict("uninstall", rc, check, workdir / f"{demo_db}_uninstall.log")
        results.add(
            "uninstall",
            int(not problems),
            int(bool(problems)),
            time.monotonic() - start,
            "; ".join(problems),
        )
    finally:
        banner("Odoo suite cleanup")
        if keep:
            print(
                f"SB_KEEP_DB=1: kept databases {', '.join(databases) or '-'}, "
                f"logs and filestore in {workdir}; PostgreSQL left running"
            )
        else:
            if databases:
                rc, out = run([pg, "dropdb", *databases])
                print(out.rstrip() or f"dropped {', '.join(databases)}")
            if any(row[2] for row in results.rows[rows_before:]):
                shutil.rmtree(workdir / "data", ignore_errors=True)
                print(f"Odoo logs kept in {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)
                print("all green: Odoo logs removed (SB_KEEP_DB=1 keeps them)")
            if not was_running:
                print(run([pg, "stop"])[1].rstrip())
            else:
                print("PostgreSQL was already running before the tests: left running")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        default=",".join(STEPS),
        help=f"comma-separated steps among {', '.join(STEPS)} (default: all)",
    )
    args = parser.parse_args()
    steps = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(steps) - set(STEPS)
    if unknown:
        parser.error(f"unknown step(s): {', '.join(sorted(unknown))}")
    print(f"addon: {ADDON}\npython: {PY}", flush=True)
    results = Results()
    started = time.monotonic()
    try:
        if "pytest" in steps:
            step_pytest(results)
        if "lint" in steps:
            step_lint(results)
        if "odoo" in steps:
            step_odoo(results)
    except KeyboardInterrupt:
        results.add("interrupted", 0, 1, 0)
    except Exception as exc:  # reported as a failure, not a crash
        import traceback

        traceback.print_exc()
        results.add("runner error", 0, 1, 0, repr(exc))
    banner(f"summary ({time.monotonic() - started:.0f}s)")
    for name, passed, failed, seconds, note in results.rows:
        flag = "FAIL" if failed else "ok"
        print(
            f"  {flag:4} {name:24} {passed:4} passed {failed:3} failed "
            f"{seconds:7.1f}s  {note}"
        )
    print(f"{results.passed} passed, {results.failed} failed", flush=True)
    return 1 if results.failed else 0


if __name__ == "__main__":
    sys.exit(main())
