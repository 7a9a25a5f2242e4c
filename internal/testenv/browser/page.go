package browser

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// leaveTimeout bounds Leave: disconnecting and closing the page.
const leaveTimeout = 15 * time.Second

// KeyAt is one raw media key (16 bytes for MatrixRTC, 32 for Famedly) at its
// key index, as a participant announces it in Matrix.
type KeyAt struct {
	Key   []byte
	Index int
}

// JoinOptions say how a page joins a LiveKit room.
type JoinOptions struct {
	LiveKitURL string // ws://127.0.0.1:port
	Token      string
	Identity   string // the token's identity; Join checks the page got it
	// Keys by participant identity, the page's own included. The page keys
	// E2EE the way Element Call does: a BaseKeyProvider with sharedKey
	// false, no ratcheting, a 256-slot key ring, each raw key imported with
	// createKeyMaterialFromBuffer.
	Keys map[string]KeyAt
	// ToneHz, when above 0, publishes a WebAudio oscillator at that
	// frequency as the microphone track "tone".
	ToneHz int
}

// Page is one browser tab in a LiveKit room.
type Page struct {
	b        *Browser
	id       int
	identity string

	mu   sync.Mutex
	last string // the last report, for the failure log
}

// Report is what a page sees at one moment.
type Report struct {
	Connected bool `json:"connected"`
	// State is livekit-client's ConnectionState: "disconnected" once it
	// has given up (or was told to leave), "reconnecting" while it tries.
	State       string `json:"state"`
	E2EEEnabled bool   `json:"e2eeEnabled"`
	// EncryptionErrors counts livekit-client's EncryptionError events
	// (decryption failures, missing keys); the worker throttles repeats,
	// so this is a lower bound of failed frames, but 0 means none failed.
	EncryptionErrors    int             `json:"encryptionErrors"`
	ErrorsByParticipant map[string]int  `json:"errorsByParticipant"`
	ErrorMessages       []string        `json:"errorMessages"` // the first 20
	EncryptionStatus    map[string]bool `json:"encryptionStatus"`
	Tracks              []TrackReport   `json:"tracks"`
}

// TrackReport is one subscribed remote audio track.
type TrackReport struct {
	Participant string `json:"participant"`
	Name        string `json:"name"`
	Encrypted   bool   `json:"encrypted"` // published as E2EE (TrackInfo.encryption)
	// FrequencyHz is the loudest bin (5.9 Hz wide) of the mean power
	// spectrum over the last WindowMS (about 1 s), LevelDB its level in
	// dBFS (-200 for silence).
	FrequencyHz float64 `json:"frequencyHz"`
	LevelDB     float64 `json:"levelDb"`
	WindowMS    int     `json:"windowMs"`
}

// Track finds participant's track; an empty name matches any of theirs.
func (r Report) Track(participant, name string) (TrackReport, bool) {
	for _, tr := range r.Tracks {
		if tr.Participant == participant && (name == "" || tr.Name == name) {
			return tr, true
		}
	}
	return TrackReport{}, false
}

type wireKey struct {
	Identity string `json:"identity"`
	Index    int    `json:"index"`
	Key      string `json:"key"` // base64
}

