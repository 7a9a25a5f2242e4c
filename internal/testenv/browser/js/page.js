// The participant page of internal/testenv/browser: livekit-client with E2EE
// keyed per participant the way Element Call does it, an oscillator published
// as the microphone, and a spectrum of every remote audio track. The driver
// calls window.harness.<method>(arg); every method returns plain JSON.
import * as LK from '/lk/livekit-client.esm.mjs';

const FFT_SIZE = 8192; // 5.9 Hz bins at 48 kHz
const SAMPLE_MS = 100; // one spectrum per 100 ms ...
const WINDOW = 10; // ... averaged over the last ~1 s
// Onsets (toneSwitch, onset): a second, short analyser per track, polled
// every few ms once the first toneSwitch starts it; each poll's loudest bin
// is the track's dominant frequency, and each change is logged with the
// poll's performance.now(). A 1024-sample window is 21.3 ms at 48 kHz (bins
// 46.9 Hz wide): a new tone dominates it about half a window after it
// arrives.
const ONSET_FFT = 1024;
const ONSET_POLL_MS = 4;
const ONSET_MIN_DB = -60; // quieter than this is silence
const ONSET_EVENTS = 256; // changes kept per track

const state = {
  room: null, keys: null, actx: null, oscillator: null,
  tracks: new Map(), // track sid -> {identity, name, publication, timer, spectra}
  encryptionErrors: 0, errorsBy: {}, errorMessages: [], encryptionStatus: {},
  watchers: [], // onset watchers: {identity, name, an, db, hz, events}
  onsetTimer: null, lastPoll: 0, switched: null, // {hz, at, before: Map watcher -> hz}
};

const log = (...a) => console.log('[harness]', ...a);

// Element Call's key provider: one key ring per participant, raw key bytes
// imported as HKDF material, no ratcheting.
class MatrixKeyProvider extends LK.BaseKeyProvider {
  constructor() { super({ sharedKey: false, ratchetWindowSize: 0, keyringSize: 256 }); }
  async setRaw(identity, b64, index) {
    const raw = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    this.onSetEncryptionKey(await LK.createKeyMaterialFromBuffer(raw), identity, index);
  }
}

function watchTrack(track, pub, participant) {
  if (track.kind !== 'audio') return;
  // Chrome delivers remote WebRTC audio to WebAudio only while it plays in an element.
  const el = track.attach();
  el.muted = true;
  document.body.appendChild(el);
  const src = state.actx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
  const an = state.actx.createAnalyser();
  an.fftSize = FFT_SIZE;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const entry = { identity: participant.identity, name: pub.trackName, publication: pub, spectra: [], el,
    watcher: addWatcher(src, participant.identity, pub.trackName) };
  const db = new Float32Array(an.frequencyBinCount);
  entry.timer = setInterval(() => {
    an.getFloatFrequencyData(db);
    const power = new Float32Array(db.length);
    for (let i = 0; i < db.length; i++) power[i] = Number.isFinite(db[i]) ? 10 ** (db[i] / 10) : 0;
    entry.spectra.push(power);
    if (entry.spectra.length > WINDOW) entry.spectra.shift();
  }, SAMPLE_MS);
  state.tracks.set(pub.trackSid, entry);
}

function unwatchTrack(pub) {
  const entry = state.tracks.get(pub.trackSid);
  if (!entry) return;
  clearInterval(entry.timer);
  state.watchers = state.watchers.filter((w) => w !== entry.watcher);
  entry.el.remove();
  state.tracks.delete(pub.trackSid);
}

// dominant: the loudest bin of the mean power spectrum over the window.
function dominant(entry) {
  const n = entry.spectra.length;
  if (n === 0) return { hz: 0, db: -200 };
  const bins = entry.spectra[0].length;
  let best = 1, bestPower = -1;
  for (let i = 1; i < bins; i++) {
    let p = 0;
    for (const s of entry.spectra) p += s[i];
    if (p > bestPower) { bestPower = p; best = i; }
  }
  const mean = bestPower / n;
  return {
    hz: (best * state.actx.sampleRate) / FFT_SIZE,
    db: mean > 0 ? Math.max(-200, 10 * Math.log10(mean)) : -200,
  };
}

function addWatcher(src, identity, name) {
  const an = state.actx.createAnalyser();
  an.fftSize = ONSET_FFT;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const w = { identity, name, an, db: new Float32Array(an.frequencyBinCount), hz: 0, events: [] };
  state.watchers.push(w);
  return w;
}

// pollOnsets logs each watcher's change of dominant frequency (0: silence),
// with how far the peak stands above the loudest bin outside its lobe.
function pollOnsets() {
  const now = performance.now();
  const binHz = state.actx.sampleRate / ONSET_FFT;
  for (const w of state.watchers) {
    w.an.getFloatFrequencyData(w.db);
    let best = 1;
    for (let i = 2; i < w.db.length; i++) if (w.db[i] > w.db[best]) best = i;
    let other = -200;
    for (let i = 1; i < w.db.length; i++) if (Math.abs(i - best) > 3 && w.db[i] > other) other = w.db[i];
    const level = Number.isFinite(w.db[best]) ? w.db[best] : -200;
    const hz = level > ONSET_MIN_DB ? best * binHz : 0;
    if (hz !== w.hz) {
      w.hz = hz;
      w.events.push({ hz, at: now, prev: state.lastPoll, levelDb: level, marginDb: level - Math.max(other, -200) });
      if (w.events.length > ONSET_EVENTS) w.events.shift();
    }
  }
  state.lastPoll = now;
}

