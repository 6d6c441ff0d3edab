#!/usr/bin/env node
// wss:// conversations on loopback between a Node `ws` client and a `ws` server, for
// wsclose's decryption samples: each scenario pins one TLS version and cipher suite.
// The client's TLS secrets go to KEYLOG (SSLKEYLOGFILE format) through the https.Agent
// 'keylog' event, so only the client side writes them and each line appears once.
//
// Setup: (cd gen/node && npm ci)
// Usage: node wss_node.js NAME PORT PKI_DIR KEYLOG
'use strict';

const fs = require('fs');
const https = require('https');
const path = require('path');
const { constants } = require('crypto');

const { WebSocket, WebSocketServer } = require(
  require.resolve('ws', { paths: [path.join(__dirname, 'node')] }),
);

// Each scenario: the TLS options both ends share, the server's own extras, the client's
// own extras, what the server does with the messages, and the client's script.
const SCENARIOS = {
  // TLS 1.2, AES-GCM; the client closes with 1000 "bye".
  'wss-tls12-gcm': {
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
    server: echo,
    client: chat(3, 1000, 'bye'),
  },
  // TLS 1.3, ChaCha20-Poly1305; the server enforces a rate limit with 1008.
  'wss-tls13-chacha-1008': {
    tls: { minVersion: 'TLSv1.3', ciphers: 'TLS_CHACHA20_POLY1305_SHA256' },
    server: rateLimit(3),
    client: flood(4),
  },
  // TLS 1.2, ChaCha20-Poly1305; the server goes away (1001).
  'wss-tls12-chacha': {
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-CHACHA20-POLY1305' },
    server: goingAway,
    client: flood(1),
  },
  // TLS 1.2, AES-128-CBC with HMAC-SHA1; OpenSSL negotiates encrypt_then_mac.
  'wss-tls12-cbc': {
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
    server: echo,
    client: chat(2, 1000, 'bye'),
  },
  // TLS 1.2, AES-256-CBC with HMAC-SHA384 (encrypt_then_mac).
  'wss-tls12-cbc-sha384': {
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-SHA384' },
    server: echo,
    client: chat(2, 1000, 'bye'),
  },
  // TLS 1.2, AES-128-CBC, the client refuses encrypt_then_mac: classic MAC-then-encrypt.
  'wss-tls12-cbc-mte': {
    tls: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' },
    clientTls: { secureOptions: constants.SSL_OP_NO_ENCRYPT_THEN_MAC },
    server: echo,
    client: chat(2, 1000, 'bye'),
  },
  // TLS 1.3, the server only accepts P-384 while the client's first key share is X25519:
  // HelloRetryRequest, then a normal session.
  'wss-hrr': {
    tls: { minVersion: 'TLSv1.3' },
    serverTls: { ecdhCurve: 'P-384' },
    server: echo,
    client: chat(2, 1000, 'bye'),
  },
};

function echo(ws) {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
}

function rateLimit(max) {
  return (ws) => {
    let count = 0;
    ws.on('message', () => {
      count += 1;
      if (count === max) ws.close(1008, 'rate limit exceeded');
    });
  };
}

function goingAway(ws) {
  ws.once('message', () => ws.close(1001, 'server restarting'));
}

// Sends `n` messages one after the other, each after the echo of the one before, then closes.
function chat(n, code, reason) {
  return (ws, done) => {
    let sent = 0;
    const next = () => {
      if (sent === n) {
        ws.close(code, reason);
        return;
      }
      sent += 1;
      ws.send(`message ${sent} of ${n}`);
    };
    ws.on('open', next);
    ws.on('message', next);
    ws.on('close', done);
  };
}

// Sends `n` messages 50 ms apart and waits for the server to close.
function flood(n) {
  return (ws, done) => {
    ws.on('open', async () => {
      for (let i = 1; i <= n; i += 1) {
        if (ws.readyState !== WebSocket.OPEN) break;
        ws.send(`update ${i}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    ws.on('close', done);
  };
}

function main([name, port, pki, keylog]) {
  const sc = SCENARIOS[name];
  if (!sc) {
    console.error(`unknown scenario ${name}`);
    process.exit(2);
  }
  const https_server = https.createServer({
    ...sc.tls,
    ...sc.serverTls,
    cert: fs.readFileSync(`${pki}/server.crt`),
    key: fs.readFileSync(`${pki}/server.key`),
  });
  const wss = new WebSocketServer({ server: https_server, perMessageDeflate: false });
  wss.on('connection', (ws) => sc.server(ws));
  https_server.listen(Number(port), '127.0.0.1', () => {
    const agent = new https.Agent({ keepAlive: false });
    agent.on('keylog', (line) => fs.appendFileSync(keylog, line));
    const ws = new WebSocket(`wss://localhost:${port}/live`, {
      ...sc.tls,
      ...sc.clientTls,
      agent,
      ca: fs.readFileSync(`${pki}/ca.crt`),
      perMessageDeflate: false,
    });
    ws.on('error', (e) => console.error(`client: ${e.message}`));
    sc.client(ws, (code, reason) => {
      console.error(`client: closed ${code} ${reason}`);
      setTimeout(() => {
        wss.close();
        https_server.close();
        process.exit(0);
      }, 300);
    });
  });
}

main(process.argv.slice(2));
