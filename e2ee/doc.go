// Package e2ee exchanges media keys over Olm-encrypted to-device messages in
// both dialects (Famedly and Element Call), validates and stores them per
// participant, and encrypts and decrypts media frames in LiveKit's format.
package e2ee
