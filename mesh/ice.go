package mesh

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// ICEConfig says how peers reach each other: STUN/TURN servers, the UDP
// ports to gather on, the public addresses of a host behind 1:1 NAT, and a
// loopback-only mode for tests (rule: tests use loopback addresses only).
type ICEConfig struct {
	Servers []webrtc.ICEServer
	// PortMin and PortMax bound the UDP ports gathered on; both 0: any.
	PortMin, PortMax uint16
	// NAT1To1IPs are announced as host candidates in place of the
	// interface addresses.
	NAT1To1IPs []string
	// LoopbackOnly gathers on 127.0.0.1 only, without mDNS (tests).
	LoopbackOnly bool
}

// newAPI builds the pion API of one peer: Opus and VP8 only (what every
// Famedly client sends), the default interceptors (NACK, RTCP reports,
// TWCC), the ICE settings of c, and pion's logs in log.
func (c ICEConfig) newAPI(log *slog.Logger) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}}
	audio := webrtc.RTPCodecParameters{PayloadType: 111, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"}}
	video := webrtc.RTPCodecParameters{PayloadType: 96, RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb}}
	if err := m.RegisterCodec(audio, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("mesh: register opus: %w", err)
	}
	if err := m.RegisterCodec(video, webrtc.RTPCodecTypeVideo); err != nil {
		return nil, fmt.Errorf("mesh: register vp8: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, ir); err != nil {
		return nil, fmt.Errorf("mesh: interceptors: %w", err)
	}
	s := webrtc.SettingEngine{LoggerFactory: pionLogs{log}}
	if c.PortMin != 0 || c.PortMax != 0 {
		if err := s.SetEphemeralUDPPortRange(c.PortMin, c.PortMax); err != nil {
			return nil, fmt.Errorf("mesh: port range: %w", err)
		}
	}
	if len(c.NAT1To1IPs) > 0 {
		s.SetNAT1To1IPs(c.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	if c.LoopbackOnly {
		s.SetIncludeLoopbackCandidate(true)
		s.SetIPFilter(func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) })
		s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
		s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(s)), nil
}
