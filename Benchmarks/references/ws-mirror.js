// Node `ws` (Debian node-ws) mirror server for Benchmarks/fanout-compare.sh: every message a
// client sends goes to every client, the sender included, by a loop over `send` (what Node
// users write; `ws` frames and copies each message once per client).
// usage: node ws-mirror.js PORT
"use strict";
const { WebSocketServer } = require("/usr/share/nodejs/ws");
const server = new WebSocketServer({ host: "127.0.0.1", port: Number(process.argv[2]), perMessageDeflate: false });
server.on("connection", (socket) => {
    socket.on("message", (data, isBinary) => {
        for (const client of server.clients) client.send(data, { binary: isBinary });
    });
});
server.on("listening", () => console.log("ws-mirror: listening on " + process.argv[2]));
