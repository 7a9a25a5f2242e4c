package membership

// MatrixRTCStateKey returns the org.matrix.msc3401.call.member state key
// "_{userId}_{deviceId}_{application}{callId}" (matrixrtc-js.md 1.2). The
// leading "_" is left out in room versions with owned state (msc3757,
// msc3779). callID is "" for the room-wide call (slot "ROOM").
func MatrixRTCStateKey(user, device, application, callID string, ownedState bool) string {
	key := user + "_" + device + "_" + application + callID
	if ownedState {
		return key
	}
	return "_" + key
}
