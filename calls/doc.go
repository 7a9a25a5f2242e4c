// Package calls is the call supervisor: the one owner of which calls the
// coordinator takes part in, with which engine and which focus. It reads
// the members from the tracker, applies the join policy and the bounds on
// our seats, asks the engines (through the Engine interface it declares)
// which of them can carry each call, then tells the seat writer
// (membership.Presence) which memberships to hold and the engines which
// calls to carry. Every decision and its reason is kept for the admin
// view. Engines never know each other; choosing between them happens here
// and nowhere else.
package calls
