"""The one way out to clients (docs/PROTOCOL.md, "Server events").

- `emit`: what the domain calls, once per room event, after its transaction commits;
- `payloads`: the data of every server event, room events and direct replies alike;
- `snapshot`: the `contest_state` reply; `replies`: the direct replies' texts;
- `broadcast` (stamp, log, publish), `log` (the event log), `bridge` (sync callers);
- `hub`: per-process fan-out to local sockets; `personalize`: per-recipient fields.

Nothing here imports the way in (the consumer, middleware or routing).
"""
