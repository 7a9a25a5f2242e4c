package mesh

import (
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/media"
)

// muteSink records the frames and mute marks it gets, in order.
type muteSink struct {
	mu     sync.Mutex
	events []string
}

func (s *muteSink) log(e string) { s.mu.Lock(); s.events = append(s.events, e); s.mu.Unlock() }

func (s *muteSink) WriteFrame(media.Frame) { s.log("frame") }
func (s *muteSink) Close()                 { s.log("close") }
func (s *muteSink) Muted(m bool, _ time.Time) {
	if m {
		s.log("muted")
	} else {
		s.log("unmuted")
	}
}

// muteFeature gives each source a muteSink, by source id.
type muteFeature struct {
	mu      sync.Mutex
	sinks   map[string]*muteSink
	purpose map[string]string
}

func (f *muteFeature) SourceAdded(src media.Source) media.Sink {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &muteSink{}
	f.sinks[src.ID], f.purpose[src.ID] = s, src.Purpose
	return s
}
func (f *muteFeature) Close() error { return nil }

// TestEngineForwardsMute: a peer's stream metadata reaches the sinks of
// its sources as mute marks (audio_muted for audio, video_muted for
// video; only changes; in order with the frames; none after the source
// ended; a source that comes while muted starts muted), and each source
// carries its stream's purpose.
func TestEngineForwardsMute(t *testing.T) {
	feat := &muteFeature{sinks: map[string]*muteSink{}, purpose: map[string]string{}}
	c := &meshCall{}
	m := &c.media
	m.c = c
	c.feats = media.NewFeatureSet(m, m, slog.New(slog.DiscardHandler))
	c.feats.Want([]media.Factory{featureOf{"f", feat}})
	c.feats.Apply(true)
	const who = "@amy:x:DA"
	src := func(id string, kind media.Kind, stream string, p Purpose) media.Sink {
		return m.sourceAdded(RemoteStream{Source: media.Source{Participant: who, ID: id, Kind: kind},
			StreamID: stream, Purpose: p})
	}
	mic, cam := src("mic", media.Audio, "s1", PurposeUserMedia), src("cam", media.Video, "s1", PurposeUserMedia)
	other := m.sourceAdded(RemoteStream{Source: media.Source{Participant: "@bob:x:DB", ID: "bmic", Kind: media.Audio}, StreamID: "s1"})
	mic.WriteFrame(media.Frame{})
	m.metadataChanged(who, StreamMetadata{"s1": {Purpose: PurposeUserMedia, AudioMuted: true}})
	m.metadataChanged(who, StreamMetadata{"s1": {Purpose: PurposeUserMedia, AudioMuted: true}})
	mic.WriteFrame(media.Frame{})
	m.metadataChanged(who, StreamMetadata{"s1": {Purpose: PurposeUserMedia, VideoMuted: true}})
	share := src("screen", media.Video, "s2", PurposeScreenshare)
	m.metadataChanged(who, StreamMetadata{"s1": {Purpose: PurposeUserMedia, VideoMuted: true},
		"s2": {Purpose: PurposeScreenshare, VideoMuted: true}})
	share.Close()
	m.metadataChanged(who, StreamMetadata{"s1": {Purpose: PurposeUserMedia}})
	late := src("mic2", media.Audio, "s3", PurposeUserMedia)
	m.metadataChanged(who, StreamMetadata{"s3": {AudioMuted: true}})
	late2 := src("mic3", media.Audio, "s3", PurposeUserMedia)
	for _, s := range []media.Sink{mic, cam, other, late, late2} {
		s.Close()
	}
	for id, want := range map[string][]string{
		"mic":    {"frame", "muted", "frame", "unmuted", "close"},
		"cam":    {"muted", "unmuted", "close"},
		"bmic":   {"close"},
		"screen": {"muted", "close"},
		"mic2":   {"muted", "close"},
		"mic3":   {"muted", "close"},
	} {
		if got := feat.sinks[id].events; !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", id, got, want)
		}
	}
	if feat.purpose["screen"] != "m.screenshare" || feat.purpose["mic"] != "m.usermedia" || feat.purpose["bmic"] != "" {
		t.Errorf("purposes %v", feat.purpose)
	}
}

// featureOf is a factory that starts feat.
type featureOf struct {
	name string
	feat media.Feature
}

func (f featureOf) Name() string                                          { return f.name }
func (f featureOf) Start(media.Call, *slog.Logger) (media.Feature, error) { return f.feat, nil }
