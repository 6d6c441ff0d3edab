#!/usr/bin/env node
// Node's own WHATWG WebSocket (undici inside; Node 20 needs --experimental-websocket), for
// wsclose's client samples. The test CA comes from NODE_EXTRA_CA_CERTS and the key log from
// node's --tls-keylog option, both set by the caller.
//
// On open it sends one text message, then waits for the close event (at most 5 s) and
// prints one JSON line with what the `error` and `close` events gave the page.
//
// Usage: node --experimental-websocket [--tls-keylog=FILE] node_client.js URL
'use strict';

const report = { code: null, reason: null, was_clean: null, error_event: false, error: null };

function done() {
  console.log(JSON.stringify({ client: `Node ${process.version} undici ${process.versions.undici}`, reported: report }));
  process.exit(0);
}

const ws = new WebSocket(process.argv[2]);
ws.addEventListener('open', () => ws.send('hello'));
ws.addEventListener('error', (e) => {
  report.error_event = true;
  const err = e.error;
  let text = err ? `${err.name}: ${err.message}` : e.message || e.type;
  if (err && err.cause) text += ` (cause: ${err.cause.code || ''} ${err.cause.message || err.cause})`;
  report.error = text.slice(0, 200);
  // undici may fire no close event after a failed opening handshake: wait 2 s for one.
  setTimeout(done, 2000);
});
ws.addEventListener('close', (e) => {
  report.code = e.code;
  report.reason = e.reason;
  report.was_clean = e.wasClean;
  // Let the connection finish on the wire before the process goes.
  setTimeout(done, 500);
});
setTimeout(done, 5000);
