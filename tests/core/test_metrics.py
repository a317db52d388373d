"""GET /metrics and the figures that move inside one process (the socket figures move under
real sockets: tests/realtime/test_metrics.py)."""

from __future__ import annotations

import subprocess
import urllib.request
from pathlib import Path

import pytest
from django.db import transaction
from prometheus_client.parser import text_string_to_metric_families

from contests import tasks
from contests.services import contest_end_now, contest_start
from tests.factories import contest_with_questions
from tests.servers import BIN, ROOT, WebServer, child_env

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

# The families every process defines at start; the labelled ones appear with their first
# label value (docs/OPERATIONS.md lists them all).
UNLABELLED = [
    "contest_ws_connections",
    "contest_submission_seconds",
    "contest_broadcast_seconds",
    "contest_channel_layer_failures",
    "contest_tick_seconds",
]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def scrape(client) -> Samples:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return parse(response.content.decode())


def test_it_serves_the_prometheus_text_format_without_authentication(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert set(UNLABELLED) <= families


def test_with_a_token_it_serves_only_the_bearer_of_that_token(client, settings):
    settings.METRICS_TOKEN = "scrape-me-please"

    refused = client.get("/metrics")
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    served = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me-please")

    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["code"] == "NOT_AUTHENTICATED"
    assert served.status_code == 200


def test_it_takes_only_get(client):
    assert client.post("/metrics").status_code == 405


@pytest.mark.django_db(transaction=True)
def test_transitions_are_counted_by_kind_once_they_commit(client):
    before = scrape(client)
    contest = contest_with_questions(questions=2)

    contest_start(contest_id=contest.pk)
    contest_end_now(contest_id=contest.pk)

    after = scrape(client)
    for kind, count in [("start", 1), ("question_open", 1), ("question_close", 1), ("complete", 1)]:
        moved = value(after, "contest_transitions_total", kind=kind) - value(
            before, "contest_transitions_total", kind=kind
        )
        assert moved == count, kind


@pytest.mark.django_db(transaction=True)
def test_a_transition_rolled_back_is_not_counted(client):
    contest = contest_with_questions(questions=1)
    before = value(scrape(client), "contest_transitions_total", kind="start")

    with pytest.raises(RuntimeError), transaction.atomic():
        contest_start(contest_id=contest.pk)
        raise RuntimeError("rolled back")

    assert value(scrape(client), "contest_transitions_total", kind="start") == before


@pytest.mark.django_db
def test_each_tick_is_timed(client):
    before = value(scrape(client), "contest_tick_seconds_count")

    tasks.contest_tick()

    assert value(scrape(client), "contest_tick_seconds_count") == before + 1


INCREMENT = "from core import metrics; metrics.channel_layer_failed()"


def test_a_new_start_of_the_stack_wipes_the_figures_of_the_last_one(tmp_path: Path):
    """A process that finds no live writer in PROMETHEUS_MULTIPROC_DIR starts from zero."""
    env = child_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    for _ in range(2):
        done = subprocess.run(
            [str(BIN / "python"), "manage.py", "shell", "-c", INCREMENT],
            cwd=ROOT,
            env=env,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert list(tmp_path.glob("counter_*.db"))

    server = WebServer(env).start()
    try:
        with urllib.request.urlopen(f"{server.http_url}/metrics", timeout=10) as response:
            samples = parse(response.read().decode())
    finally:
        server.stop()

    assert value(samples, "contest_channel_layer_failures_total") == 0


def families() -> list[str]:
    """Every family core.metrics defines, as exposed (counters with _total)."""
    from prometheus_client import Counter

    from core import metrics

    defined = [value for value in vars(metrics).values() if hasattr(value, "_name")]
    return sorted(
        f"{family._name}_total" if isinstance(family, Counter) else family._name
        for family in defined
        if family._name.startswith("contest_")
    )


def test_every_family_is_documented_and_on_the_dashboard():
    operations = (ROOT / "docs" / "OPERATIONS.md").read_text()
    dashboard = (ROOT / "docs" / "grafana-dashboard.json").read_text()

    assert len(families()) == 11
    for name in families():
        assert f"| `{name}` |" in operations, name
        assert name in dashboard, name
