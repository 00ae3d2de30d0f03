#!/usr/bin/env python3
"""Screenshots of a running Odoo for static/description, with headless Chromium.

    tools/screenshots.py URL LOGIN PASSWORD OUT.png [WIDTHxHEIGHT] [LANG]

Logs in through /web/session/authenticate, hands the session cookie to a
headless Chromium over the DevTools protocol, opens URL, waits for the page to
settle and saves a PNG of the whole page (clipped to HEIGHT). Needs `requests`
and `websocket-client` (both in Odoo's requirements or its test tools).
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

import requests
import websocket


def login(base, db, login, password, lang=None):
    session = requests.Session()
    response = session.post(
        f"{base}/web/session/authenticate",
        json={"params": {"db": db, "login": login, "password": password}},
        timeout=60,
    )
    response.raise_for_status()
    if lang:
        session.post(
            f"{base}/web/dataset/call_kw/res.users/write",
            json={
                "params": {
                    "model": "res.users",
                    "method": "write",
                    "args": [[response.json()["result"]["uid"]], {"lang": lang}],
                    "kwargs": {},
                }
            },
            timeout=60,
        )
        # A new session picks the language up.
        session = requests.Session()
        session.post(
            f"{base}/web/session/authenticate",
            json={"params": {"db": db, "login": login, "password": password}},
            timeout=60,
        ).raise_for_status()
    return session.cookies.get("session_id")


def shoot(url, session_id, out, width, height, port=9333):
    profile = tempfile.mkdtemp(prefix="sb_chromium_")
    chrome = subprocess.Popen(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--hide-scrollbars",
            f"--remote-debugging-port={port}",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _attempt in range(50):
            try:
                targets = requests.get(
                    f"http://127.0.0.1:{port}/json", timeout=2
                ).json()
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        page = next(t for t in targets if t["type"] == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        counter = iter(range(1, 10**6))

        def call(method, **params):
            ident = next(counter)
            ws.send(json.dumps({"id": ident, "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == ident:
                    return message.get("result", {})

        host = urlsplit(url).hostname
        call("Network.enable")
        call(
            "Network.setCookie",
            name="session_id",
            value=session_id,
            domain=host,
            path="/",
        )
        call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        call("Page.enable")
        call("Page.navigate", url=url)
        # the web client loads its views after the page itself
        time.sleep(float(os.environ.get("SB_SHOT_WAIT", "8")))
        data = call("Page.captureScreenshot", format="png")["data"]
        with open(out, "wb") as handle:
            handle.write(base64.b64decode(data))
        ws.close()
    finally:
        chrome.terminate()
        chrome.wait()


def main():
    url, user, password, out = sys.argv[1:5]
    size = sys.argv[5] if len(sys.argv) > 5 else "1400x900"
    lang = sys.argv[6] if len(sys.argv) > 6 else None
    width, height = (int(x) for x in size.split("x"))
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    db = requests.post(
        f"{base}/web/database/list", json={"params": {}}, timeout=30
    ).json()["result"][0]
    shoot(url, login(base, db, user, password, lang), out, width, height)


if __name__ == "__main__":
    main()
