// The Node `ws` reference server of bench/ws_broadcast.py (--server node|both).
//
// It does the part of daphne's job the room-broadcast benchmark measures, and nothing
// else: no auth (the ?token= is ignored), no database, no channel layer.
//
//   node server.js <port>
//
// Sockets: any path on 127.0.0.1:<port>. A `join_contest` message is answered with a
// minimal `contest_state` (the load client waits for that event name only); every
// other message is ignored.
//
// Stdin, one command per line, from the benchmark process:
//   BROADCAST <text>  send <text> (a complete JSON envelope, already stamped with its
//                     `timestamp`, `seq` and `epoch`) as-is to every open socket
//   CPU               print `CPU <user+system seconds of this process> <rss bytes>`
// Stdout: `READY` once listening. The process exits when its stdin closes.
"use strict";

const http = require("http");
const readline = require("readline");
const { WebSocketServer, WebSocket } = require("ws");

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error("usage: node server.js <port>");
  process.exit(2);
}

const server = http.createServer((req, res) => {
  res.writeHead(426).end(); // WebSocket upgrades only
});
// Compression off, as the load clients ask for none (and daphne runs without it).
const wss = new WebSocketServer({ server, perMessageDeflate: false });

wss.on("connection", (ws) => {
  ws.on("message", (raw) => {
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    if (message && message.event === "join_contest") {
      const contestId = message.data && message.data.contestId;
      ws.send(
        JSON.stringify({
          event: "contest_state",
          data: { contestId, status: "active" },
          timestamp: new Date().toISOString(),
          requestId: message.requestId, // left out by JSON.stringify when undefined
        }),
      );
    }
  });
  ws.on("error", () => {}); // a client killed mid-write: nothing to do
});

const commands = readline.createInterface({ input: process.stdin });
commands.on("line", (line) => {
  if (line.startsWith("BROADCAST ")) {
    const text = line.slice("BROADCAST ".length);
    // One ws.send per socket, the plain `ws` broadcast pattern (each send frames the
    // text itself; ws has no prepared-message equivalent of autobahn's).
    for (const client of wss.clients) {
      if (client.readyState === WebSocket.OPEN) client.send(text);
    }
  } else if (line === "CPU") {
    const usage = process.cpuUsage(); // microseconds since this process started
    const seconds = (usage.user + usage.system) / 1e6;
    process.stdout.write(`CPU ${seconds} ${process.memoryUsage().rss}\n`);
  }
});
commands.on("close", () => process.exit(0));

// The same accept backlog daphne gets from bench/ws_common.py.
server.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => {
  process.stdout.write("READY\n");
});
