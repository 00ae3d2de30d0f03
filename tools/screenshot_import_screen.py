#!/usr/bin/env python3
"""Screenshot of the Contracts import screen with its templates (README).

Needs a running Odoo with the addon (URL, login admin/admin by default), the
Debian chromium and websocket-client:

    python3 tools/screenshot_import_screen.py http://localhost:8069 \\
        static/description/import_contracts.png [--lang fr_FR] [--file book.csv]
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def rpc_login(url, db, login, password):
    payload = json.dumps(
        {"jsonrpc": "2.0", "params": {"db": db, "login": login, "password": password}}
    ).encode()
    request = urllib.request.Request(
        f"{url}/web/session/authenticate",
        data=payload,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        cookie = response.headers.get("Set-Cookie", "")
        body = json.loads(response.read())
    if body.get("error"):
        raise SystemExit(body["error"])
    return cookie.split("session_id=", 1)[1].split(";", 1)[0]


class Browser:
    def __init__(self, width=1400, height=900):
        self.profile = tempfile.mkdtemp()
        port = 9300 + os.getpid() % 500
        self.proc = subprocess.Popen(
            [
                "chromium",
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                f"--window-size={width},{height}",
                f"--remote-debugging-port={port}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _attempt in range(50):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json") as r:
                    pages = [p for p in json.loads(r.read()) if p["type"] == "page"]
                if pages:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"])
        self.counter = 0

    def call(self, method, **params):
        self.counter += 1
        self.ws.send(
            json.dumps({"id": self.counter, "method": method, "params": params})
        )
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.counter:
                return message.get("result", {})

    def js(self, code):
        result = self.call("Runtime.evaluate", expression=code, awaitPromise=True)
        return result.get("result", {}).get("value")

    def wait(self, code, timeout=30):
        end = time.time() + timeout
        while time.time() < end:
            if self.js(code):
                return True
            time.sleep(0.3)
        raise SystemExit(f"timeout waiting for {code}")

    def close(self):
        self.ws.close()
        self.proc.terminate()
        self.proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("output")
    parser.add_argument("--db", default=None)
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--lang", default=None)
    parser.add_argument("--file", default=None, help="a file to load in the screen")
    parser.add_argument("--test", action="store_true", help="then click Test")
    args = parser.parse_args()
    session = rpc_login(args.url, args.db, args.login, args.password)
    browser = Browser()
    try:
        host = args.url.split("//", 1)[1].split(":")[0].split("/")[0]
        browser.call("Network.enable")
        browser.call(
            "Network.setCookie", name="session_id", value=session, domain=host, path="/"
        )
        browser.call(
            "Page.navigate",
            url=f"{args.url}/odoo/action-subscription_billing.subscription_contract_action",
        )
        browser.wait("!!document.querySelector('.o_list_view, .o_kanban_view')")
        time.sleep(1)
        browser.js(
            "document.querySelector('.o_cp_action_menus .dropdown-toggle, "
            ".o_control_panel_breadcrumbs_actions .dropdown-toggle').click()"
        )
        time.sleep(1)
        browser.js(
            "[...document.querySelectorAll('.dropdown-item, .o-dropdown-item')]"
            ".find(e => /Import|Importer/.test(e.textContent)).click()"
        )
        browser.wait("!!document.querySelector('.o_import_action')")
        time.sleep(1.5)
        if args.file:
            browser.call("DOM.enable")
            root = browser.call("DOM.getDocument")["root"]["nodeId"]
            node = browser.call(
                "DOM.querySelector", nodeId=root, selector="input[type=file]"
            )["nodeId"]
            browser.call(
                "DOM.setFileInputFiles", nodeId=node, files=[os.path.abspath(args.file)]
            )
            browser.wait("!!document.querySelector('.o_import_data_content')")
            time.sleep(2)
        if args.file and args.test:
            browser.js(
                "[...document.querySelectorAll('button')]"
                ".find(b => /^(Test|Tester)$/.test(b.textContent.trim())).click()"
            )
            browser.wait(
                "!!document.querySelector('.o_import_action .alert, .o_notification')"
            )
            time.sleep(2)
        shot = browser.call("Page.captureScreenshot", format="png")
        with open(args.output, "wb") as out:
            out.write(base64.b64decode(shot["data"]))
        print("written", args.output)
    finally:
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