// toneSwitch sets the published oscillator to hz at once and returns the
// instant (performance.now(), ms) it did so.
function toneSwitch({ hz }) {
  if (!state.oscillator) throw new Error('no tone published');
  if (!state.onsetTimer) state.onsetTimer = setInterval(pollOnsets, ONSET_POLL_MS);
  pollOnsets(); // every watcher's dominant frequency just before the switch
  const before = new Map(state.watchers.map((w) => [w, w.hz]));
  const at = performance.now();
  state.oscillator.frequency.setValueAtTime(hz, state.actx.currentTime);
  state.switched = { hz, at, before };
  return { at, binHz: state.actx.sampleRate / ONSET_FFT, windowMs: (1000 * ONSET_FFT) / state.actx.sampleRate, pollMs: ONSET_POLL_MS };
}

// onset waits (up to timeoutMs) for the first poll after the last
// toneSwitch in which hz dominates participant's track (name: any if
// empty; the page's own identity is its local tone), and says how long
// after the switch that was.
function onset({ participant, name, hz, timeoutMs }) {
  const sw = state.switched;
  if (!sw) throw new Error('no toneSwitch yet');
  const binHz = state.actx.sampleRate / ONSET_FFT;
  const near = (f) => Math.abs(f - hz) <= binHz;
  const find = () => state.watchers.find((w) => w.identity === participant && (!name || w.name === name));
  const w0 = find();
  if (w0 && sw.before.has(w0) && near(sw.before.get(w0))) {
    throw new Error(`${hz} Hz already dominated ${participant}'s track at the switch`);
  }
  const deadline = performance.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const check = () => {
      const w = find();
      const e = w && w.events.find((ev) => ev.at > sw.at && near(ev.hz));
      if (e) {
        resolve({ latencyMs: e.at - sw.at, pollGapMs: e.at - Math.max(e.prev, sw.at), hz: e.hz, levelDb: e.levelDb, marginDb: e.marginDb });
      } else if (performance.now() > deadline) {
        reject(new Error(`no ${hz} Hz onset on ${participant}'s track within ${timeoutMs} ms` +
          (w ? `; dominant now ${w.hz} Hz` : '; no such track')));
      } else {
        setTimeout(check, 10);
      }
    };
    check();
  });
}

async function join({ url, token, keys, toneHz }) {
  if (state.room) throw new Error('already joined');
  state.keys = new MatrixKeyProvider();
  for (const k of keys || []) await state.keys.setRaw(k.identity, k.key, k.index);
  const worker = new Worker('/lk/livekit-client.e2ee.worker.js');
  const room = new LK.Room({ encryption: { keyProvider: state.keys, worker } });
  state.room = room;
  state.actx = new AudioContext({ sampleRate: 48000 });
  room.on(LK.RoomEvent.EncryptionError, (err, participant) => {
    const who = (participant && participant.identity) || '';
    state.encryptionErrors++;
    state.errorsBy[who] = (state.errorsBy[who] || 0) + 1;
    if (state.errorMessages.length < 20) state.errorMessages.push(who + ': ' + String(err && err.message || err));
    log('EncryptionError', who, String(err && err.message || err));
  });
  room.on(LK.RoomEvent.ParticipantEncryptionStatusChanged, (enabled, participant) => {
    if (participant) state.encryptionStatus[participant.identity] = enabled;
  });
  room.on(LK.RoomEvent.TrackSubscribed, watchTrack);
  room.on(LK.RoomEvent.TrackUnsubscribed, (_track, pub) => unwatchTrack(pub));
  room.on(LK.RoomEvent.Disconnected, (reason) => log('disconnected', reason));
  await room.setE2EEEnabled(true);
  await room.connect(url, token);
  await state.actx.resume();
  if (toneHz > 0) {
    state.oscillator = state.actx.createOscillator();
    state.oscillator.frequency.value = toneHz;
    const dst = state.actx.createMediaStreamDestination();
    state.oscillator.connect(dst);
    state.oscillator.start();
    // The local tone's onsets, measured as the remote ones are: the
    // analysis's own latency, a reference for theirs.
    addWatcher(state.actx.createMediaStreamSource(dst.stream), room.localParticipant.identity, 'tone');
    await room.localParticipant.publishTrack(dst.stream.getAudioTracks()[0], {
      name: 'tone', source: LK.Track.Source.Microphone, dtx: false,
    });
  }
  log('joined', room.localParticipant.identity, 'e2ee', room.isE2EEEnabled);
  return { identity: room.localParticipant.identity, e2ee: room.isE2EEEnabled };
}

async function setKey({ identity, index, key }) {
  if (!state.keys) throw new Error('not joined');
  await state.keys.setRaw(identity, key, index);
  return {};
}

function report() {
  const room = state.room;
  const tracks = [];
  for (const entry of state.tracks.values()) {
    const d = dominant(entry);
    tracks.push({
      participant: entry.identity, name: entry.name, encrypted: entry.publication.isEncrypted,
      frequencyHz: d.hz, levelDb: d.db, windowMs: entry.spectra.length * SAMPLE_MS,
    });
  }
  return {
    connected: !!room && room.state === LK.ConnectionState.Connected,
    state: room ? room.state : 'disconnected',
    e2eeEnabled: !!room && room.isE2EEEnabled,
    encryptionErrors: state.encryptionErrors,
    errorsByParticipant: state.errorsBy,
    errorMessages: state.errorMessages,
    encryptionStatus: state.encryptionStatus,
    tracks,
  };
}

async function leave() {
  if (!state.room) return {};
  for (const entry of state.tracks.values()) clearInterval(entry.timer);
  state.tracks.clear();
  clearInterval(state.onsetTimer);
  state.watchers = [];
  if (state.oscillator) state.oscillator.stop();
  await state.room.disconnect();
  await state.actx.close();
  state.room = null;
  return {};
}

window.harness = { join, setKey, report, toneSwitch, onset, leave, e2eeSupported: () => LK.isE2EESupported() };
