package matrixbot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// TestRoomEvent (#13 announce) runs the bot on the real Synapse: it reads
// a plain message of a room, and a Megolm-encrypted one decrypted; one
// under a session it was not given fails with ErrNoRoomKey, an unknown
// event with ErrRoomEvent alone.
func TestRoomEvent(t *testing.T) {
	sc := newCryptoScene(t)
	r, alice, aliceUser, botUser := sc.bot, sc.alice, sc.aliceUser, sc.cfg.UserID
	ctx := t.Context()
	encRoom, plainRoom := sc.twoRooms(t)

	plain := sc.say(t, plainRoom, "hello")
	got, err := r.RoomEvent(ctx, plainRoom, plain)
	if err != nil || got.ID != plain || got.Type != event.EventMessage || got.Content.AsMessage().Body != "hello" {
		t.Fatalf("plain event: %v, %+v", err, got)
	}

	enc, err := alice.SendRoomEncrypted(ctx, encRoom, event.EventMessage, textMessage("secret"), aliceUser.ID, botUser)
	if err != nil {
		t.Fatal(err)
	}
	r.next(t, 20*time.Second, "the key (the message decrypted)", eventIn(encRoom, enc))
	got, err = r.RoomEvent(ctx, encRoom, enc)
	if err != nil || got.ID != enc || got.Type != event.EventMessage || got.Sender != aliceUser.ID ||
		got.Content.AsMessage().Body != "secret" || got.RoomID != encRoom {
		t.Fatalf("encrypted event: %v, %+v", err, got)
	}

	if err := alice.Machine.CryptoStore.RemoveOutboundGroupSession(ctx, encRoom); err != nil {
		t.Fatal(err)
	}
	keyless, err := alice.SendRoomEncrypted(ctx, encRoom, event.EventMessage, textMessage("unshared"), aliceUser.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RoomEvent(ctx, encRoom, keyless); !errors.Is(err, ErrRoomEvent) || !errors.Is(err, ErrNoRoomKey) {
		t.Fatalf("event without its key: %v", err)
	}
	if _, err := r.RoomEvent(ctx, plainRoom, "$nosuchevent"); !errors.Is(err, ErrRoomEvent) || errors.Is(err, ErrNoRoomKey) {
		t.Fatalf("unknown event: %v", err)
	}
}

// TestDownload (#13 announce) runs the bot on the real Synapse: it
// downloads alice's upload through authenticated media, refuses it when
// it is over the size bound, decrypts an encrypted attachment, and
// refuses one whose bytes do not match the file's hash, a URI that does
// not match the file's, and what is not an mxc URI.
func TestDownload(t *testing.T) {
	sc := newCryptoScene(t)
	r, aliceUser := sc.bot, sc.aliceUser
	ctx := t.Context()
	data := make([]byte, 1000)
	_, _ = rand.Read(data)
	upload := func(b []byte) id.ContentURIString {
		t.Helper()
		resp, err := aliceUser.Client.UploadBytes(ctx, b, "application/octet-stream")
		if err != nil {
			t.Fatal(err)
		}
		return resp.ContentURI.CUString()
	}

	uri := upload(data)
	if got, err := r.Download(ctx, uri, nil, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v, %d bytes", err, len(got))
	}
	if _, err := r.Download(ctx, uri, nil, int64(len(data))-1); !errors.Is(err, ErrDownload) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("download over the bound: %v", err)
	}

	ef := attachment.NewEncryptedFile()
	ciphertext := bytes.Clone(data)
	ef.EncryptInPlace(ciphertext)
	file := &event.EncryptedFileInfo{EncryptedFile: *ef, URL: upload(ciphertext)}
	if got, err := r.Download(ctx, "", file, int64(len(data))); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("encrypted attachment: %v, %d bytes", err, len(got))
	}
	tampered := bytes.Clone(ciphertext)
	tampered[0] ^= 1
	bad := &event.EncryptedFileInfo{EncryptedFile: *ef, URL: upload(tampered)}
	if _, err := r.Download(ctx, "", bad, int64(len(data))); !errors.Is(err, ErrDownload) || !errors.Is(err, attachment.ErrHashMismatch) {
		t.Fatalf("tampered attachment: %v", err)
	}
	if _, err := r.Download(ctx, uri, file, int64(len(data))); !errors.Is(err, ErrDownload) {
		t.Fatalf("uri not the file's: %v", err)
	}
	for _, u := range []id.ContentURIString{"https://example.org/x", "mxc://localhost", "mxc://localhost/a/../b", ""} {
		if _, err := r.Download(ctx, u, nil, 10); !errors.Is(err, ErrDownload) {
			t.Errorf("download %q: %v", u, err)
		}
	}
}
