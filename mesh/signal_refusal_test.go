package mesh

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Every refusal path of Decode, each from a valid example with one edit.
func TestDecodeRefuses(t *testing.T) {
	del := func(key string) func(map[string]any) { return func(m map[string]any) { delete(m, key) } }
	set := func(key string, v any) func(map[string]any) { return func(m map[string]any) { m[key] = v } }
	setIn := func(obj, key string, v any) func(map[string]any) {
		return func(m map[string]any) { sub(m, obj)[key] = v }
	}
	long := strings.Repeat("x", MaxIDLen+1)
	cand := func(c map[string]any) func(map[string]any) {
		return set("candidates", []any{c})
	}
	many := make([]any, MaxCandidates+1)
	for i := range many {
		many[i] = map[string]any{"candidate": ""}
	}
	streams := map[string]any{}
	for i := range MaxStreams + 1 {
		streams[strings.Repeat("s", i+1)] = map[string]any{"purpose": "m.usermedia"}
	}
	tests := []struct {
		name string
		file string
		edit func(map[string]any)
		want error
	}{
		{"missing version", "room_hangup.json", del("version"), ErrMalformed},
		{"version 2", "room_hangup.json", set("version", "2"), ErrUnsupported},
		{"integer version 2", "room_hangup.json", set("version", 2), ErrUnsupported},
		{"version string 0", "room_hangup.json", set("version", "0"), ErrUnsupported},
		{"version 1.5", "room_hangup.json", set("version", 1.5), ErrUnsupported},
		{"missing call_id", "room_hangup.json", del("call_id"), ErrMalformed},
		{"empty call_id", "room_hangup.json", set("call_id", ""), ErrMalformed},
		{"numeric call_id", "room_hangup.json", set("call_id", 5), ErrMalformed},
		{"long call_id", "room_hangup.json", set("call_id", long), ErrTooLarge},
		{"missing party_id", "room_hangup.json", del("party_id"), ErrMalformed},
		{"empty party_id", "room_hangup.json", set("party_id", ""), ErrMalformed},
		{"group without room_id", "group_hangup.json", del("room_id"), ErrMalformed},
		{"group without conf_id", "group_hangup.json", del("conf_id"), ErrMalformed},
		{"group numeric conf_id", "group_hangup.json", set("conf_id", 0), ErrMalformed},
		{"group without sender_session_id", "group_hangup.json", del("sender_session_id"), ErrMalformed},
		{"group long dest_session_id", "group_hangup.json", set("dest_session_id", long), ErrTooLarge},
		{"group string seq", "group_hangup.json", set("seq", "1"), ErrMalformed},
		{"group fractional seq", "group_hangup.json", set("seq", 1.5), ErrMalformed},
		{"group negative seq", "group_hangup.json", set("seq", -1), ErrMalformed},
		{"group huge seq", "group_hangup.json", set("seq", json.Number("9007199254740993")), ErrMalformed},
		{"group invite without device_id", "group_invite.json", del("device_id"), ErrMalformed},
		{"group invite empty device_id", "group_invite.json", set("device_id", ""), ErrMalformed},
		{"invite without lifetime", "room_invite.json", del("lifetime"), ErrMalformed},
		{"invite string lifetime", "room_invite.json", set("lifetime", "60000"), ErrMalformed},
		{"invite fractional lifetime", "room_invite.json", set("lifetime", 60000.5), ErrMalformed},
		{"invite exponent lifetime", "room_invite.json", set("lifetime", json.Number("6e4")), ErrMalformed},
		{"invite zero lifetime", "room_invite.json", set("lifetime", 0), ErrMalformed},
		{"invite huge lifetime", "room_invite.json", set("lifetime", MaxLifetime+1), ErrMalformed},
		{"invite without offer", "room_invite.json", del("offer"), ErrMalformed},
		{"invite offer not object", "room_invite.json", set("offer", "v=0"), ErrMalformed},
		{"invite offer without sdp", "room_invite.json", func(m map[string]any) { delete(sub(m, "offer"), "sdp") }, ErrMalformed},
		{"invite offer without type", "room_invite.json", func(m map[string]any) { delete(sub(m, "offer"), "type") }, ErrMalformed},
		{"invite offer of type answer", "room_invite.json", setIn("offer", "type", "answer"), ErrMalformed},
		{"invite empty sdp", "room_invite.json", setIn("offer", "sdp", ""), ErrMalformed},
		{"invite garbage sdp", "room_invite.json", setIn("offer", "sdp", "hello"), ErrMalformed},
		{"invite huge sdp", "room_invite.json", setIn("offer", "sdp", "v=0\r\n"+strings.Repeat("a=x\r\n", MaxSDPBytes/5)), ErrTooLarge},
		{"invite numeric invitee", "room_invite.json", set("invitee", 1), ErrMalformed},
		{"invite long invitee_device_id", "room_invite.json", set("invitee_device_id", long), ErrTooLarge},
		{"invite capabilities not object", "room_invite.json", set("capabilities", true), ErrMalformed},
		{"invite string capability", "room_invite.json", setIn("capabilities", "m.call.dtmf", "no"), ErrMalformed},
		{"invite metadata not object", "room_invite.json", set(metadataKey, []any{}), ErrMalformed},
		{"metadata entry null", "room_invite.json", setIn(metadataKey, "stream-id", nil), ErrMalformed},
		{"metadata without purpose", "room_invite.json", setIn(metadataKey, "stream-id", map[string]any{"audio_muted": true}), ErrMalformed},
		{"metadata unknown purpose", "room_invite.json", setIn(metadataKey, "stream-id", map[string]any{"purpose": "m.other"}), ErrUnsupported},
		{"metadata string mute", "room_invite.json", setIn(metadataKey, "stream-id", map[string]any{"purpose": "m.usermedia", "audio_muted": "true"}), ErrMalformed},
		{"metadata empty stream id", "room_invite.json", setIn(metadataKey, "", map[string]any{"purpose": "m.usermedia"}), ErrMalformed},
		{"metadata too many streams", "room_invite.json", set(metadataKey, streams), ErrTooLarge},
		{"answer without answer", "room_answer.json", del("answer"), ErrMalformed},
		{"answer of type offer", "room_answer.json", setIn("answer", "type", "offer"), ErrMalformed},
		{"candidates missing", "room_candidates.json", del("candidates"), ErrMalformed},
		{"candidates not array", "room_candidates.json", set("candidates", map[string]any{}), ErrMalformed},
		{"candidates too many", "room_candidates.json", set("candidates", many), ErrTooLarge},
		{"candidate not object", "room_candidates.json", set("candidates", []any{"candidate:1"}), ErrMalformed},
		{"candidate numeric", "room_candidates.json", cand(map[string]any{"candidate": 1}), ErrMalformed},
		{"candidate long", "room_candidates.json", cand(map[string]any{"candidate": strings.Repeat("c", MaxCandidateBytes+1)}), ErrTooLarge},
		{"candidate with newline", "room_candidates.json", cand(map[string]any{"candidate": "candidate:1 1 udp 2 127.0.0.1 9 typ host\r\na=x"}), ErrMalformed},
		{"candidate numeric mid", "room_candidates.json", cand(map[string]any{"candidate": "", "sdpMid": 0}), ErrMalformed},
		{"candidate string index", "room_candidates.json", cand(map[string]any{"candidate": "", "sdpMLineIndex": "0"}), ErrMalformed},
		{"candidate negative index", "room_candidates.json", cand(map[string]any{"candidate": "", "sdpMLineIndex": -1}), ErrMalformed},
		{"candidate huge index", "room_candidates.json", cand(map[string]any{"candidate": "", "sdpMLineIndex": 1e9}), ErrMalformed},
		{"select_answer without party", "room_select_answer.json", del("selected_party_id"), ErrMalformed},
		{"select_answer empty party", "room_select_answer.json", set("selected_party_id", ""), ErrMalformed},
		{"hangup numeric reason", "room_hangup.json", set("reason", 1), ErrMalformed},
		{"hangup long reason", "room_hangup.json", set("reason", long), ErrTooLarge},
		{"reject object reason", "room_reject.json", set("reason", map[string]any{}), ErrMalformed},
		{"negotiate without description", "room_negotiate.json", del("description"), ErrMalformed},
		{"negotiate pranswer", "room_negotiate.json", setIn("description", "type", "pranswer"), ErrMalformed},
		{"negotiate string lifetime", "room_negotiate.json", set("lifetime", "10000"), ErrMalformed},
		{"metadata_changed without metadata", "room_sdp_stream_metadata_changed.json", del(metadataKey), ErrMalformed},
		{"metadata_changed null metadata", "room_sdp_stream_metadata_changed.json", set(metadataKey, nil), ErrMalformed},
	}
	types := exampleTypes(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(types[tt.file], readExample(t, tt.file)); err != nil {
				t.Fatalf("unedited %s: %v", tt.file, err)
			}
			_, err := Decode(types[tt.file], mutate(t, tt.file, tt.edit))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeRefusesContent(t *testing.T) {
	tests := []struct {
		name, typ, content string
		want               error
	}{
		{"unknown type", "m.call.replaces", `{}`, ErrUnsupported},
		{"key event", "com.famedly.call.member.encryption_keys", `{}`, ErrUnsupported},
		{"array", "m.call.hangup", `[]`, ErrMalformed},
		{"null", "m.call.hangup", `null`, ErrMalformed},
		{"truncated", "m.call.hangup", `{"call_id":"c"`, ErrMalformed},
		{"empty", "m.call.hangup", ``, ErrMalformed},
		{"too large", "m.call.hangup", `{"x":"` + strings.Repeat("x", MaxContentBytes) + `"}`, ErrTooLarge},
		{"deep", "m.call.hangup", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), ErrMalformed},
		{"asserted_identity missing", "m.call.asserted_identity", `{"call_id":"c","party_id":"p","version":"1"}`, ErrMalformed},
		{"asserted_identity long url", "m.call.asserted_identity",
			`{"call_id":"c","party_id":"p","version":"1","asserted_identity":{"avatar_url":"` + strings.Repeat("u", MaxURLLen+1) + `"}}`, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.typ, json.RawMessage(tt.content)); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

// Keys match exactly, as in the SDK: encoding/json's case-insensitive
// struct matching would read CALL_ID as call_id.
func TestDecodeKeysExact(t *testing.T) {
	raw := json.RawMessage(`{"CALL_ID":"c","party_id":"p","version":"1"}`)
	if _, err := Decode("m.call.hangup", raw); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err %v, want ErrMalformed (no call_id)", err)
	}
}
