package gateway

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// adminHandler serves what operators and orchestrators poll. It must only
// ever be bound to a private address; it is a separate listener for that
// reason.
func (g *Gateway) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !g.ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready\n"))
			return
		}
		w.Write([]byte("ready\n"))
	})
	// The deny-list, shaped like tlsgate tunnel's: GET lists it, POST adds
	// and DELETE removes {"entry": "serial:HEX" | "spki:sha256/BASE64",
	// "note": "..."}. Adding closes the denied identity's open connections.
	mux.HandleFunc("GET /deny", func(w http.ResponseWriter, r *http.Request) {
		writeAdminJSON(w, http.StatusOK, map[string]any{"entries": g.denyList.Entries()})
	})
	mux.HandleFunc("POST /deny", func(w http.ResponseWriter, r *http.Request) { g.changeDenyList(w, r, g.denyList.Add) })
	mux.HandleFunc("DELETE /deny", func(w http.ResponseWriter, r *http.Request) { g.changeDenyList(w, r, g.denyList.Remove) })
	return mux
}
