package main

import (
	"log/slog"

	"maunium.net/go/mautrix/id"

	"github.com/switchboard-rtc/switchboard/e2ee"
	"github.com/switchboard-rtc/switchboard/internal/matrixbot"
	"github.com/switchboard-rtc/switchboard/membership"
)

// newExchange builds the key exchange of our calls from the e2ee section
// (validated already).
func newExchange(cfg *Config, logger *slog.Logger, bot *matrixbot.Bot, tracker *membership.Tracker, store *e2ee.KeyStore,
	metrics *e2ee.Metrics) *e2ee.Exchange {
	c := cfg.E2EE
	return e2ee.NewExchange(bot, tracker, store, e2ee.ExchangeOptions{
		Logger:            logger,
		FamedlyEventTypes: c.FamedlyEventTypes,
		RefusePlaintext:   !c.AllowPlaintextKeys,
		HoldFor:           c.HoldFor,
		Famedly:           &e2ee.Timings{ReuseFor: c.FamedlyReuseFor, UseDelay: c.FamedlyUseDelay, RotateDelay: c.FamedlyRotateDelay},
		MatrixRTC:         &e2ee.Timings{ReuseFor: c.RTCReuseFor, UseDelay: c.RTCUseDelay, RotateDelay: c.RTCRotateDelay},
		SendTimeout:       cfg.Matrix.RequestTimeout,
		Metrics:           metrics,
	})
}

// keyReport shows the key store in the admin API's room view.
type keyReport struct{ store *e2ee.KeyStore }

var _ membership.KeyReporter = keyReport{}

func (k keyReport) KeysFor(room id.RoomID) any { return k.store.Report(e2ee.ReportFilter{Room: room}) }
