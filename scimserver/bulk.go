package scimserver

import (
	"bytes"
	"container/heap"
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
	"github.com/scim-operator/scim-operator/scimserver/store"
)

// Bulk (RFC 7644 §3.7): POST /Bulk carries a BulkRequest of operations, each a POST, PUT, PATCH or
// DELETE of a User or Group. Each operation is the write of its own request would be (apply, in
// writes.go): the same decoding with the provider's quirks, limits, store call, marking, metrics
// and audit line, and exactly as atomic. Nothing makes the request as a whole atomic: operations
// applied before another fails stay applied, as RFC 7644 §3.7.3 has it.
//
//   - A POST names itself with a bulkId; any other operation refers to what it creates with the
//     string "bulkId:<bulkId>": as a whole value (a member's value, the enterprise manager's value,
//     a PATCH value), in a PATCH path's value filter (members[value eq "bulkId:…"]), or as the id
//     of a path (/Groups/bulkId:…). Operations run in the order of these references, otherwise in
//     request order (§3.7.2); circular references are refused with 409 (§3.7.1 allows it), as is an
//     operation whose reference's POST failed. A reference no POST of the request defines is 400.
//   - failOnErrors stops the request after that many failed operations; the ones not run are left
//     out of the response (§3.7.3).
//   - Over BulkMaxOperations or BulkMaxPayloadBytes the request is 413, tooMany or tooLarge, and
//     nothing is applied (§3.7.4).
//   - Each operation counts as one request of the token's rate (--scim-token-rate): a bulk request
//     of n operations takes n, at most a burst, before any is run, or is 429 with Retry-After.
//     It holds one of the token's requests in progress, as it runs its operations one by one.
//   - The response lists the operations run, in request order, each with its method, bulkId,
//     location, version and status (a string, as StrongDM's error bodies have it) and, when it
//     failed, the error body as response.

// scimTypeTooLarge is the scimType of a bulk request over maxPayloadSize. RFC 7644 §3.12 defines
// none for it (its §3.7.4 example has no scimType); tooLarge names the limit as tooMany names the
// other.
const scimTypeTooLarge = "tooLarge"

// bulkIDPrefix starts a reference to the resource an operation of the same request creates.
const bulkIDPrefix = "bulkId:"

// bulkRequest is a decoded BulkRequest.
type bulkRequest struct {
	// failOnErrors is the number of failed operations after which the others are not run; 0 runs
	// every operation.
	failOnErrors int
	ops          []*bulkOp
}

// bulkOp is an operation of a bulk request as decoded: what it asks, or why it cannot run.
type bulkOp struct {
	// index is the operation's position in the request, from 0.
	index int
	// method, bulkID, version and path are as sent.
	method, bulkID, version, path string
	// data is the operation's body as sent, or nil.
	data json.RawMessage
	// endpoint is Users or Groups; id the resource's id in the path as sent ("bulkId:…" included),
	// "" for a POST.
	endpoint, id string
	// refs are the bulkIds data and path refer to, each once.
	refs []string
	// err is why the operation cannot run: its own mistake, or its place among the others
	// (planBulk). It is answered for the operation alone.
	err error
}

// bulkResult is an operation's entry in a BulkResponse.
type bulkResult struct {
	Location string     `json:"location,omitempty"`
	Method   string     `json:"method"`
	BulkID   string     `json:"bulkId,omitempty"`
	Version  string     `json:"version,omitempty"`
	Status   string     `json:"status"`
	Response *errorBody `json:"response,omitempty"`
}

// bulkResponse is a BulkResponse.
type bulkResponse struct {
	Schemas    []string      `json:"schemas"`
	Operations []*bulkResult `json:"Operations"`
}

// bodyLimit is the largest body the endpoint of segments accepts: maxPayloadSize for /Bulk,
// MaxBodyBytes for every other.
func (s *Server) bodyLimit(segments []string) int64 {
	if len(segments) > 0 && canonicalEndpoint(segments[0]) == "Bulk" {
		return s.opts.BulkMaxPayloadBytes
	}
	return s.opts.MaxBodyBytes
}

