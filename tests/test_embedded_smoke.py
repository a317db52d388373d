"""The embedded default: uvicorn on SQLite with no REDIS_URL (what `make run` serves) plays a
scheduled contest to its end with nothing but Python: the clock runs inside the server.
The contest has the default rules: grades revealed when a question closes, and a question
closing as soon as everyone in the room answered (the one player here)."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.contests.test_clock_e2e import RECEIVE_TIMEOUT, Player
from tests.servers import BIN, ROOT, WebServer, child_env

pytestmark = pytest.mark.e2e

CREATE = """
import json
from datetime import timedelta
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken
from accounts.models import User
from contests.services import contest_create

organizer = User.objects.create_user("organizer", is_staff=True)
player = User.objects.create_user("player", display_name="Solo")
question = {
    "type": "single_choice", "text": "Pick A", "time_limit_seconds": 5,
    "choices": [{"text": "A", "is_correct": True}, {"text": "B", "is_correct": False}],
}
contest = contest_create(
    data={
        "title": "Embedded", "intermission_seconds": 1,
        "start_time": timezone.now() + timedelta(hours=1),
        "questions": [question, dict(question, text="Pick A again")],
    },
    created_by=organizer,
)
print(json.dumps({"contest": str(contest.pk), "token": str(AccessToken.for_user(player))}))
"""

START_SOON = """
from datetime import timedelta
from django.utils import timezone
from contests.models import Contest
Contest.objects.update(start_time=timezone.now() + timedelta(seconds=1))
"""

RESULT = """
import json
from contests.models import Contest
from leaderboard.models import FinalStanding
contest = Contest.objects.get()
standings = FinalStanding.objects.filter(contest=contest)
print(json.dumps({"status": contest.status, "standings": [[s.rank, s.score] for s in standings]}))
"""


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout


def test_make_run_plays_a_scheduled_contest_without_redis(tmp_path: Path):
    env = child_env(DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", REDIS_URL=None)
    manage(env, "migrate", "--noinput")
    created = json.loads(manage(env, "shell", "-c", CREATE).strip().splitlines()[-1])
    server = WebServer(env).start()
    # The player answers after the first tick of each question: the one answer closes the
    # question at once, which could otherwise come before the clock's first tick.
    player = Player(server.ws_url, created["token"], "A", after_tick=True)

    async def scenario() -> None:
        game = asyncio.create_task(player.play(created["contest"]))
        await asyncio.wait_for(player.joined.wait(), RECEIVE_TIMEOUT)
        await asyncio.to_thread(manage, env, "shell", "-c", START_SOON)
        await asyncio.wait_for(game, timeout=90)

    try:
        asyncio.run(scenario())
    finally:
        server.stop()

    assert player.state["status"] == "upcoming"
    assert player.events(without=("timer_update", "submission_result", "leaderboard_update")) == [
        "contest_start",
        "question_broadcast",
        "question_change",
        "question_broadcast",
        "question_change",
        "contest_end",
    ]
    assert "timer_update" in player.events()
    seqs = [m["seq"] for m in player.room_events()]
    assert seqs == list(range(1, len(seqs) + 1))
    results = [m["data"] for m in player.messages if m["event"] == "submission_result"]
    assert [(r["accepted"], r["isCorrect"], r["totalScore"]) for r in results] == [
        (True, None, None)
    ] * 2
    closes = [m for m in player.messages if m["event"] == "question_change"]
    mine = [c["data"]["yourResult"] for c in closes]
    assert [(r["answered"], r["isCorrect"], r["streak"]) for r in mine] == [
        (True, True, 1),
        (True, True, 2),
    ]
    # Everyone (the one player) answered: each question closed before its deadline.
    shown = [m for m in player.messages if m["event"] == "question_broadcast"]
    for opened, closed in zip(shown, closes, strict=True):
        deadline = datetime.fromisoformat(opened["data"]["deadline"])
        assert datetime.fromisoformat(closed["timestamp"]) < deadline
    end = player.messages[-1]["data"]
    assert end["status"] == "completed"
    assert end["you"] == {"rank": 1, "score": mine[-1]["totalScore"]}
    final = json.loads(manage(env, "shell", "-c", RESULT).strip().splitlines()[-1])
    assert final == {"status": "completed", "standings": [[1, mine[-1]["totalScore"]]]}
