package engine

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/earshot/earshot/internal/auth"
	"github.com/earshot/earshot/store"
)

// listCalls is GET /v1/calls.
func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	claims := auth.FromContext(r.Context())
	q := r.URL.Query()
	var sq store.Query
	sq.AgentID = store.AgentID(q.Get("agent"))
	if claims.Role == auth.RoleAgent {
		if sq.AgentID != "" && string(sq.AgentID) != claims.Agent {
			auth.WriteError(w, auth.ErrForbidden)
			return
		}
		sq.AgentID = store.AgentID(claims.Agent)
	}
	sq.Category, sq.Status, sq.Cursor = q.Get("category"), q.Get("status"), q.Get("cursor")
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, p.name+" must be an RFC 3339 time")
				return
			}
			*p.dst = t
		}
	}
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"sentiment_min", &sq.SentimentMin}, {"sentiment_max", &sq.SentimentMax}} {
		if v := q.Get(p.name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < -1 || f > 1 {
				writeError(w, http.StatusBadRequest, p.name+" must be a number in [-1, 1]")
				return
			}
			*p.dst = &f
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeError(w, http.StatusBadRequest, "limit must be 1..500")
			return
		}
		sq.Limit = n
	}
	page, err := s.store.List(sq)
	if errors.Is(err, store.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, "bad cursor")
		return
	}
	if err != nil {
		s.log.Error("listing calls", "err", err)
		writeError(w, http.StatusInternalServerError, "listing calls failed")
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// visibleCall loads a call's summary and applies the agent rule: 404 for
// no such call, 403 for another agent's.
func (s *Server) visibleCall(w http.ResponseWriter, r *http.Request) (store.Call, bool) {
	id := r.PathValue("id")
	c, err := s.store.GetCall(store.CallID(id))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrBadID) {
		writeError(w, http.StatusNotFound, "no such call")
		return c, false
	}
	if err != nil {
		s.log.Error("reading call", "err", err)
		writeError(w, http.StatusInternalServerError, "reading call failed")
		return c, false
	}
	if cl := auth.FromContext(r.Context()); cl.Role == auth.RoleAgent && !cl.SeesAgent(string(c.AgentID)) {
		auth.WriteError(w, auth.ErrForbidden)
		return c, false
	}
	return c, true
}

// getCall is GET /v1/calls/{id}.
func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.visibleCall(w, r); !ok {
		return
	}
	d, err := s.store.Detail(store.CallID(r.PathValue("id")))
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrBadID):
		writeError(w, http.StatusNotFound, "no such call")
		return
	case errors.Is(err, store.ErrTooLarge):
		// A partial call would pass for the whole one.
		s.log.Error("reading a call's details", "call_id", r.PathValue("id"), "err", err)
		writeError(w, http.StatusInternalServerError, "the call is too large to read whole")
		return
	case err != nil:
		// In a cluster the details are read from JetStream, which may be
		// out of reach (no quorum): try again, or another node.
		s.log.Error("reading a call's details", "call_id", r.PathValue("id"), "err", err)
		writeError(w, http.StatusServiceUnavailable, "the call's details cannot be read now")
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// postFeedback is POST /v1/calls/{id}/hints/{hint}/feedback.
func (s *Server) postFeedback(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.visibleCall(w, r); !ok {
		return
	}
	var body struct {
		Action string `json:"action"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || (body.Action != "accept" && body.Action != "dismiss") {
		writeError(w, http.StatusBadRequest, `body must be {"action":"accept"|"dismiss"}`)
		return
	}
	cl := auth.FromContext(r.Context())
	by := string(cl.Role)
	if cl.Agent != "" {
		by = cl.Agent
	}
	err := s.store.SetFeedback(store.CallID(r.PathValue("id")), r.PathValue("hint"), store.Feedback{Action: body.Action, At: time.Now().UTC(), By: by})
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrBadID):
		writeError(w, http.StatusNotFound, "no such hint in this call")
	case err != nil:
		s.log.Error("storing feedback", "err", err)
		writeError(w, http.StatusInternalServerError, "storing feedback failed")
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// getArticle is GET /v1/kb/{article}.
func (s *Server) getArticle(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Articles == nil {
		writeError(w, http.StatusNotFound, "no knowledge base loaded")
		return
	}
	a, ok := s.cfg.Articles.Article(r.PathValue("article"))
	if !ok {
		writeError(w, http.StatusNotFound, "no such article")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": a.ID, "title": a.Title, "body": a.Body})
}
