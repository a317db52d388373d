"""Fixtures of the browser tests: Debian's Chromium through Playwright, and the whole
site (uvicorn, a Celery worker and beat) for the pages to talk to."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.servers import ServiceProcess, WebServer, celery_beat, celery_worker, child_env
from tests.web.browser import CHROMIUM_ARGS, INSTALL_HINT, WAIT_MS

# Short enough that the clock moves quickly; the pages must not care.
SITE_ENV = {
    "TIMER_INTERVAL_SECONDS": "0.5",
    "LEADERBOARD_INTERVAL_SECONDS": "1",
    # The shortest lifetime the settings allow: any player who plays a while must go
    # through the client's token refresh.
    "JWT_ACCESS_LIFETIME_SECONDS": "10",
}


@dataclass
class Site:
    server: WebServer

    @property
    def url(self) -> str:
        return self.server.http_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    expect.set_options(timeout=WAIT_MS)
    # Playwright's sync API keeps an event loop running in this thread, which Django's
    # ORM takes for an async context; the tests' own queries are plain sync code.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker) -> Iterator[Site]:
    """One web process, worker and beat for the module: each test plays its own contest."""
    from core.redis import get_redis

    with django_db_blocker.unblock():
        client = get_redis()
        if client is not None:
            client.flushdb()
        env = child_env(**SITE_ENV)
        processes: list[ServiceProcess] = []
        try:
            server = WebServer(env)
            processes.append(server)
            worker = celery_worker(env)
            processes.append(worker)
            beat = celery_beat(env)
            processes.append(beat)
            for process in processes:
                process.start()
            worker.wait_for_output(" ready.", timeout=60)
            yield Site(server)
        finally:
            for process in processes:
                process.stop()
