// Package livekit joins calls as a participant on the LiveKit SFU and enforces
// Matrix membership there (participants without a valid membership are
// removed).
package livekit
