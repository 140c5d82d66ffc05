#!/usr/bin/env node
// bench_codec_sdk.mjs — the official WuKongIM JS SDK (wukongimjssdk@1.0.4) on the same bytes as
// benchmarks/bench_codec.py, so the Python codec can be compared with it side by side.
//
// Usage (normally started by bench_codec.py):
//   WKJS_DIR=.cache/wkjs node benchmarks/bench_codec_sdk.mjs input.json
// input.json: {recv_hex, recv_plain_utf8, send_hex, send: {client_seq, client_msg_no, channel_id,
//              channel_type, plain_utf8}, aes_key, aes_iv, iterations, repeats}
// Prints one JSON object on stdout: best µs/op per case, plus correctness checks.
//
// The SDK is loaded unmodified; tests/sdk/wk_loader_hooks.mjs only fixes Node's module resolution.
// The measured steps are the ones the SDK runs per message:
//   RECV: Proto.decode, then what ChatManager.onPacket does (msgKey = MD5(AES(verify string)),
//         compare, SecurityManager.decryption(payload)).
//   SEND: Proto.encode(SendPacket) — encodeSend encrypts the payload and computes msgKey itself.

import { register, createRequire } from 'node:module';
import { pathToFileURL, fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const WKJS_DIR = path.resolve(process.env.WKJS_DIR || path.join(HERE, '..', '.cache', 'wkjs'));
register(pathToFileURL(path.join(HERE, '..', 'tests', 'sdk', 'wk_loader_hooks.mjs')).href);
const requireWk = createRequire(path.join(WKJS_DIR, 'noop.js'));
let LIB;
try {
  LIB = path.dirname(requireWk.resolve('wukongimjssdk/lib/index.js'));
} catch {
  console.error(`cannot find wukongimjssdk under ${WKJS_DIR}/node_modules (set WKJS_DIR)`);
  process.exit(6);
}
const libUrl = (f) => pathToFileURL(path.join(LIB, f)).href;

// the SDK chats on console.log; keep stdout for our JSON
const realLog = console.log;
console.log = () => {};

const P = await import(libUrl('proto.js'));
const { SecurityManager } = await import(libUrl('security.js'));
const { Md5 } = await import(pathToFileURL(requireWk.resolve('md5-typescript')).href);
const Proto = P.default;

const input = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const sm = SecurityManager.shared();
sm.aesKey = input.aes_key;
sm.aesIV = input.aes_iv;
const proto = new Proto();
const recvBytes = Uint8Array.from(Buffer.from(input.recv_hex, 'hex'));
const sendPlain = Uint8Array.from(Buffer.from(input.send.plain_utf8, 'utf8'));

function recvDecode() {
  return proto.decode(recvBytes);
}
function recvFull() {
  const p = proto.decode(recvBytes);
  const key = Md5.init(sm.encryption(p.veritifyString));
  if (key !== p.msgKey) throw new Error('msgKey mismatch');
  return sm.decryption(p.payload);
}
function sendFull() {
  const packet = new P.SendPacket();
  packet.setting = new P.Setting();
  packet.reddot = true;
  packet.clientSeq = input.send.client_seq;
  packet.clientMsgNo = input.send.client_msg_no;
  packet.channelID = input.send.channel_id;
  packet.channelType = input.send.channel_type;
  packet.payload = sendPlain;
  return proto.encode(packet);
}

// correctness first: same bytes in, same results out as the Python side
const checks = {
  recv_plain_ok: Buffer.from(recvFull()).toString('utf8') === input.recv_plain_utf8,
  send_bytes_ok: Buffer.from(sendFull()).toString('hex') === input.send_hex,
};

function bench(fn) {
  const n = input.iterations;
  for (let i = 0; i < Math.min(n, 2000); i++) fn(); // warm up the JIT
  let best = Infinity;
  for (let r = 0; r < input.repeats; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
    best = Math.min(best, us);
  }
  return best;
}

const result = {
  sdk: 'wukongimjssdk@' + JSON.parse(fs.readFileSync(path.join(LIB, '..', 'package.json'), 'utf8')).version,
  node: process.version,
  checks,
  us_per_op: {
    recv_decode: bench(recvDecode),
    recv_decode_verify_decrypt: bench(recvFull),
    send_encrypt_encode: bench(sendFull),
  },
};
realLog(JSON.stringify(result));
process.exit(0);
