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
	var unavailable *store.UnavailableError
	e := scimerror.As(err)
	switch {
	case e != nil:
	case errors.As(err, &unavailable):
		s.log.Info("API server unavailable", "path", r.URL.Path, "error", err.Error())
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		e = scimerror.New(http.StatusServiceUnavailable, "", "the Kubernetes API server is unavailable; retry later")
	default:
		s.log.Error(err, "internal error", "method", r.Method, "path", r.URL.Path)
		e = scimerror.New(http.StatusInternalServerError, "", "internal error")
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-operator"`)
	}
	writeJSON(w, e.Status, errorBody{Schemas: []string{schema.ErrorURN}, ScimType: e.ScimType, Detail: e.Detail, Status: strconv.Itoa(e.Status)})
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
