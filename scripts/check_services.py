"""Fail at once, in one line, if the test services are not reachable."""

from __future__ import annotations

import os
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

DATABASE_URL = os.environ["DATABASE_URL"]
REDIS_URL = os.environ["REDIS_URL"]

# pytest-django creates the test database itself; the server is what must answer.
server_url = urlsplit(DATABASE_URL.replace("postgres://", "postgresql://", 1))._replace(
    path="/postgres"
)
try:
    psycopg.connect(urlunsplit(server_url), connect_timeout=3).close()
except Exception as exc:  # any failure to connect is the same message to the user
    sys.exit(
        f"PostgreSQL is not reachable at {DATABASE_URL} ({exc.__class__.__name__}); start it with: "
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
    )
try:
    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
except Exception as exc:
    sys.exit(
        f"Redis is not reachable at {REDIS_URL} ({exc.__class__.__name__}); start it with: "
        'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no'
    )
