#!/usr/bin/env node
// Drives many real wss:// sessions on loopback for wsclose's performance work: one Node `ws`
// server and many `ws` clients in this process. The shape of every session (TLS version and
// cipher, permessage-deflate, how many messages each way and their sizes and contents, who
// closes and how) comes from a seeded PRNG keyed by (seed, session id), so a seed always gives
// the same set of conversations; only the timing, ports, masks and TLS randoms differ per run.
// Every TLS secret of every session goes to one NSS key log (the clients' 'keylog' events).
//
// usage: node wss_load.js --keylog FILE --cert server.crt --key server.key --ca ca.crt
//          [--sessions 3500] [--concurrency 50] [--port 9443] [--seed 1]
//          [--duration-ms 3000] [--manifest FILE.tsv]
// The manifest has one line per session: what was planned and what each side saw, so a
// report on the capture can be checked session by session (join on the client port).
'use strict';

const fs = require('fs');
const https = require('https');
const net = require('net');
const tls = require('tls');
const { WebSocket, WebSocketServer } = require('ws');

const DEFAULTS = {
  sessions: 3500,
  concurrency: 50,
  port: 9443,
  seed: 1,
  'duration-ms': 3000,
};

/** The TLS versions and cipher suites a session may use, with their share of sessions. */
const TLS_VARIANTS = [
  { name: 'tls1.2-aes128gcm', weight: 20, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
  { name: 'tls1.2-chacha20', weight: 15, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' },
  { name: 'tls1.3-aes128gcm', weight: 30, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' },
  { name: 'tls1.3-aes256gcm', weight: 20, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' },
  { name: 'tls1.3-chacha20', weight: 15, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
];

/** What the server accepts: every suite above. */
const SERVER_CIPHERS = TLS_VARIANTS.map((v) => v.ciphers).join(':');

/**
 * How a session ends. `by` is the side that acts; `close` sends a Close frame with `code`
 * and one of `reasons`; `terminate` destroys the socket without a Close (FIN, or RST when
 * unread data is pending); `reset` destroys it with an RST (SO_LINGER 0).
 * `rate-limit` is the server closing 1008 once the client has sent more than its quota.
 */
const ENDINGS = [
  { name: 'client-1000', weight: 690, by: 'client', how: 'close', code: 1000, reasons: ['done', 'bye', 'user left the page', ''] },
  { name: 'server-1001', weight: 90, by: 'server', how: 'close', code: 1001, reasons: ['server shutting down', 'restarting for deploy'] },
  { name: 'server-1008', weight: 70, by: 'server', how: 'rate-limit', code: 1008, reasons: ['rate limit exceeded'] },
  { name: 'server-4001', weight: 20, by: 'server', how: 'close', code: 4001, reasons: ['session replaced by a newer login'] },
  { name: 'server-4003', weight: 15, by: 'server', how: 'close', code: 4003, reasons: ['token expired'] },
  { name: 'server-4029', weight: 10, by: 'server', how: 'close', code: 4029, reasons: ['too many sessions'] },
  { name: 'client-4000', weight: 15, by: 'client', how: 'close', code: 4000, reasons: ['client logout'] },
  { name: 'client-4100', weight: 10, by: 'client', how: 'close', code: 4100, reasons: ['app sent to background'] },
  { name: 'client-4999', weight: 5, by: 'client', how: 'close', code: 4999, reasons: [''] },
  { name: 'client-terminate', weight: 25, by: 'client', how: 'terminate' },
  { name: 'client-reset', weight: 10, by: 'client', how: 'reset' },
  { name: 'server-terminate', weight: 20, by: 'server', how: 'terminate' },
  { name: 'server-reset', weight: 15, by: 'server', how: 'reset' },
];

/** Share of sessions whose client offers permessage-deflate (RFC 7692). */
const DEFLATE_SHARE = 0.2;
/** Message payload sizes, log-uniform between these (mean about 195 bytes). */
const MIN_PAYLOAD = 50;
const MAX_PAYLOAD = 500;
/** Share of messages sent as binary frames; the rest are JSON text. */
const BINARY_SHARE = 0.15;
/** The client pings every this many messages. */
const PING_EVERY = 50;
/** A session still open after this long is terminated and counted as stuck. */
const SESSION_DEADLINE_MS = 120000;

const WORDS = ('price quote order fill cancel ack book depth level bid ask trade tick ' +
  'heartbeat status ready user room join leave typing message delivered read cursor ' +
  'presence online away score update delta snapshot sequence market venue').split(' ');
const SYMBOLS = ['BTC-USD', 'ETH-USD', 'AAPL', 'MSFT', 'EURUSD', 'GBPJPY', 'SOL-USD', 'TSLA'];

function parseArgs(argv) {
  const args = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (!name.startsWith('--') || value === undefined) {
      throw new Error(`bad argument ${name}: expected --name value`);
    }
    args[name.slice(2)] = value;
  }
  for (const k of ['sessions', 'concurrency', 'port', 'seed', 'duration-ms']) {
    args[k] = Number(args[k]);
    if (!Number.isInteger(args[k]) || args[k] < 0) throw new Error(`--${k} must be an integer`);
  }
  for (const k of ['keylog', 'cert', 'key', 'ca']) {
    if (!args[k]) throw new Error(`--${k} is required`);
  }
  return args;
}

/** A small seeded PRNG (mulberry32), seeded by mixing the given integer keys. */
function rng(...keys) {
  let h = 0x9e3779b9;
  for (const k of keys) {
    h = Math.imul(h ^ (k >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  let state = h >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(next() * list.length)];
  const weighted = (list) => {
    const total = list.reduce((s, x) => s + x.weight, 0);
    let x = next() * total;
    for (const item of list) {
      x -= item.weight;
      if (x < 0) return item;
    }
    return list[list.length - 1];
  };
  return { next, int, pick, weighted };
}

/** Everything about session `id` that does not depend on timing. */
function planSession(seed, id, durationMs) {
  const r = rng(seed, id, 1);
  const variant = r.weighted(TLS_VARIANTS);
  const deflate = r.next() < DEFLATE_SHARE
    ? { threshold: 0, serverNoContextTakeover: r.next() < 0.3, clientNoContextTakeover: r.next() < 0.3 }
    : false;
  const toServer = r.int(100, 200);
  const toClient = r.int(100, 200);
  const ending = r.weighted(ENDINGS);
  const reason = ending.reasons ? r.pick(ending.reasons) : '';
  // Abrupt endings and the rate limit strike somewhere in the second half of the session.
  const strikeAt = r.int(Math.floor(toServer / 2), toServer - 1);
  const duration = Math.round(durationMs * (0.6 + 0.8 * r.next()));
  return { id, variant, deflate, toServer, toClient, ending, reason, strikeAt, duration };
}

/** Message `i` of one side: a JSON text of about `size` bytes, or random binary bytes. */
function makeMessage(r, i) {
  const size = Math.round(MIN_PAYLOAD * Math.pow(MAX_PAYLOAD / MIN_PAYLOAD, r.next()));
  if (r.next() < BINARY_SHARE) {
    const buf = Buffer.allocUnsafe(size);
    for (let k = 0; k < size; k++) buf[k] = Math.floor(r.next() * 256);
    return { data: buf, binary: true };
  }
  const head = `{"seq":${i},"type":"${r.pick(WORDS)}","sym":"${r.pick(SYMBOLS)}",` +
    `"px":${(r.next() * 1000).toFixed(2)},"qty":${r.int(1, 500)},"note":"`;
  const tail = '"}';
  let note = '';
  while (head.length + note.length + tail.length < size) note += r.pick(WORDS) + ' ';
  note = note.slice(0, Math.max(0, size - head.length - tail.length));
  return { data: head + note + tail, binary: false };
}

/** Calls `fn` `count` times, about `total / count` ms apart with jitter; stops when `fn` says so. */
function pace(r, count, totalMs, fn) {
  const gap = totalMs / count;
  let i = 0;
  let timer = null;
  const step = () => {
    timer = null;
    if (i >= count) return;
    const more = fn(i++);
    if (more !== false && i < count) timer = setTimeout(step, gap * (0.5 + r.next()));
  };
  timer = setTimeout(step, gap * r.next());
  return () => { if (timer) clearTimeout(timer); timer = null; };
}

/** Aborts a TLS socket's TCP connection with an RST, as SO_LINGER 0 would, without a Close. */
function resetTcp(tlsSocket) {
  tlsSocket._parent.resetAndDestroy();
  tlsSocket.destroy();
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const keylog = fs.openSync(args.keylog, 'w');
  const ca = fs.readFileSync(args.ca);
  const records = new Map();
  const recordOf = (id) => {
    if (!records.has(id)) records.set(id, { id, serverSent: 0, clientSent: 0 });
    return records.get(id);
  };
  const serverOpen = new Set();

  const server = https.createServer({
    cert: fs.readFileSync(args.cert),
    key: fs.readFileSync(args.key),
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    ciphers: SERVER_CIPHERS,
  });
  const wss = new WebSocketServer({ server, perMessageDeflate: { threshold: 0 } });

  wss.on('connection', (ws, req) => {
    const match = /^\/s\/(\d+)$/.exec(req.url || '');
    if (!match) { ws.close(1008, 'unknown session'); return; }
    const plan = planSession(args.seed, Number(match[1]), args['duration-ms']);
    const rec = recordOf(plan.id);
    const r = rng(args.seed, plan.id, 3);
    const { ending } = plan;
    serverOpen.add(ws);
    let received = 0;
    let stop = () => {};
    const act = () => {
      stop();
      if (ending.how === 'close' || ending.how === 'rate-limit') ws.close(ending.code, plan.reason);
      else if (ending.how === 'terminate') ws.terminate();
      else resetTcp(ws._socket);
    };
    ws.on('message', () => {
      received++;
      if (ending.by === 'server' && ending.how !== 'close' && received === plan.strikeAt &&
          ws.readyState === WebSocket.OPEN) act();
    });
    stop = pace(r, plan.toClient, plan.duration, (i) => {
      if (ws.readyState !== WebSocket.OPEN) return false;
      const m = makeMessage(r, i);
      ws.send(m.data, { binary: m.binary });
      rec.serverSent++;
      if (i === plan.toClient - 1 && ending.by === 'server' && ending.how === 'close') act();
      return true;
    });
    ws.on('error', (err) => { rec.serverError = err.code || err.message; });
    ws.on('close', (code) => {
      stop();
      rec.serverSaw = code;
      serverOpen.delete(ws);
    });
  });

  const runSession = (id) => new Promise((resolve) => {
    const plan = planSession(args.seed, id, args['duration-ms']);
    const rec = recordOf(id);
    rec.plan = plan;
    const r = rng(args.seed, id, 2);
    const { ending } = plan;
    const ws = new WebSocket(`wss://127.0.0.1:${args.port}/s/${id}`, {
      ca,
      servername: 'localhost',
      minVersion: plan.variant.minVersion,
      maxVersion: plan.variant.maxVersion,
      ciphers: plan.variant.ciphers,
      perMessageDeflate: plan.deflate,
      handshakeTimeout: 30000,
      createConnection: (options) => {
        // Our own TCP socket under the TLS one, so that resetTcp can reach it.
        const tcp = net.connect({ host: options.host, port: options.port });
        const socket = tls.connect({ ...options, path: undefined, socket: tcp });
        socket.on('keylog', (line) => fs.writeSync(keylog, line));
        return socket;
      },
    });
    let received = 0;
    let sentAll = false;
    let acted = false;
    let stop = () => {};
    const act = () => {
      if (acted || ws.readyState !== WebSocket.OPEN) return;
      acted = true;
      stop();
      if (ending.how === 'close') ws.close(ending.code, plan.reason);
      else if (ending.how === 'terminate') ws.terminate();
      else resetTcp(ws._socket);
    };
    // A clean client close waits until the server has said everything it planned to say.
    const maybeClose = () => {
      if (ending.by === 'client' && ending.how === 'close' && sentAll && received >= plan.toClient) act();
    };
    const deadline = setTimeout(() => { rec.stuck = true; ws.terminate(); }, SESSION_DEADLINE_MS);
    ws.on('open', () => {
      const cipher = ws._socket.getCipher();
      rec.port = ws._socket.localPort;
      rec.version = ws._socket.getProtocol();
      rec.cipher = cipher && cipher.standardName;
      rec.deflate = ws.extensions.includes('permessage-deflate');
      stop = pace(r, plan.toServer, plan.duration, (i) => {
        if (ws.readyState !== WebSocket.OPEN) return false;
        if (ending.by === 'client' && ending.how !== 'close' && i === plan.strikeAt) {
          act();
          return false;
        }
        const m = makeMessage(r, i);
        ws.send(m.data, { binary: m.binary });
        rec.clientSent++;
        if (i % PING_EVERY === PING_EVERY / 2) ws.ping();
        if (i === plan.toServer - 1) {
          sentAll = true;
          maybeClose();
        }
        return true;
      });
    });
    ws.on('message', () => {
      received++;
      maybeClose();
    });
    ws.on('error', (err) => { rec.clientError = err.code || err.message; });
    ws.on('close', (code, reason) => {
      stop();
      clearTimeout(deadline);
      rec.clientSaw = code;
      rec.clientSawReason = reason.toString();
      resolve();
    });
  });

  const started = Date.now();
  server.listen(args.port, '127.0.0.1', async () => {
    let next = 0;
    let done = 0;
    await new Promise((allDone) => {
      const launch = () => {
        while (next - done < args.concurrency && next < args.sessions) {
          const id = next++;
          // Stagger the first wave so that sessions do not start and end in lockstep.
          const delay = id < args.concurrency ? Math.floor(id * args['duration-ms'] / args.concurrency) : 0;
          setTimeout(() => runSession(id).then(() => {
            done++;
            if (done % 250 === 0) process.stderr.write(`wss_load: ${done}/${args.sessions} sessions\n`);
            if (done === args.sessions) allDone();
            else launch();
          }), delay);
        }
      };
      if (args.sessions === 0) allDone();
      else launch();
    });
    // Let the server side see the last closes before shutting down.
    for (let waited = 0; serverOpen.size > 0 && waited < 5000; waited += 50) {
      await new Promise((res) => setTimeout(res, 50));
    }
    for (const ws of serverOpen) ws.terminate();
    wss.close();
    server.close();
    fs.closeSync(keylog);
    summarize(args, [...records.values()].sort((a, b) => a.id - b.id), Date.now() - started);
  });
}

function summarize(args, recs, elapsedMs) {
  if (args.manifest) {
    const head = ['id', 'client_port', 'version', 'cipher', 'deflate', 'ending', 'code', 'reason',
      'c2s_msgs', 's2c_msgs', 'client_saw', 'server_saw', 'client_error', 'server_error'];
    const lines = recs.map((x) => [x.id, x.port ?? '', x.version ?? '', x.cipher ?? '',
      x.deflate ? 1 : 0, x.plan.ending.name, x.plan.ending.code ?? '', x.plan.reason,
      x.clientSent, x.serverSent, x.clientSaw ?? '', x.serverSaw ?? '', x.clientError ?? '',
      x.serverError ?? ''].join('\t'));
    fs.writeFileSync(args.manifest, [head.join('\t'), ...lines].join('\n') + '\n');
  }
  const count = (f) => {
    const m = {};
    for (const x of recs) { const k = f(x); m[k] = (m[k] || 0) + 1; }
    return Object.entries(m).sort().map(([k, v]) => `${k} ${v}`).join(', ');
  };
  const sum = (f) => recs.reduce((s, x) => s + f(x), 0);
  const out = [
    `sessions: ${recs.length} in ${(elapsedMs / 1000).toFixed(1)} s (concurrency ${args.concurrency}, seed ${args.seed})`,
    `tls: ${count((x) => `${x.version}/${x.cipher}`)}`,
    `permessage-deflate: ${sum((x) => (x.deflate ? 1 : 0))} sessions`,
    `endings: ${count((x) => x.plan.ending.name)}`,
    `client saw: ${count((x) => x.clientSaw)}`,
    `messages: ${sum((x) => x.clientSent)} client->server, ${sum((x) => x.serverSent)} server->client`,
    `stuck: ${sum((x) => (x.stuck ? 1 : 0))}`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main();
