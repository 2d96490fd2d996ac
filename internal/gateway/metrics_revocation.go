package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// revocationMetrics say whether revocations reach this instance at once:
// the channels that carry API-key changes and deny-list entries, and
// back-channel logouts.
type revocationMetrics struct {
	up       *prometheus.GaugeVec   // 1 while a channel is live
	losses   *prometheus.CounterVec // times a channel was lost
	entries  prometheus.Gauge       // entries in the JWT deny-list
	logouts  *prometheus.CounterVec // back-channel logout requests by result
	denyAdds *prometheus.CounterVec // deny-list entries added by source
}

func newRevocationMetrics(reg *prometheus.Registry) *revocationMetrics {
	m := &revocationMetrics{
		up: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bulwark_revocation_channel_up",
			Help: "1 while the channel that carries revocations made elsewhere (api_keys, denylist) is live; 0 while they reach this instance only within the cache TTL or resync.",
		}, []string{"channel"}),
		losses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_revocation_channel_losses_total", Help: "Times a revocation channel was lost.",
		}, []string{"channel"}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bulwark_denylist_entries", Help: "Entries in the JWT deny-list (jti, sid, sub).",
		}),
		logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_backchannel_logouts_total", Help: "Back-channel logout requests by result (ok, invalid, error).",
		}, []string{"result"}),
		denyAdds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bulwark_denylist_added_total", Help: "Entries added to the JWT deny-list by this instance, by source (backchannel_logout, admin).",
		}, []string{"source"}),
	}
	reg.MustRegister(m.up, m.losses, m.entries, m.logouts, m.denyAdds)
	return m
}

// onWatch is the OnWatch hook of one channel.
func (m *revocationMetrics) onWatch(channel string) func(live bool, err error) {
	up, losses := m.up.WithLabelValues(channel), m.losses.WithLabelValues(channel)
	return func(live bool, _ error) {
		if live {
			up.Set(1)
			return
		}
		up.Set(0)
		losses.Inc()
	}
}
