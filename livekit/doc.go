// Package livekit enforces Matrix call membership on the LiveKit SFU: a
// participant of a LiveKit room that belongs to a Matrix room the bot is in,
// and that has no valid call membership there past a grace period, is
// removed, and a room with no member left is deleted (Enforcer). The
// coordinator as a LiveKit participant is planned and not in this package
// yet.
package livekit
