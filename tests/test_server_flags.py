"""The web server runs with the same flags in the Procfile, under `make run` and in the
tests (tests/servers.py), so what the tests prove is what production runs."""

from __future__ import annotations

import re
import shlex

from tests.servers import ROOT, UVICORN_FLAGS

# Where each one listens differs on purpose.
PLACE = {"--host", "--port", "--workers"}
APP = "contestsite.asgi:application"


def options(words: list[str]) -> dict[str, str | None]:
    """`--name value`, `--name=value` and bare `--flag` words as one mapping."""
    found: dict[str, str | None] = {}
    words = [w for w in words if w != APP]
    for i, word in enumerate(words):
        if not word.startswith("--"):
            continue
        name, _, value = word.partition("=")
        if not value and i + 1 < len(words) and not words[i + 1].startswith("--"):
            value = words[i + 1]
        found[name] = value or None
    return {name: value for name, value in found.items() if name not in PLACE}


def test_the_procfile_make_run_and_the_tests_start_uvicorn_with_the_same_flags():
    procfile = (ROOT / "Procfile").read_text()
    (web,) = [line for line in procfile.splitlines() if line.startswith("web:")]
    makefile = (ROOT / "Makefile").read_text()
    make_flags = re.search(r"^UVICORN_FLAGS := (.*?)\n\n", makefile, re.M | re.S)
    assert make_flags is not None
    tests = options(UVICORN_FLAGS)

    assert shlex.split(web)[1] == "uvicorn"
    assert options(shlex.split(web)[2:]) == tests
    assert options(shlex.split(make_flags.group(1).replace("\\\n", " "))) == tests
    assert tests["--ws"] == "websockets-sansio"  # the protocol realtime/uvicorn_compat.py adapts
