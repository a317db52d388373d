"""Whole-contest load simulator: N bot players play one contest against the real stack.

    createdb -h 127.0.0.1 -U postgres benchdb
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/benchdb \\
    SECRET_KEY=bench-secret-key-bench-secret-key-123 \\
    .venv/bin/python bench/simulate.py --bots 2000 --questions 3 --web-processes 1 --json sim.json

Starts web processes (uvicorn with the Procfile's flags; --server daphne), a Celery worker
and beat against a Redis of its own (a private redis-server on a free port) and the
database of DATABASE_URL; creates the users and tokens in bulk (no password hashing per user);
connects the bots with a real WebSocket client (the fault harness's bots: they answer
with the chosen accuracy after a think time drawn per question, resync on a gap, and
--drop of them drop their socket once and come back with resync); the organizer starts
the contest through the API; the contest plays to its end. A progress line runs on
stderr. Prints and writes as JSON: connect-and-join time, per-event delivery latency
from the envelope timestamp (p50/p99/max), submit→result p50/p99, web CPU and RSS, room
events lost, repeated or received twice (by seq), and the database check (acknowledged
answers = stored rows, none twice, questions opened and closed once, final standings =
the database's ranking, no traceback in any process). The bots run in this one process:
at large N they share the machine's cores with the server, so the figures are
conservative. The contest and its users are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from accounts.models import User  # noqa: E402
from contests.models import Contest  # noqa: E402
from tests.reliability.harness import Stack  # noqa: E402
from tests.scale.simulator import Plan, printable, simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--questions", type=int, default=3)
    parser.add_argument("--question-seconds", type=int, default=10)
    parser.add_argument("--intermission", type=int, default=2)
    parser.add_argument("--accuracy", type=float, default=0.6)
    parser.add_argument("--think", type=float, nargs=2, default=[0.5, 6.0], metavar=("MIN", "MAX"))
    parser.add_argument("--drop", type=float, default=0.05, help="share of bots that drop once")
    parser.add_argument("--web-processes", type=int, default=1)
    parser.add_argument(
        "--server", choices=["uvicorn", "daphne"], default="uvicorn", help="the web server"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    plan = Plan(
        bots=args.bots,
        questions=args.questions,
        question_seconds=args.question_seconds,
        intermission_seconds=args.intermission,
        accuracy=args.accuracy,
        think=(args.think[0], args.think[1]),
        drop=args.drop,
    )
    call_command("migrate", verbosity=0)
    run = f"{int(time.time())}"
    # Pools sized for a load run (the tests' small pools suit many test processes).
    stack = Stack(web=args.web_processes, proxy=False, server=args.server, DB_POOL_MAX_SIZE="20")
    with stack.start():
        try:
            figures = simulate(stack, plan, run=run, progress=sys.stderr)
        finally:
            Contest.objects.filter(title=f"Simulated contest {run}").delete()
            User.objects.filter(username__startswith=f"sim-{run}-").delete()
    text = printable(figures)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
