package livekit

import (
	"bytes"
	"errors"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/switchboard-rtc/switchboard/e2ee/frame"
	"github.com/switchboard-rtc/switchboard/media"
)

// codecOf maps a track's MIME type to the media and frame-crypto codecs.
func codecOf(mime string) (media.Codec, frame.Codec, media.Kind, bool) {
	switch strings.ToLower(mime) {
	case strings.ToLower(webrtc.MimeTypeOpus):
		return media.Opus, frame.Opus, media.Audio, true
	case strings.ToLower(webrtc.MimeTypeVP8):
		return media.VP8, frame.VP8, media.Video, true
	case strings.ToLower(webrtc.MimeTypeVP9):
		return media.VP9, frame.VP9, media.Video, true
	case strings.ToLower(webrtc.MimeTypeH264):
		return media.H264, frame.H264, media.Video, true
	}
	return "", 0, 0, false
}

// subscribed starts reading a remote track: decrypted with the sender's
// ring (by its LiveKit identity) and offered to every feature.
func (p *participant) subscribed(c *conn, identity string, track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication) {
	mc, fc, kind, ok := codecOf(track.Codec().MimeType)
	if !ok {
		p.log.Info("ignoring a track of a codec we do not read", "identity", identity, "mime", track.Codec().MimeType)
		return
	}
	src := media.Source{Participant: identity, ID: pub.SID(), Kind: kind, Codec: mc, ClockRate: track.Codec().ClockRate}
	if pub.Source() == livekit.TrackSource_SCREEN_SHARE {
		src.Purpose = media.PurposeScreenshare
	}
	if ep, ok := participantFor(p.e.keys.Participants(p.call), identity); ok {
		src.UserID, src.DeviceID = string(ep.UserID), string(ep.DeviceID)
	}
	encrypted := pub.TrackInfo().GetEncryption() != livekit.Encryption_NONE
	var dec *frame.Decryptor
	if encrypted {
		var err error
		if dec, err = frame.NewDecryptor(p.keys.ring(identity), fc); err != nil {
			p.log.Error("cannot decrypt a track", "identity", identity, "err", err)
			return
		}
	}
	ts := &trackState{identity: identity, src: src, encrypted: encrypted}
	ts.active.Store(true)
	p.mu.Lock()
	peer := p.peers[identity]
	if peer == nil {
		peer = &peerState{identity: identity}
		p.peers[identity] = peer
	}
	peer.userID, peer.deviceID = src.UserID, src.DeviceID
	peer.addTrack(ts)
	p.mu.Unlock()
	r := &reader{track: track, src: src, dec: dec, sif: c.sif, st: ts, m: p.e.cfg.Metrics}
	p.offer(c, r)
	c.readers.Go(r.run)
}

// offer gives a new source to every running feature and keeps its reader
// among c's sources, for the features that start later.
func (p *participant) offer(c *conn, r *reader) {
	var sinks []featureSink
	for _, f := range p.feats.Running() {
		if s := f.Feature().SourceAdded(r.src); s != nil {
			sinks = append(sinks, featureSink{f, s})
		}
	}
	r.fan = newFanout(sinks)
	c.pruneSources()
	c.sources = append(c.sources, r)
}

// RequestKeyFrame asks the sender of a remote video source for a key frame
// (RTCP PLI), for a feature that passes video through. It does not block.
func (p *participant) RequestKeyFrame(src media.Source) {
	if src.Kind == media.Video {
		p.keyFrame.push(src.ID)
	}
}

// reader moves one remote track's frames from RTP to the features' sinks
// (the fan-out the participant's goroutine changes as features come and
// go).
type reader struct {
	track *webrtc.TrackRemote
	src   media.Source
	dec   *frame.Decryptor // nil: the track is not encrypted
	sif   []byte
	fan   *fanout
	st    *trackState
	m     *Metrics
}

// ended reports whether the reader has ended and closed its sinks.
func (r *reader) ended() bool { return r.fan.list.Load() == endedList }

func (r *reader) run() {
	defer r.st.active.Store(false)
	defer r.fan.end()
	asm := newAssembler(r.src.Codec)
	var plain []byte
	for {
		pkt, _, err := r.track.ReadRTP()
		if err != nil {
			return // the track or the connection ended
		}
		before := asm.dropped
		f, ok := asm.Push(pkt)
		r.st.counters.incomplete.Add(uint64(asm.dropped - before))
		if !ok {
			continue
		}
		data, ok := r.open(f.data, plain[:0])
		if !ok {
			continue
		}
		if r.dec != nil {
			plain = data // reuse the buffer for the next frame
		}
		r.st.counters.in.Add(1)
		r.m.frameIn()
		r.fan.write(media.Frame{Data: data, RTPTime: f.rtpTime, Duration: f.duration, KeyFrame: f.keyFrame, Received: time.Now()})
	}
}

// open returns a frame's plaintext (appended to dst when decrypted), or
// false for a frame to drop: server-injected, before its key, or failing
// to decrypt, each counted.
func (r *reader) open(data, dst []byte) ([]byte, bool) {
	if len(r.sif) > 0 && bytes.HasSuffix(data, r.sif) {
		r.st.counters.sif.Add(1)
		return nil, false
	}
	if r.dec == nil {
		return data, true
	}
	out, _, err := r.dec.Decrypt(dst, data)
	switch {
	case err == nil:
		return out, len(out) > 0
	case errors.Is(err, frame.ErrNoKey):
		r.st.counters.noKey.Add(1)
		r.m.undecrypted(true)
	default:
		r.st.counters.failed.Add(1)
		r.m.undecrypted(false)
	}
	return nil, false
}
