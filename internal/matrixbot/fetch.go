package matrixbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/crypto/attachment"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Reading one room event and downloading media, for features that act on
// what a user pointed at (an upload to play, the command it answers).

// Errors of RoomEvent and Download.
var (
	// ErrRoomEvent: the event could not be fetched or read (wrapped with
	// the cause).
	ErrRoomEvent = errors.New("matrixbot: room event")
	// ErrNoRoomKey: the event is Megolm-encrypted with a session whose
	// key the bot does not hold (yet).
	ErrNoRoomKey = errors.New("matrixbot: room key missing")
	// ErrDownload: the media could not be downloaded or decrypted (wrapped
	// with the cause).
	ErrDownload = errors.New("matrixbot: download")
	// ErrTooLarge: the media is larger than the caller allows.
	ErrTooLarge = errors.New("matrixbot: media too large")
)

const (
	// roomEventTimeout bounds one RoomEvent.
	roomEventTimeout = 30 * time.Second
	// downloadTimeout bounds one Download (the caller's bound on size
	// keeps it short; this only stops a stalled transfer).
	downloadTimeout = 2 * time.Minute
)

// RoomEvent fetches the event eventID of room as the bot sees it (GET
// /rooms/{room}/event/{id}): content parsed, Megolm-decrypted when it is
// m.room.encrypted (ErrNoRoomKey when the bot lacks the key; it does not
// ask for it). Errors wrap ErrRoomEvent. It may be called from any
// goroutine once LoggedIn is closed, until Close.
func (b *Bot) RoomEvent(ctx context.Context, room id.RoomID, eventID id.EventID) (*event.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, roomEventTimeout)
	defer cancel()
	cli := b.Client()
	o, err := b.currentOlm()
	if err != nil || cli == nil {
		return nil, fmt.Errorf("%w %s: %w", ErrRoomEvent, eventID, errors.Join(err, ErrCryptoNotReady))
	}
	body, err := cli.MakeFullRequest(ctx, mautrix.FullRequest{
		Method: http.MethodGet,
		URL:    cli.BuildClientURL("v3", "rooms", room, "event", eventID),
	})
	if err != nil {
		return nil, fmt.Errorf("%w %s in %s: %w", ErrRoomEvent, eventID, room, err)
	}
	evt, err := o.readEvent(ctx, room, body)
	if err != nil {
		return nil, fmt.Errorf("%w %s in %s: %w", ErrRoomEvent, eventID, room, err)
	}
	return evt, nil
}

// readEvent decodes a room event of room as the homeserver gave it and
// decrypts it if it is Megolm-encrypted.
func (o *olmDevice) readEvent(ctx context.Context, room id.RoomID, body []byte) (*event.Event, error) {
	var evt event.Event
	if err := json.Unmarshal(body, &evt); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if evt.RoomID != "" && evt.RoomID != room {
		return nil, fmt.Errorf("the homeserver gave an event of %s", evt.RoomID)
	}
	class := event.MessageEventType
	if evt.StateKey != nil {
		class = event.StateEventType
	}
	evt.RoomID, evt.Type.Class = room, class
	if err := evt.Content.ParseRaw(evt.Type); err != nil &&
		!errors.Is(err, event.ErrUnsupportedContentType) && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return nil, fmt.Errorf("content: %w", err)
	}
	if evt.Type != event.EventEncrypted {
		return &evt, nil
	}
	dec, err := o.mach.DecryptMegolmEvent(ctx, &evt)
	switch {
	case missingKey(err):
		return nil, fmt.Errorf("%w: %w", ErrNoRoomKey, err)
	case err != nil:
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	dec.RoomID = room
	return dec, nil
}

// Download fetches the media uri (an mxc:// URI) through the homeserver's
// authenticated media API, refusing with ErrTooLarge anything over
// maxBytes (by its Content-Length before reading, else after reading one
// byte more). With file, the media is an encrypted attachment: uri may be
// empty (file.URL is used) or must equal file.URL, and the bytes are
// checked against the file's hash and decrypted. Errors wrap ErrDownload.
// It may be called from any goroutine once LoggedIn is closed, until Close.
func (b *Bot) Download(ctx context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, maxBytes int64) ([]byte, error) {
	if file != nil {
		if uri != "" && uri != file.URL {
			return nil, fmt.Errorf("%w %s: the encrypted file is %s", ErrDownload, uri, file.URL)
		}
		uri = file.URL
	}
	mxc, err := uri.Parse()
	if err != nil || mxc.Homeserver == "" || mxc.FileID == "" || strings.Contains(mxc.FileID, "/") {
		return nil, fmt.Errorf("%w %q: not an mxc URI: %w", ErrDownload, uri, errors.Join(err, id.ErrInvalidContentURI))
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("%w %s: size bound %d", ErrDownload, uri, maxBytes)
	}
	cli := b.Client()
	if cli == nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDownload, uri, ErrCryptoNotReady)
	}
	ctx, cancel := context.WithTimeout(ctx, downloadTimeout)
	defer cancel()
	resp, err := cli.Download(ctx, mxc)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDownload, uri, err)
	}
	defer resp.Body.Close()
	data, err := readLimited(resp, maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", ErrDownload, uri, err)
	}
	if file != nil {
		if data, err = openAttachment(file, data); err != nil {
			return nil, fmt.Errorf("%w %s: %w", ErrDownload, uri, err)
		}
	}
	return data, nil
}

// readLimited reads resp's body, refusing one over limit bytes without
// reading more than limit+1.
func readLimited(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}

// openAttachment checks data, an encrypted attachment's bytes, against
// file's hash and decrypts it in place. It decrypts with a fresh copy of
// file's fields: mautrix caches decoded keys in the struct, which could
// be stale in one the caller built (and file is not changed).
func openAttachment(file *event.EncryptedFileInfo, data []byte) ([]byte, error) {
	raw, err := json.Marshal(&file.EncryptedFile)
	if err != nil {
		return nil, fmt.Errorf("encrypted attachment: %w", err)
	}
	var ef attachment.EncryptedFile
	if err := json.Unmarshal(raw, &ef); err != nil {
		return nil, fmt.Errorf("encrypted attachment: %w", err)
	}
	if err := ef.DecryptInPlace(data); err != nil {
		return nil, fmt.Errorf("encrypted attachment: %w", err)
	}
	return data, nil
}
