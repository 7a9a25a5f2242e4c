package callwire

import (
	"net"
	"sync/atomic"
	"testing"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// CutPath is the one UDP socket (127.0.0.1) of a test peer's connections,
// which the test can cut, as a network losing every packet would: while
// cut, what arrives is read and dropped and what is written is dropped
// (reported sent). The other side (the coordinator) is not touched: it
// just stops hearing from us, and its ICE goes disconnected.
type CutPath struct {
	net.PacketConn // an interface: pion must not reach the *net.UDPConn's own read/write methods
	cut            atomic.Bool
}

// Cut drops every packet from now on, both ways.
func (c *CutPath) Cut() { c.cut.Store(true) }

// Restore lets packets through again.
func (c *CutPath) Restore() { c.cut.Store(false) }

// ReadFrom returns the next packet that arrives while the path is not cut.
func (c *CutPath) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

// WriteTo sends b unless the path is cut.
func (c *CutPath) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.PacketConn.WriteTo(b, addr)
}

// CuttableAPI is LoopbackAPI with every connection on one socket of
// 127.0.0.1, a CutPath (an ICE UDP mux over it: the connections tell
// their packets apart by ICE credentials, so an ICE restart keeps the
// path). Give it to one test peer only: cutting the path cuts all of its
// connections. The socket closes when the test ends.
func CuttableAPI(t testing.TB) (*webrtc.API, *CutPath) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := &CutPath{PacketConn: conn}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: path})
	t.Cleanup(func() { _ = mux.Close() }) // closes the socket; its reader ends
	api, err := loopbackAPI(mux)
	if err != nil {
		t.Fatal(err)
	}
	return api, path
}
