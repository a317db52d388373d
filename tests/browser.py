"""A headless Chromium page driven over the DevTools protocol (with the `websockets`
client the WebSocket tests use): load a page as a signed-in user, run script in it, read
values back. For what only a browser shows: layout widths, what script hides."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.servers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT = 30


class Page:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self._ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        await self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            if message.get("id") == message_id:
                assert "error" not in message, message
                return message.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def open(self, url: str) -> None:
        await self.call("Page.navigate", url=url)
        deadline = time.monotonic() + TIMEOUT
        while await self.evaluate("document.readyState") != "complete":
            assert time.monotonic() < deadline, f"{url} did not load"
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def chromium_page(*, width: int, cookies: dict[str, str], host: str) -> AsyncIterator[Page]:
    assert CHROMIUM is not None
    port = free_port()
    profile = tempfile.mkdtemp(prefix="chromium-")
    browser = subprocess.Popen(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}",
            f"--window-size={width},900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json", timeout=2) as r:
                    target = next(t for t in json.load(r) if t["type"] == "page")
                break
            except (OSError, StopIteration):
                assert time.monotonic() < deadline, "Chromium did not start"
                await asyncio.sleep(0.1)
        async with connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
            page = Page(ws)
            await page.call("Network.enable")
            for name, value in cookies.items():
                await page.call("Network.setCookie", name=name, value=value, domain=host, path="/")
            await page.call(
                "Emulation.setDeviceMetricsOverride",
                width=width,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            yield page
    finally:
        browser.terminate()
        browser.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)
