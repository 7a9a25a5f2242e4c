package matrixbot

import (
	"testing"
	"time"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/internal/testenv"
)

// TestStickyMembershipsAfterRestart (#9 defect 5): the first sync of a run
// is a full snapshot for the in-memory consumers, but the homeserver sends
// sticky events only once (full_state covers state, not stickiness). After
// a restart the sticky memberships still sticky, clear and encrypted, are
// in that first batch again.
func TestStickyMembershipsAfterRestart(t *testing.T) {
	sc := newCryptoScene(t)
	env, r1, alice, aliceUser := sc.env, sc.bot, sc.alice, sc.aliceUser
	ctx := t.Context()
	plain := env.CreateRoom(t, aliceUser)
	encrypted := env.CreateEncryptedRoom(t, alice)
	joinRooms(t, r1, aliceUser, plain, encrypted)
	plainID, err := testenv.SendSticky(ctx, aliceUser.Client, plain, testenv.RTCMember,
		testenv.RTCMemberContent(aliceUser.ID, alice.DeviceID(), "m-plain", env.ServiceURL), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := alice.SendStickyEncrypted(ctx, encrypted, testenv.RTCMember,
		testenv.RTCMemberContent(aliceUser.ID, alice.DeviceID(), "m-enc", env.ServiceURL), time.Hour, aliceUser.ID, sc.cfg.UserID)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[id.EventID]bool{}
	r1.next(t, 20*time.Second, "both memberships", func(e Event) bool {
		if e.Evt != nil && (e.Evt.ID == plainID || e.Evt.ID == enc && e.Decrypted) {
			seen[e.Evt.ID] = true
		}
		return len(seen) == 2 && e.Kind == KindSyncDone
	})
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}

	r2 := start(t, newBot(t, sc.logger, sc.cfg))
	clear2, enc2 := false, false
	r2.next(t, 20*time.Second, "the first sync after the restart", func(e Event) bool {
		if e.Kind == KindTimeline && e.Evt != nil && e.Evt.Type == testenv.RTCMember {
			clear2 = clear2 || e.Evt.ID == plainID && e.RoomID == plain
			enc2 = enc2 || e.Evt.ID == enc && e.RoomID == encrypted && e.Decrypted
		}
		return e.Kind == KindSyncDone
	})
	if !clear2 || !enc2 {
		t.Errorf("first batch after the restart: clear membership %v, encrypted membership (decrypted) %v; want both", clear2, enc2)
	}
}