// serveBulk serves POST /Bulk.
func (s *Server) serveBulk(w http.ResponseWriter, r *request, segments []string) error {
	if len(segments) > 1 {
		return noEndpoint(r)
	}
	if r.Method != http.MethodPost {
		return methodNotAllowed(w, r, http.MethodPost)
	}
	// The HTTP server's deadline for the response runs from about now (the request's headers).
	deadline := time.Now().Add(s.opts.BulkTimeout)
	body, err := s.readBulkBody(r)
	if err != nil {
		return err
	}
	req, err := decodeBulk(body, s.opts.BulkMaxOperations)
	if err != nil {
		return err
	}
	// The request itself took one from the token's bucket; its operations take the others.
	if wait, ok := s.tokenRate.takeN(r.tokenKey, len(req.ops)-1, time.Now()); !ok {
		throttledTotal.WithLabelValues(r.provider, reasonTokenRate).Inc()
		return tooManyRequests(w, wait, "the bulk request's %d operations are over the token %s's %g requests per second (--scim-token-rate)",
			len(req.ops), r.tokenKey, s.opts.TokenRate)
	}
	writeJSON(w, http.StatusOK, bulkResponse{Schemas: []string{schema.BulkResponseURN}, Operations: s.runBulk(r, req, deadline)})
	return nil
}

// readBulkBody reads a bulk request's body, at most maxPayloadSize bytes.
func (s *Server) readBulkBody(r *request) ([]byte, error) {
	limit := s.opts.BulkMaxPayloadBytes
	tooLarge := scimerror.New(http.StatusRequestEntityTooLarge, scimTypeTooLarge,
		"the bulk request is larger than maxPayloadSize (%d bytes, --scim-bulk-max-payload-bytes)", limit)
	if r.Body == nil || r.Body == http.NoBody {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "a BulkRequest body is required")
	}
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	return readAll(r.Body, tooLarge)
}

// runBulk runs the operations of req in the order planBulk gives, until failOnErrors of them have
// failed, and returns the results of those it ran, in request order. An operation not started by
// deadline is not run: its result is a 503 that says so, for the client to send it again.
func (s *Server) runBulk(r *request, req *bulkRequest, deadline time.Time) []*bulkResult {
	results := make([]*bulkResult, len(req.ops))
	// created holds the id each POST that succeeded created, by bulkId.
	created := map[string]string{}
	failures := 0
	for _, i := range planBulk(req.ops) {
		if (req.failOnErrors > 0 && failures >= req.failOnErrors) || r.Context().Err() != nil {
			break
		}
		op := req.ops[i]
		if time.Now().After(deadline) {
			body := errorBodyOf(scimerror.New(http.StatusServiceUnavailable, "",
				"not run: the bulk request ran out of time after %s (--scim-bulk-timeout); send this operation again", s.opts.BulkTimeout))
			results[i] = &bulkResult{Method: op.method, BulkID: op.bulkID, Status: body.Status, Response: &body}
			continue
		}
		res, failed := s.runBulkOp(r, op, created)
		results[i] = res
		if failed {
			failures++
		}
	}
	out := make([]*bulkResult, 0, len(results))
	for _, res := range results {
		if res != nil {
			out = append(out, res)
		}
	}
	return out
}

// runBulkOp runs one operation through apply, its references replaced by the ids created, and
// records it as the write of its own request would be. It reports whether the operation failed.
func (s *Server) runBulkOp(r *request, op *bulkOp, created map[string]string) (*bulkResult, bool) {
	start := time.Now()
	result := &bulkResult{Method: op.method, BulkID: op.bulkID}
	out, id, err := s.applyBulkOp(r, op, created)
	if op.method != http.MethodPost && id != "" && !strings.HasPrefix(id, bulkIDPrefix) {
		result.Location = r.base + op.endpoint + "/" + id
	}
	if out.res != nil {
		id = out.res.ID
		result.Location = r.base + out.res.Location
		result.Version = out.res.Version
	}
	status := out.status
	if err != nil {
		e := s.scimError(r.Request, err)
		status = e.Status
		body := errorBodyOf(e)
		result.Response = &body
	}
	result.Status = strconv.Itoa(status)
	if err == nil && op.method == http.MethodPost {
		created[op.bulkID] = id
	}
	if isWrite(op.method, op.endpoint) {
		s.recordWrite(r.Request, r.provider, op.method, op.endpoint, id, status, time.Since(start),
			"bulkOperation", op.index, "bulkId", op.bulkID)
	}
	return result, err != nil
}

// applyBulkOp resolves op's references and applies it; it returns the resource's id as resolved.
func (s *Server) applyBulkOp(r *request, op *bulkOp, created map[string]string) (outcome, string, error) {
	if op.err != nil {
		return outcome{}, op.id, op.err
	}
	data, id, err := op.resolve(created)
	if err != nil {
		return outcome{}, op.id, err
	}
	// The data is the body of the request the operation stands for, within the same limit.
	if int64(len(data)) > s.opts.MaxBodyBytes {
		return outcome{}, id, scimerror.New(http.StatusRequestEntityTooLarge, scimTypeTooLarge,
			"the operation's data is larger than %d bytes (--scim-max-body-bytes)", s.opts.MaxBodyBytes)
	}
	resources := s.store.Users()
	if op.endpoint == "Groups" {
		resources = s.store.Groups()
	}
	out, err := s.apply(r.Context(), r, writeOp{method: op.method, resources: resources, id: id, body: data, ifMatch: op.version})
	return out, id, err
}

