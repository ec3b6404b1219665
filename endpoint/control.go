package endpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ControlHeader must be on every control request. Browsers cannot add a
// custom header to a cross-site request without a CORS preflight, which
// this API never grants, so a web page cannot pause or end the agent's
// recording through the agent's own browser.
const ControlHeader = "X-Earshot-Control"

// controlHandler serves the local control API:
//
//	POST /v1/call/start {"call_id":"X"}  start streaming a call
//	POST /v1/call/end   {"call_id":"X"}  end it (call_id optional)
//	POST /v1/pause, POST /v1/resume      stop and restart sending audio
//	GET  /v1/status                      the daemon's status
func (d *daemon) controlHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/call/start", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			CallID string `json:"call_id"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body must be {\"call_id\":\"...\"}: " + err.Error()})
			return
		}
		if err := d.startCall(req.CallID); err != nil {
			code := http.StatusConflict
			if errors.Is(err, ErrBadCallID) {
				code = http.StatusBadRequest
			}
			writeJSON(w, code, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"call_id": req.CallID, "status": "started"})
	})
	mux.HandleFunc("POST /v1/call/end", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			CallID string `json:"call_id"`
		}
		_ = json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req) // the body is optional
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		e := d.endCall(ctx, req.CallID)
		switch {
		case e.Error == ErrNoCall.Error():
			writeJSON(w, http.StatusConflict, map[string]string{"error": e.Error})
		case e.Status == "ending":
			writeJSON(w, http.StatusAccepted, e)
		case e.Error != "":
			writeJSON(w, http.StatusBadGateway, e)
		default:
			writeJSON(w, http.StatusOK, e)
		}
	})
	for path, fn := range map[string]func() (string, error){"/v1/pause": d.pause, "/v1/resume": d.resume} {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			id, err := fn()
			if err != nil {
				writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error(), "call_id": id})
				return
			}
			writeJSON(w, http.StatusOK, map[string]string{"call_id": id, "status": path[4:] + "d"})
		})
	}
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.status())
	})
	return guard(mux)
}

// guard refuses requests that did not come from a local program: a Host
// other than a loopback name (DNS rebinding) or a missing control header.
func guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "control API answers loopback hosts only"})
			return
		}
		if r.Header.Get(ControlHeader) == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "missing " + ControlHeader + " header"})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Control sends one request to the control API of a daemon at addr and
// decodes its answer into out (when not nil). A non-2xx answer is an error
// carrying the daemon's message. It blocks until the answer or ctx's end;
// POST /v1/call/end waits up to 30 s for the engine.
func Control(ctx context.Context, addr, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set(ControlHeader, "1")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("no earshot-capture daemon answers on %s (is `earshot-capture run` running, with the same --control?): %w", addr, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("daemon answered %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
