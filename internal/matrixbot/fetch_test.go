package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/switchboard-rtc/switchboard/internal/leakcheck"
)

// endless is a body that never ends, counting what was read of it.
type endless struct{ read int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.read += int64(len(p))
	return len(p), nil
}

// TestReadLimited (#13): a body over the bound is refused by its
// Content-Length before anything is read, and one without a length after
// reading one byte more than the bound, never all of it.
func TestReadLimited(t *testing.T) {
	body := &endless{}
	_, err := readLimited(&http.Response{ContentLength: 1 << 40, Body: io.NopCloser(body)}, 100)
	if !errors.Is(err, ErrTooLarge) || body.read != 0 {
		t.Fatalf("declared too large: %v after reading %d bytes", err, body.read)
	}
	_, err = readLimited(&http.Response{ContentLength: -1, Body: io.NopCloser(body)}, 100)
	if !errors.Is(err, ErrTooLarge) || body.read > 1<<16 {
		t.Fatalf("endless body: %v after reading %d bytes", err, body.read)
	}
	got, err := readLimited(&http.Response{ContentLength: -1, Body: io.NopCloser(strings.NewReader(strings.Repeat("y", 100)))}, 100)
	if err != nil || len(got) != 100 {
		t.Fatalf("body at the bound: %v, %d bytes", err, len(got))
	}
}

// FuzzReadEvent feeds arbitrary event JSON, as a homeserver might answer
// GET /rooms/{room}/event/{id}, to the reader: it must never panic, and
// nothing encrypted comes out decrypted without a key.
func FuzzReadEvent(f *testing.F) {
	leakcheck.Check(f)
	_, o := offlineOlm(f)
	valid, _ := json.Marshal(megolmEvent(f, "$e", "s", 0))
	f.Add(valid)
	f.Add([]byte(`{"type":"m.room.message","event_id":"$m","sender":"@a:localhost","room_id":"!enc:localhost","content":{"msgtype":"m.text","body":"hi"}}`))
	f.Add([]byte(`{"type":"m.room.encrypted","room_id":"!other:localhost","content":{"algorithm":"m.megolm.v1.aes-sha2"}}`))
	f.Add([]byte(`{"type":"m.room.member","state_key":"@a:localhost","content":{"membership":7}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		evt, err := o.readEvent(ctx, cryptoRoom, data)
		if err == nil && (evt == nil || evt.Type == event.EventEncrypted || evt.RoomID != cryptoRoom) {
			t.Fatalf("read %+v", evt)
		}
	})
}

// FuzzOpenAttachment feeds arbitrary encrypted-file info (from a message's
// content) and bytes to the attachment decryption: it must never panic.
func FuzzOpenAttachment(f *testing.F) {
	f.Add([]byte(`{"url":"mxc://a/b","v":"v2","key":{"alg":"A256CTR","k":"qKbh9tdV4mwyU4WrQQVVUJjUZeM8FVdHjYBTaZpxdqA"},"iv":"X85+XgHN+HEAAAAAAAAAAA","hashes":{"sha256":"eFKzD9zvGqDdVcj7obAp2M8hpnrrvFcjoh5BznIDo6Q"}}`), []byte("0123456789"))
	f.Add([]byte(`{"v":"v2","key":{"alg":"A256CTR","k":"!"},"iv":"","hashes":{}}`), []byte{})
	f.Fuzz(func(t *testing.T, info, data []byte) {
		var file event.EncryptedFileInfo
		if json.Unmarshal(info, &file) != nil {
			return
		}
		n := len(data)
		if out, err := openAttachment(&file, data); err == nil && len(out) != n {
			t.Fatalf("%d bytes in, %d out", n, len(out))
		}
	})
}
