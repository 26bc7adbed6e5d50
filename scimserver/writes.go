package scimserver

import (
	"context"
	"net/http"

	"github.com/scim-operator/scim-operator/scimserver/patch"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// writeOp is one write of a User or Group: a POST, PUT, PATCH or DELETE, from a request of its own
// or from an operation of a bulk request (bulk.go). Both run it through apply, so that a bulk
// operation is decoded, limited, stored, marked and answered exactly as the request it stands for.
type writeOp struct {
	// method is POST, PUT, PATCH or DELETE.
	method string
	// resources are the Users or the Groups.
	resources store.Resources
	// id is the resource written; "" for POST.
	id string
	// body is the request's JSON body (a User, a Group or a PatchOp); nil for DELETE.
	body []byte
	// ifMatch is the precondition: the If-Match header, or a bulk operation's version.
	ifMatch string
}

// outcome is what a write answers: the status and, unless it deleted, the resource.
type outcome struct {
	status int
	res    *store.Resource
	// withoutResource is set on a 204 for a change answered without the resource: a member PATCH
	// of a large group (store.Resource.Doc).
	withoutResource bool
}

// apply runs op for r's provider: the body decoded with the provider's quirks, the limits on one
// request, then the store, which marks what the write touches with the provider.
func (s *Server) apply(ctx context.Context, r *request, op writeOp) (outcome, error) {
	rt := op.resources.Type()
	w := store.Write{Provider: r.provider, IfMatch: op.ifMatch, IgnoreUnknownMembers: r.quirks.IgnoreUnknownMembers}
	switch op.method {
	case http.MethodPost:
		doc, err := s.resourceDoc(r, rt, op.body)
		if err != nil {
			return outcome{}, err
		}
		res, err := op.resources.Create(ctx, w, doc)
		return outcome{status: http.StatusCreated, res: res}, err
	case http.MethodPut:
		doc, err := s.resourceDoc(r, rt, op.body)
		if err != nil {
			return outcome{}, err
		}
		// A body that names another resource is refused rather than silently applied to this one.
		if bodyID, ok := doc["id"].(string); ok && bodyID != op.id {
			return outcome{}, scimerror.BadRequest(scimerror.Mutability, "id %q in the body does not match %q in the path", bodyID, op.id)
		}
		res, err := op.resources.Replace(ctx, w, op.id, doc)
		return outcome{status: http.StatusOK, res: res}, err
	case http.MethodPatch:
		req, err := patch.Parse(op.body, r.quirks.Patch)
		if err != nil {
			return outcome{}, err
		}
		// The number of operations is checked before any is applied, so that none is half done.
		if err := s.checkOperations(req); err != nil {
			return outcome{}, err
		}
		// A PATCH of members by value sees only those members: its cost does not grow with the group.
		w.PatchedMembers = patchedMembers(rt, req)
		res, changed, err := op.resources.Patch(ctx, w, op.id, s.applyPatch(r, rt, req))
		if err != nil {
			return outcome{}, err
		}
		// 204 when nothing changed, as StrongDM answers, or always when the provider's quirks ask
		// for it; otherwise 200 with the resource. A large group's member PATCH comes without the
		// group (RFC 7644 §3.5.2 allows 204).
		if !changed || r.quirks.PatchNoContent {
			return outcome{status: http.StatusNoContent, res: res}, nil
		}
		if res.Doc == nil {
			return outcome{status: http.StatusNoContent, res: res, withoutResource: true}, nil
		}
		return outcome{status: http.StatusOK, res: res}, nil
	case http.MethodDelete:
		return outcome{status: http.StatusNoContent}, op.resources.Delete(ctx, w, op.id)
	}
	return outcome{}, scimerror.BadRequest(scimerror.InvalidSyntax, "method %q is not a write", op.method)
}

// serveWrite serves a write request of its own: op with the request's body and If-Match, answered
// with the resource (projected by q) and its ETag, Location after a create; 204 carries the ETag
// only, and nothing after a delete.
func (s *Server) serveWrite(w http.ResponseWriter, r *request, op writeOp, q *query) error {
	if op.method != http.MethodDelete {
		body, err := s.readBody(r)
		if err != nil {
			return err
		}
		op.body = body
	}
	op.ifMatch = r.Header.Get("If-Match")
	out, err := s.apply(r.Context(), r, op)
	if err != nil {
		return err
	}
	if out.withoutResource && q.projects() {
		// The client asked for the resource (RFC 7644 §3.5.2: 200 when attributes are given).
		if out.res, err = op.resources.Get(r.Context(), op.id); err != nil {
			return err
		}
		out.status = http.StatusOK
	}
	switch {
	case out.res == nil:
		w.WriteHeader(out.status)
	case out.status == http.StatusNoContent:
		// The ETag still tells the client the version it now holds.
		w.Header().Set("ETag", out.res.Version)
		w.WriteHeader(http.StatusNoContent)
	default:
		if out.status == http.StatusCreated {
			// The header is absolute (RFC 7644 §3.3); meta.location stays relative, as StrongDM's is.
			w.Header().Set("Location", r.base+out.res.Location)
		}
		writeResource(w, out.status, q, out.res)
	}
	return nil
}
