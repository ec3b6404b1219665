package engine

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the engine's Prometheus series, registered in a registry of
// the Server's own so several servers (tests) can coexist in a process.
type metrics struct {
	reg           *prometheus.Registry
	callsActive   prometheus.Gauge
	callsTotal    *prometheus.CounterVec
	framesIn      prometheus.Counter
	framesDup     prometheus.Counter
	framesLost    prometheus.Counter
	rtf           prometheus.Histogram
	eventLatency  *prometheus.HistogramVec
	subscribers   prometheus.Gauge
	ingestClosed  *prometheus.CounterVec
	sessionPanics prometheus.Counter
	storeErrors   prometheus.Counter
	storageDrops  prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.callsActive = prometheus.NewGauge(prometheus.GaugeOpts{Name: "earshot_calls_active", Help: "Calls with a live session."})
	m.callsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "earshot_calls_ended_total", Help: "Calls ended, by reason."}, []string{"reason"})
	m.framesIn = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_frames_in_total", Help: "Distinct 20 ms audio frames received (one channel each)."})
	m.framesDup = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_frames_duplicate_total", Help: "Frames dropped because their seq was already received (resends)."})
	m.framesLost = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_frames_lost_total", Help: "Frames reported lost by endpoints or never received."})
	m.rtf = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "earshot_recognizer_realtime_factor", Help: "Pipeline processing time per second of audio, per call and second (includes the recognizer).",
		Buckets: []float64{0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 4}})
	m.eventLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "earshot_event_latency_seconds",
		Help:    "Wall time from receiving the audio an event refers to (an utterance's end for transcripts and hints) to publishing it.",
		Buckets: []float64{0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10}}, []string{"type"})
	m.subscribers = prometheus.NewGauge(prometheus.GaugeOpts{Name: "earshot_live_subscribers", Help: "Live-event subscriptions."})
	m.ingestClosed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "earshot_ingest_closed_total", Help: "Ingest connections closed by the engine, by close code."}, []string{"code"})
	m.sessionPanics = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_session_failures_total", Help: "Call sessions that failed (error or panic) and were ended."})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_store_write_errors_total", Help: "Writes of call records the store refused (a full disk, say); the call's acks stop meanwhile."})
	m.storageDrops = prometheus.NewCounter(prometheus.CounterOpts{Name: "earshot_calls_storage_dropped_total", Help: "Calls dropped for a resume because their records could not be written for StorageTimeout."})
	m.reg.MustRegister(m.storeErrors, m.storageDrops, m.callsActive, m.callsTotal, m.framesIn, m.framesDup, m.framesLost, m.rtf, m.eventLatency,
		m.subscribers, m.ingestClosed, m.sessionPanics,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