// resolve returns op's data and id with each bulkId reference replaced by the id its POST
// created. A reference whose POST did not create anything (it failed) is 409: planBulk ran that
// POST before.
func (op *bulkOp) resolve(created map[string]string) (json.RawMessage, string, error) {
	for _, ref := range op.refs {
		if _, ok := created[ref]; !ok {
			return nil, op.id, scimerror.Conflict("operation %d refers to bulkId %q, whose POST failed", op.index, ref)
		}
	}
	id := op.id
	if ref, ok := strings.CutPrefix(id, bulkIDPrefix); ok && ref != "" {
		id = created[ref]
	}
	if len(op.refs) == 0 || op.data == nil {
		return op.data, id, nil
	}
	data, err := rewriteRefs(op.data, func(ref string) string {
		if id, ok := created[ref]; ok {
			return id
		}
		return bulkIDPrefix + ref
	})
	return data, id, err
}

// decodeBulk decodes a BulkRequest body (RFC 7644 §3.7), attribute names in any case. A request
// that is not a BulkRequest is 400, one of more than maxOperations operations 413 tooMany; the
// mistakes of one operation are its own (bulkOp.err).
func decodeBulk(body []byte, maxOperations int) (*bulkRequest, error) {
	fields, err := decodeFields(body, "BulkRequest")
	if err != nil {
		return nil, err
	}
	req := &bulkRequest{}
	var operations json.RawMessage
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		switch name {
		case "schemas":
			var schemas []string
			if err := json.Unmarshal(v, &schemas); err != nil || !slices.Contains(schemas, schema.BulkRequestURN) {
				return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be a list that includes %s", schema.BulkRequestURN)
			}
		case "failonerrors":
			if isNull(v) {
				continue
			}
			var n float64
			if err := json.Unmarshal(v, &n); err != nil || n < 1 || n != math.Trunc(n) {
				return nil, scimerror.BadRequest(scimerror.InvalidValue, "failOnErrors must be an integer of at least 1, not %s", v)
			}
			req.failOnErrors = int(min(n, math.MaxInt32))
		case "operations":
			operations = v
		default:
			return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "unknown attribute %q of a BulkRequest", name)
		}
	}
	if _, ok := fields["schemas"]; !ok {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "schemas must be a list that includes %s", schema.BulkRequestURN)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(operations, &raw); err != nil || raw == nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "Operations must be a list of operations")
	}
	if len(raw) > maxOperations {
		return nil, scimerror.New(http.StatusRequestEntityTooLarge, scimerror.TooMany,
			"the bulk request has %d operations, more than maxOperations (%d, --scim-bulk-max-operations)", len(raw), maxOperations)
	}
	bulkIDs := map[string]int{}
	for i, data := range raw {
		op := decodeBulkOp(i, data)
		if first, taken := bulkIDs[op.bulkID]; taken && op.err == nil {
			op.err = scimerror.BadRequest(scimerror.InvalidValue, "bulkId %q is already operation %d's: a bulkId is unique within a request", op.bulkID, first)
		} else if op.bulkID != "" && !taken {
			bulkIDs[op.bulkID] = i
		}
		req.ops = append(req.ops, op)
	}
	return req, nil
}

// decodeFields decodes body, which must be one JSON object, into its members by lower-cased name;
// a name given twice (in any case) is 400. what names the object in errors.
func decodeFields(body []byte, what string) (map[string]json.RawMessage, error) {
	obj, err := decodeOne[json.RawMessage](body, "a "+what)
	if err != nil {
		return nil, err
	}
	fields := make(map[string]json.RawMessage, len(obj))
	for k, v := range obj {
		name := strings.ToLower(k)
		if _, dup := fields[name]; dup {
			return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "attribute %q of a %s is given twice", k, what)
		}
		fields[name] = v
	}
	return fields, nil
}

// bulkOpAttributes are the names of an operation's attributes, by their lower case.
var bulkOpAttributes = map[string]string{"method": "method", "bulkid": "bulkId", "version": "version", "path": "path", "data": "data"}

