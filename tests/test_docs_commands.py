"""The commands the README and the docs print run as printed: the production quick start
(honcho, PostgreSQL, Redis) and, after `make run`, every `manage.py` line.

Only what cannot be shared with other people's runs on this machine is changed, and each
change is checked to have happened: the database name, the Redis database and the ports;
the Redis key prefix comes from the environment (the block does not set it).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from core.redis import get_redis
from tests.servers import ROOT, free_port

pytestmark = pytest.mark.e2e

README = (ROOT / "README.md").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, flags=re.DOTALL)


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n#", start + len(heading))
    return text[start : end if end >= 0 else None]


def replaced(text: str, old: str, new: str) -> str:
    assert old in text, f"{old!r} is no longer in the README's block"
    return text.replace(old, new)


QUICKSTART_PREFIX = f"{settings.REDIS_KEY_PREFIX}-quickstart"


def base_env() -> dict[str, str]:
    """This machine's environment without the test run's settings: what a newcomer's
    shell has."""
    ours = {
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "ENV_FILE",
        "PORT",
        "DJANGO_SETTINGS_MODULE",
        "PROMETHEUS_MULTIPROC_DIR",
        "LOG_FORMAT",
    }
    env = {k: v for k, v in os.environ.items() if k not in ours and not k.startswith("TEST_")}
    # Not changed by the block: its Redis keys stay apart from everyone else's.
    env["REDIS_KEY_PREFIX"] = QUICKSTART_PREFIX
    return env


def wait_for_url(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def metric(url: str, name: str) -> float:
    with urllib.request.urlopen(url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(f"{name} "):
                return float(line.split()[1])
    return 0.0


@pytest.fixture
def quickstart_database() -> Iterator[str]:
    name = f"{settings.DATABASES['default']['TEST'].get('NAME') or 'test_contests'}_quickstart"
    dropdb = ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", name]
    subprocess.run(dropdb, check=True, timeout=60)
    yield name
    subprocess.run(dropdb, check=True, timeout=60)
    client = get_redis()
    assert client is not None
    keys = list(client.scan_iter(f"{QUICKSTART_PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.mark.django_db
def test_the_production_quick_start_works_as_printed(quickstart_database: str, tmp_path: Path):
    setup, check = code_blocks(section(README, "### The full production stack"))[:2]
    port = str(free_port())
    redis_db = settings.REDIS_URL.rsplit("/", 1)[1]
    metrics_dir = tmp_path / "metrics-data"
    setup = replaced(setup, "5432/contests", f"5432/{quickstart_database}")
    setup = replaced(setup, "-U postgres contests", f"-U postgres {quickstart_database}")
    setup = replaced(setup, "6379/0", f"6379/{redis_db}")
    setup = replaced(setup, "PORT=8000", f"PORT={port}")
    setup = replaced(setup, '"$PWD/metrics-data"', str(metrics_dir))
    check = replaced(check, "localhost:8000", f"localhost:{port}")
    log = tmp_path / "honcho.log"

    with log.open("wb") as output:
        stack = subprocess.Popen(
            ["bash", "-e", "-c", setup],
            cwd=ROOT,
            env=base_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        try:
            wait_for_url(f"http://localhost:{port}/api/health/")
        except OSError:
            pytest.fail(f"The stack did not serve:\n{log.read_text()[-4000:]}")
        checked = subprocess.run(
            ["bash", "-e", "-c", check],
            cwd=ROOT,
            env=base_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        # The worker's figures reach the web process's /metrics (a shared folder).
        deadline = time.monotonic() + 30
        metrics_url = f"http://localhost:{port}/metrics"
        while metric(metrics_url, "contest_tick_seconds_count") == 0:
            assert time.monotonic() < deadline, "no tick of the worker on /metrics"
            time.sleep(0.2)
        bad_host = urllib.request.Request(f"http://localhost:{port}/api/health/")
        bad_host.add_header("Host", "elsewhere.example.org")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad_host, timeout=10)
    finally:
        os.killpg(stack.pid, signal.SIGTERM)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait(timeout=10)

    assert checked.returncode == 0, checked.stderr
    # curl -s adds no newline: two JSON documents, then the metrics line.
    decoder = json.JSONDecoder()
    health, end = decoder.raw_decode(checked.stdout)
    token, end = decoder.raw_decode(checked.stdout, end)
    assert health == {"database": "ok", "redis": "ok"}
    assert set(token) == {"access", "refresh"}
    assert checked.stdout[end:].startswith("contest_ws_connections ")
    assert refused.value.code == 400
    assert json.loads(refused.value.read())["code"] == "DISALLOWED_HOST"
    web = [
        line.split(" | ", 1)[1]
        for line in log.read_text().splitlines()
        if re.match(r"^\S+ web\.1\s+\| ", line)
    ]
    assert web, log.read_text()[-4000:]
    assert all(json.loads(line) for line in web)


def manage_py_lines(path: Path) -> list[str]:
    """The runnable `.venv/bin/python manage.py` lines of a document, in order: whole lines
    of its shell blocks, and commands in its text."""
    text = path.read_text()
    lines = [
        line.split("  #")[0].strip()
        for block in code_blocks(text)
        for line in block.splitlines()
        if ".venv/bin/python manage.py" in line
    ]
    lines += [
        command
        for command in re.findall(r"`(\.venv/bin/python manage\.py [^`]+)`", text)
        if "…" not in command  # a pattern, not a command
    ]
    return lines


ANSWER = "pick-a-long-passphrase-9"


def copy_of_the_project(target: Path) -> Path:
    """The project's files as a fresh clone has them (same mtimes, so make sees the
    virtualenv as up to date), with this run's virtualenv."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = ROOT / name.decode()
        if source.is_file():
            destination = target / name.decode()
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def test_after_make_run_every_manage_py_line_of_the_docs_works_as_printed(tmp_path: Path):
    project = copy_of_the_project(tmp_path / "project")
    port = free_port()
    env = {k: v for k, v in base_env().items() if k != "REDIS_KEY_PREFIX"}
    env.update(PORT=str(port), VENV=str(ROOT / ".venv"))
    server = subprocess.Popen(
        ["make", "run"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_url(f"http://127.0.0.1:{port}/api/health/")
        assert "DEBUG=true" in (project / ".env").read_text()
        ran = []
        for document in DOCS:
            lines = manage_py_lines(document)
            if not lines:
                continue
            done = subprocess.run(
                ["bash", "-e", "-c", "\n".join(lines)],
                cwd=project,
                env=env,
                # For a command that asks (createorganizer without flags).
                input=f"oscar\n{ANSWER}\n{ANSWER}\n",
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, (document.name, lines, done.stderr[-3000:])
            ran += lines
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    printed = " ".join(ran)
    for command in ("seed_demo", "import_contest", "export_contest", "createorganizer"):
        assert f"manage.py {command}" in printed, command
