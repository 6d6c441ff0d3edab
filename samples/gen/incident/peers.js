#!/usr/bin/env node
// Node `ws` peers for the incident sample (scenario.py starts them and reads their output).
// Every peer prints one JSON line per event it saw, with the local or remote address of the
// connection, so the generator can tell connections apart.
//
//   node peers.js deploy-server HOST PORT
//     Echo server (ws defaults: no permessage-deflate). Prints "listening" once it accepts
//     connections. On SIGTERM it closes every client with 1001 "server restarting" in one
//     loop and exits once they are gone (a deploy).
//   node peers.js clients URL SPEC
//     Opens one connection per entry of SPEC (JSON: {"autoPong": bool, "tickMs": N,
//     "clients": [{"id": N, "src": "127.0.0.X", "openMs": N, "terminateMs": N|null}]}):
//     from source address src, openMs after start; sends a text message every tickMs (0:
//     none); terminateMs after its open it calls terminate() (TCP ends, no Close frame).
//     With autoPong false it answers no ping. Exits when every connection has closed.
'use strict';
const path = require('path');
const wsPath = require.resolve('ws', { paths: [path.join(__dirname, '..', 'node')] });
const { WebSocket, WebSocketServer } = require(wsPath);
const wsVersion = require(path.join(path.dirname(wsPath), 'package.json')).version;

const log = (o) => console.log(JSON.stringify({ t: Date.now() / 1000, ...o }));
const [role, ...args] = process.argv.slice(2);

function deployServer(host, port) {
  const wss = new WebSocketServer({ host, port: Number(port) });
  wss.on('listening', () => {
    console.log('listening');
    log({ event: 'ready', ws: wsVersion, node: process.version });
  });
  wss.on('connection', (ws, req) => {
    const peer = `${req.socket.remoteAddress}:${req.socket.remotePort}`;
    log({ event: 'open', peer });
    ws.on('message', (data) => ws.send(`echo: ${data}`));
    ws.on('close', (code, reason) => log({ event: 'close', peer, code, reason: reason.toString() }));
    ws.on('error', (err) => log({ event: 'error', peer, error: String(err) }));
  });
  process.on('SIGTERM', () => {
    log({ event: 'sigterm', clients: wss.clients.size });
    for (const ws of wss.clients) ws.close(1001, 'server restarting');
    wss.close(); // the process ends once the last connection is gone
  });
}

function clients(url, specText) {
  const spec = JSON.parse(specText);
  let open = spec.clients.length;
  log({ event: 'ready', ws: wsVersion, node: process.version });
  for (const c of spec.clients) {
    setTimeout(() => {
      const ws = new WebSocket(url, { localAddress: c.src, autoPong: spec.autoPong });
      let tick;
      let local;
      ws.on('upgrade', (res) => {
        local = `${res.socket.localAddress}:${res.socket.localPort}`;
      });
      ws.on('open', () => {
        log({ event: 'open', id: c.id, local });
        if (spec.tickMs) {
          let n = 0;
          tick = setInterval(() => ws.send(JSON.stringify({ type: 'tick', seq: (n += 1) })), spec.tickMs);
        }
        if (c.terminateMs != null) {
          setTimeout(() => {
            log({ event: 'terminate', id: c.id });
            ws.terminate();
          }, c.terminateMs);
        }
      });
      ws.on('ping', () => log({ event: 'ping', id: c.id, answered: spec.autoPong }));
      ws.on('error', (err) => log({ event: 'error', id: c.id, error: String(err) }));
      ws.on('close', (code, reason) => {
        clearInterval(tick);
        log({ event: 'close', id: c.id, code, reason: reason.toString() });
        open -= 1;
        if (open === 0) process.exit(0);
      });
    }, c.openMs);
  }
}

if (role === 'deploy-server' && args.length === 2) deployServer(...args);
else if (role === 'clients' && args.length === 2) clients(...args);
else {
  console.error('usage: peers.js deploy-server HOST PORT | clients URL SPEC');
  process.exit(2);
}
