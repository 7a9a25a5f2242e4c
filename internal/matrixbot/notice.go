package matrixbot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Errors of SendNotice and SendRoomEvent.
var (
	// ErrNotice: a notice could not be sent (wrapped with the cause).
	ErrNotice = errors.New("matrixbot: send notice")
	// ErrRoomEncryptionUnknown: whether the room is encrypted could not
	// be learned, so nothing was sent (never plaintext on a guess).
	ErrRoomEncryptionUnknown = errors.New("matrixbot: room encryption state unknown")
)

// noticeTimeout bounds one SendRoomEvent (SendNotice), key sharing included.
const noticeTimeout = 30 * time.Second

// Notice is an m.notice: Body is the plain body; HTML, if set, the
// formatted_body (org.matrix.custom.html), already escaped by the caller.
// ReplyTo, if set, makes it a reply to that event of the room (a command
// being answered): m.relates_to with m.in_reply_to, without the fallback
// quote the spec no longer asks for.
type Notice struct {
	Body    string
	HTML    string
	ReplyTo id.EventID
}

// content is the m.room.message content of n. "m.mentions" is always
// present and empty: text in a notice (a call ID, a reason) may come from
// others and must not ping anyone.
func (n Notice) content() map[string]any {
	c := map[string]any{
		"msgtype":    event.MsgNotice,
		"body":       n.Body,
		"m.mentions": map[string]any{},
	}
	if n.HTML != "" {
		c["format"] = event.FormatHTML
		c["formatted_body"] = n.HTML
	}
	if n.ReplyTo != "" {
		c["m.relates_to"] = map[string]any{"m.in_reply_to": map[string]any{"event_id": n.ReplyTo}}
	}
	return c
}

// SendNotice sends n into room as an m.notice: Megolm-encrypted (as
// m.room.encrypted, its session shared with every joined member's devices)
// when the room is encrypted, plain otherwise. A reply's m.relates_to is in
// the encrypted payload and, as the spec asks (relations stay visible to
// the server), copied by mautrix to the cleartext envelope. When the room's encryption
// cannot be learned (not synced yet and the homeserver unreachable) it
// sends nothing and returns ErrRoomEncryptionUnknown. Errors wrap ErrNotice.
// It may be called from any goroutine once LoggedIn is closed, until Close.
func (b *Bot) SendNotice(ctx context.Context, room id.RoomID, n Notice) error {
	if err := b.SendRoomEvent(ctx, room, event.EventMessage, n.content()); err != nil {
		return fmt.Errorf("%w: %w", ErrNotice, err)
	}
	return nil
}

// SendRoomEvent sends a room event of type typ (a message type, not
// state): Megolm-encrypted, as SendNotice says, when room is encrypted,
// plain otherwise; never plaintext on a guess (ErrRoomEncryptionUnknown).
// 1:1 call events (m.call.*) go this way. It may be called from any
// goroutine once LoggedIn is closed, until Close.
func (b *Bot) SendRoomEvent(ctx context.Context, room id.RoomID, typ event.Type, content any) error {
	ctx, cancel := context.WithTimeout(ctx, noticeTimeout)
	defer cancel()
	cli := b.Client()
	if cli == nil {
		return ErrCryptoNotReady
	}
	typ.Class = event.MessageEventType
	encrypted, err := b.roomEncryption(ctx, cli, room)
	if err != nil {
		return fmt.Errorf("send %s in %s: %w", typ.Type, room, err)
	}
	sendType, sendContent := typ, content
	if encrypted {
		sendType = event.EventEncrypted
		if sendContent, err = b.encryptRoomEvent(ctx, cli, room, typ, content); err != nil {
			return fmt.Errorf("send %s in %s: %w", typ.Type, room, err)
		}
	}
	if _, err := cli.SendMessageEvent(ctx, room, sendType, sendContent); err != nil {
		return fmt.Errorf("send %s in %s: %w", typ.Type, room, err)
	}
	return nil
}

// roomEncryption says whether room is encrypted: yes when the sync
// delivered its m.room.encryption, else as the homeserver's current state
// says (the sync may not have caught up). Only the homeserver's "no such
// state" means unencrypted; any other failure is ErrRoomEncryptionUnknown.
func (b *Bot) roomEncryption(ctx context.Context, cli *mautrix.Client, room id.RoomID) (bool, error) {
	if b.RoomEncrypted(room) {
		return true, nil
	}
	var c map[string]any
	err := cli.StateEvent(ctx, room, event.StateEncryption, "", &c)
	switch {
	case errors.Is(err, mautrix.MNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("%w: %w", ErrRoomEncryptionUnknown, err)
	}
	// Any m.room.encryption state counts: encryption, once on, cannot be
	// turned off, so even odd content means encrypted.
	return true, nil
}
