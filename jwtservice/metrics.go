package jwtservice

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Endpoint labels: fixed names of the routes, never the request's path.
const (
	EndpointSFUGet   = "sfu_get"
	EndpointGetToken = "get_token"
	EndpointDelegate = "delegate_delayed_leave"
	EndpointWebhook  = "sfu_webhook"
)

var endpoints = []string{EndpointSFUGet, EndpointGetToken, EndpointDelegate, EndpointWebhook}

// Metrics are the HTTP edge's counters and latencies. A nil *Metrics
// counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	errcodes []string // the errcodes the table can produce; others are "other"
}

// NewMetrics registers the edge's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "switchboard_http_requests_total",
			Help: "Requests to the token, delegation and webhook endpoints, by endpoint, HTTP status and Matrix errcode (none on success).",
		}, []string{"endpoint", "status", "errcode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "switchboard_http_request_duration_seconds",
			Help:    "Time to answer a request to the token, delegation and webhook endpoints, by endpoint.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"endpoint"}),
	}
	for _, row := range errorTable {
		if !slices.Contains(m.errcodes, row.errcode) {
			m.errcodes = append(m.errcodes, row.errcode)
		}
	}
	reg.MustRegister(m.requests, m.latency)
	for _, ep := range endpoints {
		m.requests.WithLabelValues(ep, "200", "none")
		m.latency.WithLabelValues(ep)
	}
	return m
}

// instrument counts and times h's answers under endpoint.
func (m *Metrics) instrument(endpoint string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	latency := m.latency.WithLabelValues(endpoint)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ow := &outcomeWriter{ResponseWriter: w}
		h.ServeHTTP(ow, r)
		latency.Observe(time.Since(start).Seconds())
		status, errcode := ow.status, ow.errcode
		if status == 0 {
			status = http.StatusOK
		}
		if errcode == "" {
			errcode = "none"
		} else if !slices.Contains(m.errcodes, errcode) {
			errcode = "other"
		}
		m.requests.WithLabelValues(endpoint, strconv.Itoa(status), errcode).Inc()
	})
}

// outcomeWriter remembers the status written and the errcode writeError
// answered with.
type outcomeWriter struct {
	http.ResponseWriter
	status  int
	errcode string
}

func (w *outcomeWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *outcomeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *outcomeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteErrcode tells an instrumented answer its Matrix errcode.
func noteErrcode(w http.ResponseWriter, errcode string) {
	if ow, ok := w.(*outcomeWriter); ok {
		ow.errcode = errcode
	}
}