// decodeBulkOp decodes operation i of a bulk request. Its method and bulkId are kept whatever else
// is wrong, for the response to name the operation.
func decodeBulkOp(i int, raw json.RawMessage) *bulkOp {
	op := &bulkOp{index: i}
	fields, err := decodeFields(raw, "bulk operation")
	if err != nil {
		op.err = err
		return op
	}
	fail := func(err error) {
		if op.err == nil {
			op.err = err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		var target *string
		switch name {
		case "method":
			target = &op.method
		case "bulkid":
			target = &op.bulkID
		case "version":
			target = &op.version
		case "path":
			target = &op.path
		case "data":
			if !isNull(v) {
				op.data = v
			}
			continue
		default:
			fail(scimerror.BadRequest(scimerror.InvalidSyntax, "unknown attribute %q of operation %d", name, i))
			continue
		}
		if isNull(v) {
			continue
		}
		if err := json.Unmarshal(v, target); err != nil {
			fail(scimerror.BadRequest(scimerror.InvalidSyntax, "%s of operation %d must be a string", bulkOpAttributes[name], i))
		}
	}
	if op.err != nil {
		return op
	}
	op.err = op.check()
	if op.err == nil {
		op.refs = refsOf(op)
	}
	return op
}

// check validates a decoded operation by RFC 7644 §3.7: a method it knows, a path under /Users or
// /Groups (the endpoint for POST, a resource for the others), a bulkId for POST, data for all but
// DELETE and none for DELETE.
func (op *bulkOp) check() error {
	switch op.method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	case "":
		return scimerror.BadRequest(scimerror.InvalidSyntax, "operation %d has no method", op.index)
	default:
		return scimerror.BadRequest(scimerror.InvalidValue, "method %q of operation %d is not POST, PUT, PATCH or DELETE", op.method, op.index)
	}
	segments := strings.Split(strings.TrimPrefix(op.path, "/"), "/")
	op.endpoint = canonicalEndpoint(segments[0])
	if op.endpoint != "Users" && op.endpoint != "Groups" {
		op.endpoint = ""
		return scimerror.BadRequest(scimerror.InvalidValue, "path %q of operation %d is not under /Users or /Groups", op.path, op.index)
	}
	if op.method == http.MethodPost {
		if len(segments) != 1 {
			return scimerror.BadRequest(scimerror.InvalidValue, "path of a POST must be /%s, not %q", op.endpoint, op.path)
		}
		if op.bulkID == "" {
			return scimerror.BadRequest(scimerror.InvalidSyntax, "operation %d is a POST without a bulkId (RFC 7644 §3.7)", op.index)
		}
	} else {
		if len(segments) != 2 || segments[1] == "" {
			return scimerror.BadRequest(scimerror.InvalidValue, "path of a %s must be /%s/{id}, not %q", op.method, op.endpoint, op.path)
		}
		op.id = segments[1]
	}
	switch {
	case op.method == http.MethodDelete && op.data != nil:
		return scimerror.BadRequest(scimerror.InvalidSyntax, "operation %d is a DELETE with data", op.index)
	case op.method != http.MethodDelete && op.data == nil:
		return scimerror.BadRequest(scimerror.InvalidSyntax, "operation %d is a %s without data", op.index, op.method)
	}
	return nil
}

// refsOf returns the bulkIds op's path and data refer to, each once.
func refsOf(op *bulkOp) []string {
	var refs []string
	add := func(ref string) string {
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
		return bulkIDPrefix + ref
	}
	if ref, ok := strings.CutPrefix(op.id, bulkIDPrefix); ok && ref != "" {
		add(ref)
	}
	if op.data != nil {
		_, _ = rewriteRefs(op.data, add)
	}
	return refs
}

// rewriteRefs returns data with each bulkId reference replaced by what replace returns for it: a
// string value "bulkId:<ref>" as a whole, and within the value of a member named path (a PATCH
// operation's) each quoted "bulkId:<ref>". Numbers keep their text.
func rewriteRefs(data json.RawMessage, replace func(ref string) string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, scimerror.BadRequest(scimerror.InvalidSyntax, "data is not JSON: %v", err)
	}
	changed := false
	v = walkStrings(v, false, func(s string, inPath bool) string {
		out := replaceRefs(s, inPath, replace)
		changed = changed || out != s
		return out
	})
	if !changed {
		return data, nil
	}
	return bytes.TrimSpace(store.EncodeJSON(v)), nil
}

// walkStrings returns v with each string replaced by f's result; inPath tells f that the string is
// the value of a member named path.
func walkStrings(v any, inPath bool, f func(s string, inPath bool) string) any {
	switch v := v.(type) {
	case string:
		return f(v, inPath)
	case []any:
		for i := range v {
			v[i] = walkStrings(v[i], false, f)
		}
	case map[string]any:
		for k := range v {
			v[k] = walkStrings(v[k], strings.EqualFold(k, "path"), f)
		}
	}
	return v
}

