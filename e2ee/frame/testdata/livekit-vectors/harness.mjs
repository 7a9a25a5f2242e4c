// Drives livekit-client's own E2EE worker (dist/livekit-client.e2ee.worker.mjs,
// the code browsers run) under Node, so e2ee/frame can be checked against it
// in both directions. Usage:
//
//   node harness.mjs <node_modules dir> <input.json> <output.json>
//
// input:  {"options": KeyProviderOptions, "steps": [step...]}
// step:   {"op":"setKey", identity, index, kdf:"HKDF"|"PBKDF2", material:hex}
//         {"op":"setKey", identity, index, passphrase}
//         {"op":"ratchet", identity, index}
//         {"op":"sif", trailer:hex}
//         {"op":"encode"|"decode", identity, track, codec:"opus"|"vp8"|"h264",
//          frames:[{type:"key"|"delta"|"", ssrc, timestamp, data:hex}]}
//         {"op":"ratchetBits", kdf, material:hex}
// output: {"results":[per step: null | hex | [hex|null per frame]], "errors":[...]}
//
// The worker is fed fake RTCEncoded*Frame objects (data, timestamp, type,
// getMetadata) through web streams, exactly as the insertable-streams path
// does in a browser. Output goes to a file because the worker logs to stdout.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nodeModules, inputPath, outputPath] = process.argv.slice(2);
const input = JSON.parse(readFileSync(inputPath, 'utf8'));

// Browser worker globals the bundle touches.
class RTCEncodedAudioFrame {
  constructor(data, timestamp, metadata) {
    this.data = data;
    this.timestamp = timestamp;
    this.metadata = metadata;
  }
  getMetadata() {
    return this.metadata;
  }
}
class RTCEncodedVideoFrame extends RTCEncodedAudioFrame {
  constructor(data, timestamp, metadata, type) {
    super(data, timestamp, metadata);
    this.type = type; // its presence is how the worker tells video from audio
  }
}
globalThis.RTCEncodedAudioFrame = RTCEncodedAudioFrame;
globalThis.RTCEncodedVideoFrame = RTCEncodedVideoFrame;
globalThis.self ??= globalThis;
globalThis.onmessage = null;

const errors = [];
const waiters = [];
globalThis.postMessage = (msg) => {
  if (msg.kind === 'error') errors.push(String(msg.data.error));
  for (const w of waiters.splice(0)) if (!w(msg)) waiters.push(w);
};
function waitFor(pred) {
  return new Promise((resolve) => waiters.push((m) => (pred(m) ? (resolve(m), true) : false)));
}

const lk = await import(pathToFileURL(join(nodeModules, 'livekit-client/dist/livekit-client.esm.mjs')));
await import(pathToFileURL(join(nodeModules, 'livekit-client/dist/livekit-client.e2ee.worker.mjs')));

const post = (kind, data) => globalThis.onmessage({ data: { kind, data } });

// sync returns once the worker's message queue has handled everything posted
// before it: 'enable' is acknowledged from inside that queue.
let syncCount = 0;
async function sync() {
  const id = `__sync${syncCount++}`;
  const ack = waitFor((m) => m.kind === 'enable' && m.data.participantIdentity === id);
  post('enable', { enabled: true, participantIdentity: id });
  await ack;
}

const fromHex = (h) => new Uint8Array(Buffer.from(h, 'hex')).buffer; // a fresh, exact ArrayBuffer
const toHex = (b) => Buffer.from(new Uint8Array(b)).toString('hex');

// material imports what the app side (KeyProvider / Element Call's
// MatrixKeyProvider) hands to the worker.
async function material(step) {
  if (step.passphrase !== undefined) return lk.createKeyMaterialFromString(step.passphrase);
  if (step.kdf === 'HKDF') return lk.createKeyMaterialFromBuffer(fromHex(step.material));
  return lk.importKey(fromHex(step.material), 'PBKDF2', 'derive');
}

const enabled = new Set();
async function enable(identity) {
  if (enabled.has(identity)) return;
  enabled.add(identity);
  post('enable', { enabled: true, participantIdentity: identity });
  await sync();
}

const mime = { opus: 'audio/opus', vp8: 'video/VP8', h264: 'video/H264' };

async function transform(step) {
  await enable(step.identity);
  const out = new Array(step.frames.length).fill(null);
  const readable = new ReadableStream({
    start(c) {
      step.frames.forEach((f, i) => {
        const meta = {
          synchronizationSource: f.ssrc,
          rtpTimestamp: f.timestamp,
          payloadType: step.codec === 'opus' ? 111 : 96,
          mimeType: mime[step.codec],
        };
        const frame =
          step.codec === 'opus'
            ? new RTCEncodedAudioFrame(fromHex(f.data), f.timestamp, meta)
            : new RTCEncodedVideoFrame(fromHex(f.data), f.timestamp, meta, f.type);
        frame.index = i;
        c.enqueue(frame);
      });
      c.close();
    },
  });
  let finish;
  const finished = new Promise((r) => (finish = r));
  const writable = new WritableStream({
    write(frame) {
      out[frame.index] = toHex(frame.data);
    },
    close: () => finish(),
    abort: (e) => {
      errors.push(`stream aborted: ${e}`);
      finish();
    },
  });
  post(step.op, {
    participantIdentity: step.identity,
    trackId: step.track,
    readableStream: readable,
    writableStream: writable,
    codec: step.codec === 'opus' ? undefined : step.codec,
    isReuse: false,
    hasPacketTrailer: false,
  });
  await finished;
  return out;
}

const ops = {
  async setKey(step) {
    post('setKey', {
      participantIdentity: step.identity,
      key: await material(step),
      keyIndex: step.index,
      updateCurrentKeyIndex: true,
    });
    await sync();
    return null;
  },
  async ratchet(step) {
    const done = waitFor((m) => m.kind === 'ratchetKey' && m.data.participantIdentity === step.identity);
    post('ratchetRequest', { participantIdentity: step.identity, keyIndex: step.index });
    const msg = await done;
    await sync();
    return toHex(msg.data.ratchetResult.chainKey);
  },
  async sif(step) {
    post('setSifTrailer', { trailer: new Uint8Array(fromHex(step.trailer)) });
    await sync();
    return null;
  },
  encode: transform,
  decode: transform,
  async ratchetBits(step) {
    return toHex(await lk.ratchet(await material(step), 'LKFrameEncryptionKey'));
  },
};

post('init', { keyProviderOptions: input.options, loglevel: 'silent' });
await sync();
const results = [];
for (const step of input.steps) {
  results.push(await ops[step.op](step));
}
writeFileSync(outputPath, JSON.stringify({ results, errors }));
process.exit(0);
