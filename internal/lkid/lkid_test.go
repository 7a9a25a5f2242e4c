package lkid

import "testing"

// The vectors lk-jwt-service and matrix-js-sdk pin.
func TestVectors(t *testing.T) {
	if got := Hashed("@alice:example.com", "DEVICE123", "memberABC"); got != "J+T45tGruxc+HrUOqJJlyQSV33m728Cme4+vt8/SWrU" {
		t.Errorf("Hashed = %s", got)
	}
	if got := Room("!roomid:example.com", "slot1234"); got != "O8437W3+jmzMVjoIP3tNwbm+XxHQk2iKpOA7aqw3qSc" {
		t.Errorf("Room = %s", got)
	}
	if got := Legacy("@alice:example.com", "DEVICE123"); got != "@alice:example.com:DEVICE123" {
		t.Errorf("Legacy = %s", got)
	}
}