// replaceRefs replaces the bulkId references of s: all of it when it is "bulkId:<ref>", and in a
// path each quoted "bulkId:<ref>".
func replaceRefs(s string, inPath bool, replace func(ref string) string) string {
	if ref, ok := strings.CutPrefix(s, bulkIDPrefix); ok && ref != "" {
		return replace(ref)
	}
	if !inPath {
		return s
	}
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, `"`+bulkIDPrefix)
		if i < 0 {
			break
		}
		from := i + 1 + len(bulkIDPrefix)
		end := strings.IndexByte(rest[from:], '"')
		if end <= 0 {
			break
		}
		b.WriteString(rest[:i+1])
		b.WriteString(replace(rest[from : from+end]))
		rest = rest[from+end:]
	}
	b.WriteString(rest)
	return b.String()
}

// planBulk returns the order to run ops in: each after the POSTs whose bulkIds it refers to,
// otherwise in request order (RFC 7644 §3.7.2). An operation that cannot run gets its error: 400
// when it refers to a bulkId no POST of the request has, 409 when it is in a circular reference or
// refers to one that is (§3.7.1); those in or behind a cycle come last.
func planBulk(ops []*bulkOp) []int {
	defs := map[string]int{}
	for _, op := range ops {
		if op.method == http.MethodPost && op.bulkID != "" {
			if _, taken := defs[op.bulkID]; !taken {
				defs[op.bulkID] = op.index
			}
		}
	}
	// deps[i] are the operations i waits for, dependents[j] those that wait for j.
	deps := make([][]int, len(ops))
	dependents := make([][]int, len(ops))
	for _, op := range ops {
		if op.err != nil {
			continue
		}
		for _, ref := range op.refs {
			def, ok := defs[ref]
			if !ok {
				op.err = scimerror.BadRequest(scimerror.InvalidValue, "operation %d refers to bulkId %q, which no POST of the request has", op.index, ref)
				deps[op.index] = nil
				break
			}
			deps[op.index] = append(deps[op.index], def)
		}
		if op.err == nil {
			for _, def := range deps[op.index] {
				dependents[def] = append(dependents[def], op.index)
			}
		}
	}
	// Kahn's algorithm, the ready operation first in request order first.
	waiting := make([]int, len(ops))
	ready := &indexHeap{}
	for i := range ops {
		if waiting[i] = len(deps[i]); waiting[i] == 0 {
			heap.Push(ready, i)
		}
	}
	order := make([]int, 0, len(ops))
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		order = append(order, i)
		for _, d := range dependents[i] {
			if waiting[d]--; waiting[d] == 0 {
				heap.Push(ready, d)
			}
		}
	}
	for i, op := range ops {
		if waiting[i] == 0 {
			continue
		}
		if cycle := cycleThrough(ops, deps, waiting, i); cycle != nil {
			op.err = scimerror.Conflict("operation %d is in a circular bulkId reference (%s), which is not resolved (RFC 7644 §3.7.1)",
				i, strings.Join(cycle, " → "))
		} else {
			op.err = scimerror.Conflict("operation %d refers to a bulkId that is in a circular reference, which is not resolved (RFC 7644 §3.7.1)", i)
		}
		order = append(order, i)
	}
	return order
}

// cycleThrough returns the bulkIds of a circular reference from operation start back to it, among
// the operations still waiting, or nil when start is not in one.
func cycleThrough(ops []*bulkOp, deps [][]int, waiting []int, start int) []string {
	seen := map[int]bool{}
	var path []string
	var visit func(i int) bool
	visit = func(i int) bool {
		for _, d := range deps[i] {
			if waiting[d] == 0 {
				continue
			}
			if d == start {
				path = append(path, bulkIDPrefix+ops[d].bulkID)
				return true
			}
			if seen[d] {
				continue
			}
			seen[d] = true
			if visit(d) {
				path = append(path, bulkIDPrefix+ops[d].bulkID)
				return true
			}
		}
		return false
	}
	if !visit(start) {
		return nil
	}
	slices.Reverse(path)
	return append([]string{bulkIDPrefix + ops[start].bulkID}, path...)
}

// indexHeap is a min-heap of operation indexes.
type indexHeap []int

func (h indexHeap) Len() int           { return len(h) }
func (h indexHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h indexHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *indexHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *indexHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// isNull reports whether a JSON value is null.
func isNull(v json.RawMessage) bool { return string(bytes.TrimSpace(v)) == "null" }
