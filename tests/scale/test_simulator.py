"""The load simulator at small N, for correctness, not speed (docs/PERFORMANCE.md has the
figures at large N): 200 bots play a 3-question contest against the real stack, some of
them dropping their socket once and coming back with resync."""

from __future__ import annotations

import pytest

from tests.reliability.harness import Stack
from tests.scale.simulator import Plan, simulate

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PLAN = Plan(bots=200, questions=3, question_seconds=5, intermission_seconds=1, drop=0.05)


def _assert_played_correctly(figures):
    # Acknowledged answers = stored rows, none twice, every question opened and closed
    # once and seen closing by every bot, final standings = the database's ranking, no
    # traceback in any process (harness.check_invariants).
    assert figures["database_check"] == "ok", figures["database_check"]
    bots = figures["bots"]
    # Every bot applied every room event, in seq order: no hole, no repeat, none sent to
    # it twice, one epoch.
    assert figures["seq"] == {
        "holes": 0,
        "repeats": 0,
        "received_twice": 0,
        "most_epochs_seen_by_a_bot": 1,
    }
    last = max(seq for bot in bots for _, seq, _ in bot.seen)
    for bot in bots:
        seqs = [seq for _, seq, _ in bot.seen]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), bot.name
        assert seqs[-1] == last, f"{bot.name} stopped at seq {seqs[-1]} of {last}"
    # The bots that dropped their socket came back and missed nothing.
    assert figures["dropped_and_resynced"] == 10
    assert figures["answers"]["acknowledged"] == figures["answers"]["stored"] > 0


def test_two_hundred_bots_play_a_whole_contest_on_one_web_process():
    with Stack(web=1, proxy=False).start() as stack:
        _assert_played_correctly(simulate(stack, PLAN, run="one"))


def test_two_hundred_bots_play_a_whole_contest_across_two_web_processes():
    with Stack(web=2, proxy=False).start() as stack:
        figures = simulate(stack, PLAN, run="two")
    _assert_played_correctly(figures)
    assert figures["plan"]["web_processes"] == 2
