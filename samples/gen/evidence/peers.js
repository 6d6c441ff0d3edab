#!/usr/bin/env node
// Node `ws` peers for the evidence samples (see scenarios.py, which starts them).
// Usage: node peers.js ROLE PORT
// Servers print "listening" on stdout once they accept connections; clients connect to
// ws://127.0.0.1:PORT/ and exit when their connection is closed. Every peer prints one JSON
// line per event it saw (the close code and reason it was given), for the generator's log.
'use strict';
const path = require('path');
const { WebSocket, WebSocketServer } = require(
  require.resolve('ws', { paths: [path.join(__dirname, '..', 'node')] }),
);

const log = (o) => console.log(JSON.stringify({ t: Date.now() / 1000, ...o }));
const [role, portArg] = process.argv.slice(2);
const port = Number(portArg);

function server(options, onConnection) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port, ...options });
  wss.on('listening', () => console.log('listening'));
  wss.on('connection', (ws, req) => {
    ws.on('close', (code, reason) => log({ event: 'close', code, reason: reason.toString() }));
    ws.on('error', (err) => log({ event: 'error', error: String(err), code: err.code }));
    onConnection(ws, req, wss);
  });
  return wss;
}

function client(options, onOpen) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`, options);
  ws.on('open', () => onOpen(ws));
  ws.on('close', (code, reason) => {
    log({ event: 'close', code, reason: reason.toString() });
    process.exit(0);
  });
  ws.on('error', (err) => log({ event: 'error', error: String(err) }));
  return ws;
}

const roles = {
  // Rate limit: at most RATE_LIMIT messages in any RATE_WINDOW_MS sliding window; the message
  // that makes it RATE_LIMIT + 1 gets 1008 "rate limit exceeded" at once. Others are echoed.
  'rate-server': () => {
    const RATE_LIMIT = 50;
    const RATE_WINDOW_MS = 1000;
    server({ perMessageDeflate: false }, (ws) => {
      const seen = [];
      ws.on('message', (data) => {
        const now = Date.now();
        seen.push(now);
        while (seen.length && seen[0] <= now - RATE_WINDOW_MS) seen.shift();
        if (ws.readyState !== WebSocket.OPEN) return;
        if (seen.length > RATE_LIMIT) {
          log({ event: 'limit', in_window: seen.length });
          ws.close(1008, 'rate limit exceeded');
        } else {
          ws.send(`ack ${data.length}`);
        }
      });
    });
  },

  // Text only: a binary message is answered with 1003 and a reason; text is echoed.
  'binary-server': () => {
    server({ perMessageDeflate: false }, (ws) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) ws.close(1003, 'binary messages are not supported');
        else ws.send(`echo: ${data}`);
      });
    });
  },

  // A server being deployed: on SIGTERM it closes every client with 1001 "server restarting"
  // in one loop, then exits once they are gone.
  'deploy-server': () => {
    const wss = server({ perMessageDeflate: false }, (ws) => {
      ws.on('message', (data) => ws.send(`echo: ${data}`));
    });
    process.on('SIGTERM', () => {
      log({ event: 'sigterm', clients: wss.clients.size });
      for (const ws of wss.clients) ws.close(1001, 'server restarting');
      wss.close(); // the process ends once the last connection is gone
    });
  },

  // permessage-deflate on, maxPayload 1 MiB (a message that inflates past it gets 1009).
  'bomb-server': () => {
    server({ perMessageDeflate: true, maxPayload: 1 << 20 }, (ws, req) => {
      log({ event: 'open', extensions: ws.extensions });
      ws.on('message', (data) => ws.send(`got ${data.length} bytes`));
    });
  },

  // Sends a text message every 1300 ms from the open until the server closes.
  'lifetime-client': () => {
    let n = 0;
    let timer;
    const ws = client({ perMessageDeflate: false }, (ws) => {
      const tick = () => {
        n += 1;
        ws.send(JSON.stringify({ type: 'heartbeat', seq: n }));
      };
      tick();
      timer = setInterval(tick, 1300);
    });
    ws.on('close', () => clearInterval(timer));
  },

  // permessage-deflate with no size threshold (every message compressed): two small JSON
  // messages, then one 2 MiB JSON text message of the same records.
  'deflate-client': () => {
    const record = (i) => JSON.stringify({ id: i, user: `user-${i % 97}`, action: 'update',
      fields: { status: 'active', score: (i * 7919) % 1000, tags: ['a', 'b', 'c'] } });
    client({ perMessageDeflate: { threshold: 0 } }, (ws) => {
      log({ event: 'open', extensions: ws.extensions });
      ws.send(JSON.stringify([record(1), record(2)]));
      setTimeout(() => ws.send(JSON.stringify([record(3)])), 300);
      setTimeout(() => {
        const TOTAL = 2 * 1024 * 1024;
        const parts = [];
        let size = 2; // the brackets
        for (let i = 4; ; i += 1) {
          const r = record(i);
          if (size + r.length + 1 > TOTAL) break;
          parts.push(r);
          size += r.length + 1;
        }
        // exactly 2 MiB: JSON whitespace before the closing bracket fills the rest
        const body = parts.join(',');
        const big = `[${body}${' '.repeat(TOTAL - 2 - body.length)}]`;
        log({ event: 'big', length: Buffer.byteLength(big) });
        ws.send(big);
      }, 600);
    });
  },

  // A client whose ping handling stalls: autoPong off; it answers the first PONGS_ANSWERED
  // pings by hand, then none (as if its event loop were stuck), but still answers a Close.
  'keepalive-client': () => {
    const PONGS_ANSWERED = 2;
    let pings = 0;
    const ws = client({ perMessageDeflate: false, autoPong: false }, (ws) => {
      ws.send('subscribe prices');
    });
    ws.on('ping', (data) => {
      pings += 1;
      log({ event: 'ping', n: pings, answered: pings <= PONGS_ANSWERED });
      if (pings <= PONGS_ANSWERED) ws.pong(data);
    });
  },
};

if (!roles[role] || !port) {
  console.error(`usage: peers.js {${Object.keys(roles).join('|')}} PORT`);
  process.exit(2);
}
roles[role]();
