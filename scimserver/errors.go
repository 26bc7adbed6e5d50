package scimserver

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// retryAfterSeconds is what a 503 asks the client to wait.
const retryAfterSeconds = 5

// errorBody is a SCIM error response (RFC 7644 §3.12); status is a string, as StrongDM sends it.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail"`
	Status   string   `json:"status"`
}

// writeError writes err as a SCIM error: a *scimerror.Error as it is, an unreachable API server as
// 503 with Retry-After, anything else as 500 (logged, its text withheld from the client).
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := s.scimError(r, err)
	switch e.Status {
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-operator"`)
	}
	writeJSON(w, e.Status, errorBodyOf(e))
}

// scimError returns err as the SCIM error to answer r with: a *scimerror.Error as it is, an
// unreachable API server as 503, anything else as 500 (logged, its text withheld from the client).
func (s *Server) scimError(r *http.Request, err error) *scimerror.Error {
	var unavailable *store.UnavailableError
	if e := scimerror.As(err); e != nil {
		return e
	}
	if errors.As(err, &unavailable) {
		s.log.Info("API server unavailable", "path", r.URL.Path, "error", err.Error())
		if unavailable.TimedOut > 0 {
			// The request may have reached the API server: a retry settles it (a create that
			// was applied is then taken, 409; a PATCH applies as once).
			return scimerror.New(http.StatusServiceUnavailable, "", "the Kubernetes API server did not answer within %s; the write may have been applied: retry it", unavailable.TimedOut)
		}
		return scimerror.New(http.StatusServiceUnavailable, "", "the Kubernetes API server is unavailable; retry later")
	}
	s.log.Error(err, "internal error", "method", r.Method, "path", r.URL.Path)
	return scimerror.New(http.StatusInternalServerError, "", "internal error")
}

// errorBodyOf is the error response of e.
func errorBodyOf(e *scimerror.Error) errorBody {
	return errorBody{Schemas: []string{schema.ErrorURN}, ScimType: e.ScimType, Detail: e.Detail, Status: strconv.Itoa(e.Status)}
}

// writeJSON writes body as application/scim+json with status. <, > and & are not escaped: values
// read as they were sent.
func writeJSON(w http.ResponseWriter, status int, body any) {
	writeEncoded(w, status, store.EncodeJSON(body))
}

// writeEncoded writes a JSON body already encoded (store.EncodeJSON) with status.
func writeEncoded(w http.ResponseWriter, status int, data []byte) {
	w.Header().Set("Content-Type", "application/scim+json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(data) // the status is sent: what fails now is the client's connection
}
