"""The settings fail loudly, in one line naming the variable, on what they cannot use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_refuses_to_run_without_a_secret_key_when_debug_is_off():
    result = manage_check()

    assert result.returncode != 0
    assert result.stderr.strip() == (
        "Configuration error: SECRET_KEY is required when DEBUG is off "
        "(set SECRET_KEY, or DEBUG=true for local development)."
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TIMER_INTERVAL_SECONDS", "abc", "TIMER_INTERVAL_SECONDS must be a number, got 'abc'"),
        ("LEADERBOARD_TOP_N", "0", "LEADERBOARD_TOP_N must be >= 1, got 0"),
        ("DEBUG", "maybe", "DEBUG must be one of true/false/1/0/yes/no/on/off"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL must be one of DEBUG, INFO, WARNING"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL must be a postgres:// or sqlite:/// URL"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be one of text, json, got 'xml'"),
        (
            "PROMETHEUS_MULTIPROC_DIR",
            "metrics-data",
            "PROMETHEUS_MULTIPROC_DIR must be an absolute path",
        ),
    ],
)
def test_it_names_the_variable_it_cannot_parse(variable, value, message):
    result = manage_check(**{"SECRET_KEY": "x" * 40, variable: value})

    assert result.returncode != 0
    assert result.stderr.startswith(f"Configuration error: {message}")
    assert "Traceback" not in result.stderr


def test_it_runs_with_debug_and_no_secret_key():
    result = manage_check(DEBUG="true", DATABASE_URL="sqlite:////tmp/settings-check.sqlite3")

    assert result.returncode == 0, result.stderr


def test_it_reads_the_local_settings_file_and_the_environment_wins_over_it(tmp_path):
    env_file = tmp_path / "local.env"
    env_file.write_text("DEBUG=true\nLEADERBOARD_TOP_N=0\n")
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"

    from_file = manage_check(ENV_FILE=str(env_file), DATABASE_URL=database)
    overridden = manage_check(ENV_FILE=str(env_file), DATABASE_URL=database, LEADERBOARD_TOP_N="5")
    ignored = manage_check(ENV_FILE="", DATABASE_URL=database, LEADERBOARD_TOP_N="5")

    assert "LEADERBOARD_TOP_N must be >= 1, got 0" in from_file.stderr
    assert overridden.returncode == 0, overridden.stderr
    assert "SECRET_KEY is required" in ignored.stderr


def test_every_variable_the_settings_read_is_in_the_readme_table():
    source = (ROOT / "contestsite" / "settings.py").read_text()
    read = set(re.findall(r'env_[a-z]+\(\s*"([A-Z0-9_]+)"', source))
    rows = [
        line.split("|")[1]
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("| `")
    ]
    # A row may name two variables ("`TEST_DATABASE_URL`, `TEST_REDIS_URL`").
    listed = {name for row in rows for name in re.findall(r"`([A-Z0-9_]+)`", row)}
    assert read, "no variables found: the settings' helpers changed"
    assert sorted(read - listed) == []
