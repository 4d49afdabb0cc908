"""A minimal Chrome DevTools Protocol driver for the report's browser test (websocket-client only).

Starts the system Chromium headless with a throw-away profile, opens one page and records what the
page did: network requests, console messages, exceptions, log entries (CSP violations land there),
JavaScript dialogs and parsed scripts. No browser download, no Playwright.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PageLog", "load_page"]


@dataclass
class PageLog:
    """Everything the page did while loading, plus the driver's probes afterwards."""

    requests: list[str] = field(default_factory=list)
    console: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    log_entries: list[dict[str, Any]] = field(default_factory=list)
    dialogs: list[dict[str, Any]] = field(default_factory=list)
    scripts: list[dict[str, Any]] = field(default_factory=list)
    title: str = ""
    script_elements: int = -1
    probes: dict[str, Any] = field(default_factory=dict)
    actions: list[Any] = field(default_factory=list)


class _Session:
    def __init__(self, url: str) -> None:
        import websocket

        self._ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._next += 1
        self._ws.settimeout(120)  # wait_for/drain shorten it; printing a long page can take a while
        self._ws.send(json.dumps({"id": self._next, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") == self._next:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout}s")
            self._ws.settimeout(max(deadline - time.monotonic(), 0.05))
            self.events.append(json.loads(self._ws.recv()))

    def drain(self, seconds: float) -> None:
        import websocket

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._ws.settimeout(max(deadline - time.monotonic(), 0.05))
            try:
                self.events.append(json.loads(self._ws.recv()))
            except websocket.WebSocketTimeoutException:
                break

    def close(self) -> None:
        self._ws.close()


def load_page(*, chromium: Path, page: Path, screenshot: Path | None = None, pdf: Path | None = None,
              width: int = 1280, height: int = 1600, sections: Mapping[str, Path] | None = None,
              actions: Sequence[str] = (), print_screenshot: Path | None = None) -> PageLog:
    """Open ``page`` (a local file) in headless Chromium and return what happened.

    ``sections`` maps CSS selectors to PNG paths: each gets a ``width`` × ``height`` screenshot starting at
    the element's top. ``actions`` are JavaScript expressions evaluated after the load and the probes
    (e.g. clicking a sort button); their results are in ``PageLog.actions``. ``print_screenshot`` is a
    screenshot of the page's top under the print stylesheet (``@media print``), as "Save as PDF" lays it out.
    """
    # Chromium's helper processes may still be writing to the profile as it exits: never fail on cleanup.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [str(chromium), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             "--disable-default-apps", "--host-resolver-rules=MAP * ~NOTFOUND", f"--user-data-dir={profile}",
             "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            start_new_session=True,  # its own process group, so the helpers are stopped with it
        )
        try:
            port = _devtools_port(proc)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
                targets = json.load(response)
            target = next(t for t in targets if t.get("type") == "page")
            session = _Session(target["webSocketDebuggerUrl"])
            try:
                return _drive(session, page=page, screenshot=screenshot, pdf=pdf, width=width, height=height,
                              sections=sections or {}, actions=actions, print_screenshot=print_screenshot)
            finally:
                session.close()
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop Chromium and every helper process it started (renderer, GPU, crashpad)."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the main process
    except ProcessLookupError:
        pass


def _devtools_port(proc: subprocess.Popen) -> int:
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    seen = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        match = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if match:
            return int(match.group(1))
    raise RuntimeError("chromium did not start its DevTools server:\n" + "".join(seen[-20:]))


def _drive(session: _Session, *, page: Path, screenshot: Path | None, pdf: Path | None, width: int,
           height: int, sections: Mapping[str, Path], actions: Sequence[str],
           print_screenshot: Path | None = None) -> PageLog:
    for domain in ("Page", "Network", "Runtime", "Log", "Debugger"):
        session.call(f"{domain}.enable")
    session.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
    session.events.clear()
    session.call("Page.navigate", url=page.resolve().as_uri())
    session.wait_for("Page.loadEventFired", timeout=30)
    session.drain(1.0)
    log = PageLog()
    # Snapshot the page's own events before the driver evaluates anything (evaluations parse scripts too).
    for event in session.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Network.requestWillBeSent":
            log.requests.append(params["request"]["url"])
        elif method == "Runtime.consoleAPICalled":
            log.console.append(params)
        elif method == "Runtime.exceptionThrown":
            log.exceptions.append(params)
        elif method == "Log.entryAdded":
            log.log_entries.append(params["entry"])
        elif method == "Page.javascriptDialogOpening":
            log.dialogs.append(params)
        elif method == "Debugger.scriptParsed":
            log.scripts.append(params)
    session.call("Debugger.disable")

    def evaluate(expression: str) -> Any:
        return session.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    log.title = evaluate("document.title")
    log.script_elements = evaluate("document.getElementsByTagName('script').length")
    log.probes = {
        "svg": evaluate("document.querySelectorAll('svg[role=img]').length"),
        "details": evaluate("document.querySelectorAll('details').length"),
        "iframes": evaluate("document.getElementsByTagName('iframe').length"),
        "imgs": evaluate("document.getElementsByTagName('img').length"),
        "onerror_attrs": evaluate("document.querySelectorAll('[onerror]').length"),
        "csp": evaluate("document.querySelector('meta[http-equiv=Content-Security-Policy]').content"),
        "style_applied": evaluate("getComputedStyle(document.querySelector('.masthead')).backgroundColor"),
        "body_text": evaluate("document.body.innerText"),
    }
    if screenshot is not None:
        shot = session.call("Page.captureScreenshot", format="png",
                            clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
    for selector, path in sections.items():
        top = evaluate(f"document.querySelector({json.dumps(selector)}).getBoundingClientRect().top + window.scrollY")
        shot = session.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": top, "width": width, "height": height, "scale": 1})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
    if print_screenshot is not None:
        session.call("Emulation.setEmulatedMedia", media="print")
        # A4 at 96 dpi less the page margins: about 700 px of text width
        session.call("Emulation.setDeviceMetricsOverride", width=720, height=1000, deviceScaleFactor=1, mobile=False)
        shot = session.call("Page.captureScreenshot", format="png",
                            clip={"x": 0, "y": 0, "width": 720, "height": 1000, "scale": 1})
        print_screenshot.parent.mkdir(parents=True, exist_ok=True)
        print_screenshot.write_bytes(base64.b64decode(shot["data"]))
        session.call("Emulation.setEmulatedMedia", media="")
        session.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                     mobile=False)
    log.actions = [evaluate(expression) for expression in actions]
    if pdf is not None:
        printed = session.call("Page.printToPDF", printBackground=True, preferCSSPageSize=True)
        pdf.parent.mkdir(parents=True, exist_ok=True)
        pdf.write_bytes(base64.b64decode(printed["data"]))
    return log
