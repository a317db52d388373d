"""The Celery app: beat sends the contest tick and the leaderboard flush
(settings.CELERY_BEAT_SCHEDULE); workers run them.

Workers run with --pool=threads (Procfile): the tasks wait on PostgreSQL and Redis, not
the CPU, and one process keeps one psycopg pool, one Redis client and one broadcast loop
thread, with no connection inherited across a fork.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contestsite.settings")

app = Celery("contestsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