// Join opens a page that joins the room with E2EE on. It returns once the
// page is connected and, with ToneHz, publishing.
func (b *Browser) Join(ctx context.Context, o JoinOptions) (*Page, error) {
	var opened struct {
		Page int `json:"page"`
	}
	if err := b.call(ctx, map[string]any{"op": "open", "url": b.base}, &opened); err != nil {
		return nil, fmt.Errorf("open page: %w", err)
	}
	p := &Page{b: b, id: opened.Page, identity: o.Identity}
	b.mu.Lock()
	b.pages = append(b.pages, p)
	b.mu.Unlock()
	keys := make([]wireKey, 0, len(o.Keys))
	for id, k := range o.Keys {
		keys = append(keys, wireKey{Identity: id, Index: k.Index, Key: base64.StdEncoding.EncodeToString(k.Key)})
	}
	var joined struct {
		Identity string `json:"identity"`
		E2EE     bool   `json:"e2ee"`
	}
	err := p.run(ctx, "join", map[string]any{"url": o.LiveKitURL, "token": o.Token, "keys": keys, "toneHz": o.ToneHz}, &joined)
	switch {
	case err != nil:
	case o.Identity != "" && joined.Identity != o.Identity:
		err = fmt.Errorf("%w: page joined as %q, want %q", ErrPage, joined.Identity, o.Identity)
	case !joined.E2EE:
		err = fmt.Errorf("%w: page joined without E2EE", ErrPage)
	}
	if err != nil {
		_ = p.Leave(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("join as %s: %w", o.Identity, err)
	}
	b.logf("page %d joined as %s", p.id, joined.Identity)
	return p, nil
}

// SetKey gives the page identity's raw key at index (a new or rotated key).
func (p *Page) SetKey(ctx context.Context, identity string, index int, raw []byte) error {
	return p.run(ctx, "setKey", wireKey{Identity: identity, Index: index, Key: base64.StdEncoding.EncodeToString(raw)}, nil)
}

// Report asks the page what it sees now.
func (p *Page) Report(ctx context.Context) (Report, error) {
	var raw json.RawMessage
	if err := p.run(ctx, "report", nil, &raw); err != nil {
		return Report{}, err
	}
	p.mu.Lock()
	p.last = string(raw)
	p.mu.Unlock()
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return Report{}, fmt.Errorf("%w: report: %v", ErrPage, err)
	}
	return r, nil
}

// Leave disconnects the page from LiveKit and closes it.
func (p *Page) Leave(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, leaveTimeout)
	defer cancel()
	err := p.run(ctx, "leave", nil, nil)
	if cerr := p.b.call(ctx, map[string]any{"op": "close", "page": p.id}, nil); err == nil {
		err = cerr
	}
	return err
}

func (p *Page) run(ctx context.Context, fn string, arg, out any) error {
	return p.b.call(ctx, map[string]any{"op": "call", "page": p.id, "fn": fn, "arg": arg}, out)
}

func (p *Page) lastReport() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// ToneSwitch is what the page says of a tone switch: when it happened and
// how finely onsets are measured. A remote track's onset is logged by a
// second AnalyserNode per track (fftSize 1024: a 21.3 ms window at 48 kHz,
// bins 46.9 Hz wide), polled every PollMS (4 ms, more when the page is
// busy); the onset is the first poll whose loudest bin is within a bin of
// the new frequency. A new tone dominates the window about half a window
// after it arrives, so an onset includes ~11 ms of analysis; the page's own
// tone, watched the same way, shows that part (Onset with its identity).
type ToneSwitch struct {
	AtMS     float64 `json:"at"` // performance.now() at the switch
	BinHz    float64 `json:"binHz"`
	WindowMS float64 `json:"windowMs"`
	PollMS   float64 `json:"pollMs"`
}

// Onset is the first poll after a switch in which its frequency dominated
// a track.
type Onset struct {
	LatencyMS float64 `json:"latencyMs"` // from the switch to that poll
	// PollGapMS is how long before that poll the previous one ran: the
	// onset happened within (LatencyMS-PollGapMS, LatencyMS].
	PollGapMS float64 `json:"pollGapMs"`
	Hz        float64 `json:"hz"` // the dominant bin's frequency
	LevelDB   float64 `json:"levelDb"`
	// MarginDB is how far that bin stands above the loudest bin outside
	// its lobe (more than 3 bins away).
	MarginDB float64 `json:"marginDb"`
}

// SwitchTone sets the page's published tone (JoinOptions.ToneHz) to hz
// now; the first call also starts the onset polling.
func (p *Page) SwitchTone(ctx context.Context, hz int) (ToneSwitch, error) {
	var s ToneSwitch
	err := p.run(ctx, "toneSwitch", map[string]any{"hz": hz}, &s)
	return s, err
}

// Onset waits up to timeout for hz to dominate participant's audio track
// (the page's own identity: its local tone) after the last SwitchTone. It
// fails if hz already dominated that track at the switch, or never does.
func (p *Page) Onset(ctx context.Context, participant string, hz int, timeout time.Duration) (Onset, error) {
	var o Onset
	err := p.run(ctx, "onset", map[string]any{"participant": participant, "hz": hz, "timeoutMs": timeout.Milliseconds()}, &o)
	return o, err
}
