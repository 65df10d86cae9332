package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus metrics, on a registry of its own
// (never the global one), so that several servers in one process, and the
// programs that embed one, do not collide.
type metrics struct {
	reg *prometheus.Registry

	requests       *prometheus.CounterVec   // route, code
	duration       *prometheus.HistogramVec // route
	inputs         *prometheus.HistogramVec // route
	rows           *prometheus.CounterVec   // table
	bytesOut       *prometheus.CounterVec   // route
	rejected       *prometheus.CounterVec   // reason
	inFlight       prometheus.Gauge
	reloads        *prometheus.CounterVec // table
	reloadFailures *prometheus.CounterVec // table

	mu     sync.Mutex
	routes map[string]*routeMetrics
}

// routeMetrics are one route's metrics, resolved once so that a request does
// not look labels up.
type routeMetrics struct {
	duration prometheus.Observer
	inputs   prometheus.Observer
	bytesOut prometheus.Counter
	byCode   [600]atomic.Pointer[counterRef] // by status code, filled on first use
}

type counterRef struct{ c prometheus.Counter }

func newMetrics(ts func() *tables) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), routes: map[string]*routeMetrics{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_http_requests_total", Help: "HTTP requests answered, by route and status code.",
	}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "embstore_http_request_duration_seconds", Help: "Time from reading a request's headers to its last byte written, by route.",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 10},
	}, []string{"route"})
	m.inputs = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "embstore_request_inputs", Help: "Inputs (or bags, or id rows) per successful request, by route.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 9),
	}, []string{"route"})
	m.rows = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_rows_read_total", Help: "Table rows read to answer requests, by table.",
	}, []string{"table"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_response_bytes_total", Help: "Response body bytes written (before compression), by route.",
	}, []string{"route"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_rejected_requests_total", Help: "Requests refused before their handler ran, by reason (overloaded, unauthorized, body_too_large).",
	}, []string{"reason"})
	m.inFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "embstore_requests_in_flight", Help: "Requests being answered now (not counting those waiting for a slot).",
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_table_reloads_total", Help: "New table files swapped in, by table.",
	}, []string{"table"})
	m.reloadFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "embstore_table_reload_failures_total", Help: "New table files refused (the old file kept serving), by table.",
	}, []string{"table"})
	m.reg.MustRegister(m.requests, m.duration, m.inputs, m.rows, m.bytesOut, m.rejected, m.inFlight,
		m.reloads, m.reloadFailures, &tableCollector{tables: ts},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// route returns the metrics of one route.
func (m *metrics) route(name string) *routeMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r := m.routes[name]; r != nil {
		return r
	}
	r := &routeMetrics{
		duration: m.duration.WithLabelValues(name),
		inputs:   m.inputs.WithLabelValues(name),
		bytesOut: m.bytesOut.WithLabelValues(name),
	}
	m.routes[name] = r
	return r
}

// counted counts one request of the route with status code.
func (r *routeMetrics) counted(m *metrics, route string, code int) {
	if code < 100 || code >= len(r.byCode) {
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		return
	}
	ref := r.byCode[code].Load()
	if ref == nil {
		ref = &counterRef{m.requests.WithLabelValues(route, strconv.Itoa(code))}
		r.byCode[code].Store(ref) // a race stores the same counter twice
	}
	ref.c.Inc()
}

// forget drops the per-table series of a table no longer served.
func (m *metrics) forget(table string) {
	m.rows.DeleteLabelValues(table)
}

// handler serves the registry in Prometheus's text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// tableCollector reports every served table's shape, generation and
// residency at scrape time.
type tableCollector struct{ tables func() *tables }

var (
	descTableInfo = prometheus.NewDesc("embstore_table_info", "A served table (always 1), with its dtype and dim.",
		[]string{"table", "dtype", "dim"}, nil)
	descTableRows = prometheus.NewDesc("embstore_table_rows", "Rows of the token table.", []string{"table"}, nil)
	descMapped    = prometheus.NewDesc("embstore_table_mapped_bytes", "Size of the table's mapping (the file).", []string{"table"}, nil)
	descResident  = prometheus.NewDesc("embstore_table_resident_bytes", "Bytes of the table's mapping in memory (page cache).", []string{"table"}, nil)
	descGen       = prometheus.NewDesc("embstore_table_generation", "Generation of the file served: 1 at start, +1 per reload.", []string{"table"}, nil)
)

func (c *tableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTableInfo, descTableRows, descMapped, descResident, descGen} {
		ch <- d
	}
}

func (c *tableCollector) Collect(ch chan<- prometheus.Metric) {
	ts := c.tables()
	if ts == nil {
		return
	}
	for _, name := range ts.names() {
		s := ts.get(name)
		if s == nil {
			continue
		}
		t, release, err := s.src.Acquire()
		info := s.src.Info(t)
		if err == nil {
			release()
		}
		ch <- prometheus.MustNewConstMetric(descTableInfo, prometheus.GaugeValue, 1, name, info.DType, strconv.Itoa(info.Dim))
		ch <- prometheus.MustNewConstMetric(descTableRows, prometheus.GaugeValue, float64(info.Rows), name)
		ch <- prometheus.MustNewConstMetric(descGen, prometheus.GaugeValue, float64(info.Generation), name)
		if info.mapped >= 0 && info.File != nil {
			ch <- prometheus.MustNewConstMetric(descMapped, prometheus.GaugeValue, float64(info.mapped), name)
			if info.File.Resident >= 0 {
				ch <- prometheus.MustNewConstMetric(descResident, prometheus.GaugeValue, float64(info.File.Resident), name)
			}
		}
	}
}
