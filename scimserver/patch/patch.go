// Package patch parses SCIM PATCH requests (RFC 7644 §3.5.2) and applies them to resources
// represented as JSON documents (see package filter for the representation).
//
// Parse checks the request's structure; Request.Apply resolves every path and value against the
// resource type's schema, applies all operations to a copy of the document and, only when all of
// them succeed, writes the result back. Every client mistake is a 400 *scimerror.Error.
//
// Beyond RFC 7644, and for every provider, Apply understands the forms provisioning clients send
// that have one sensible reading:
//   - keys of a no-path value that are paths themselves: {"name.givenName": "x"},
//     {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": {...}}
//     or `{"emails[type eq \"work\"].value": "x"}` (Okta, Microsoft Entra ID);
//   - a readOnly attribute repeated with its current value, as Okta sends the resource's own "id"
//     in a no-path replace, which is ignored;
//   - a remove with a value, {"op":"remove","path":"members","value":[{"value":"id"}]}, which
//     removes just those values (Microsoft Entra ID), where ignoring the value would remove all;
//   - an add whose value filter matches no value, `emails[type eq "work"].value`, which adds the
//     value the filter describes, {"type":"work","value":…} (Microsoft Entra ID).
//
// Deviations that conflict with RFC 7644 are accepted only when the provider enables them in
// Options.
package patch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/scim-operator/scim-operator/scimserver/schema"
	"github.com/scim-operator/scim-operator/scimserver/scimerror"
)

// Options are the deviations from RFC 7644 a provider tolerates in its clients' PATCH requests.
// The zero value is strict RFC 7644, for the generic provider.
type Options struct {
	// CaseInsensitiveOps accepts op values in any case ("Add", "Replace", "Remove"), which Microsoft Entra
	// ID sends. Without it they are 400 invalidSyntax.
	CaseInsensitiveOps bool
	// Decoding is how values are checked, the same as for the provider's POST and PUT bodies:
	// with BooleanStrings, the strings "true" and "false", in any case, are booleans, as Microsoft
	// Entra ID sends {"op":"Replace","path":"active","value":"False"}; without it they are 400
	// invalidValue. Its other fields concern whole bodies and do not apply to PATCH, whose paths
	// name attributes exactly.
	Decoding schema.Decoding
	// ValueShorthand accepts a bare value where a complex attribute with a "value" sub-attribute
	// is expected, meaning {"value": v}, and a single value where an array of values is expected.
	// Microsoft Entra ID sends the enterprise manager as
	// {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "<id>"}, and
	// Microsoft's SCIM test collection adds a member as {"path":"members","value":"<id>"}.
	ValueShorthand bool
	// DisplayNameAlias accepts "displayName" for the "display" sub-attribute of a multi-valued
	// attribute such as members: Microsoft's SCIM test collection adds members as
	// [{"displayName":"new User","value":"<id>"}].
	DisplayNameAlias bool
	// FilteredReplaceAdds makes a replace whose value filter matches no value add the value the
	// filter describes, as add does, instead of failing with 400 noTarget as RFC 7644 §3.5.2.3
	// requires: Microsoft Entra ID sends Replace for `emails[type eq "work"].value` also when the
	// user has no work email yet.
	FilteredReplaceAdds bool
}

// MicrosoftEntra returns the Options for Microsoft Entra ID (formerly Azure AD) and Microsoft's SCIM
// test collection: every tolerance enabled.
func MicrosoftEntra() Options {
	return Options{CaseInsensitiveOps: true, Decoding: schema.MicrosoftEntra(), ValueShorthand: true, DisplayNameAlias: true, FilteredReplaceAdds: true}
}

// Op is a PATCH operation type.
type Op string

// PATCH operation types (RFC 7644 §3.5.2).
const (
	Add     Op = "add"
	Remove  Op = "remove"
	Replace Op = "replace"
)

// Operation is one PATCH operation.
type Operation struct {
	// Op is the operation type, in lower case.
	Op Op
	// Path is the target path as the client wrote it, or "" when the operation has none.
	Path string
	// Value is the decoded JSON value (numbers as json.Number), or nil when the operation has none
	// or it is null.
	Value any
	// hasValue tells a null value from none.
	hasValue bool
}

// Request is a parsed PATCH request.
type Request struct {
	// Operations are the operations, in the order they apply.
	Operations []Operation
	opts       Options
}

func invalidSyntax(format string, args ...any) *scimerror.Error {
	return scimerror.BadRequest(scimerror.InvalidSyntax, format, args...)
}

// Parse parses a PATCH request body. Member names are matched case-insensitively ("Schemas",
// "Operations", "OP", "Path", "Value"); members it does not know are ignored. The body must list
// the PatchOp schema URN and at least one operation, each with op add, remove or replace. Every
// error is a 400 invalidSyntax *scimerror.Error.
func Parse(body []byte, opts Options) (*Request, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		return nil, invalidSyntax("the PATCH request body must be a JSON object with schemas and Operations: %s", describeError(err))
	}
	fields, err := members(top, "request", "schemas", "Operations")
	if err != nil {
		return nil, err
	}
	if err := checkSchemas(fields["schemas"]); err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(fields["Operations"], &raw); err != nil || len(raw) == 0 {
		return nil, invalidSyntax("Operations must be an array of at least one operation")
	}
	r := &Request{Operations: make([]Operation, len(raw)), opts: opts}
	for i, op := range raw {
		if r.Operations[i], err = parseOperation(op, opts); err != nil {
			return nil, prefixed(fmt.Sprintf("Operations[%d]", i), err)
		}
	}
	return r, nil
}

func describeError(err error) string {
	if err == nil {
		return "got null"
	}
	return err.Error()
}

// members returns the members of a JSON object named names, matched case-insensitively and keyed
// by the given spelling. Two members with the same name in different case are an error.
func members(obj map[string]json.RawMessage, what string, names ...string) (map[string]json.RawMessage, error) {
	found := map[string]json.RawMessage{}
	for key, value := range obj {
		i := slices.IndexFunc(names, func(name string) bool { return strings.EqualFold(name, key) })
		if i < 0 {
			continue
		}
		if _, dup := found[names[i]]; dup {
			return nil, invalidSyntax("the %s has %q more than once (member names are case-insensitive)", what, names[i])
		}
		found[names[i]] = value
	}
	return found, nil
}

func checkSchemas(raw json.RawMessage) error {
	var schemas []string
	if err := json.Unmarshal(raw, &schemas); err != nil || raw == nil {
		return invalidSyntax("schemas must be an array holding %q", schema.PatchOpURN)
	}
	if !slices.ContainsFunc(schemas, func(s string) bool { return strings.EqualFold(s, schema.PatchOpURN) }) {
		return invalidSyntax("schemas must hold %q, got %q", schema.PatchOpURN, schemas)
	}
	return nil
}

func parseOperation(raw json.RawMessage, opts Options) (Operation, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return Operation{}, invalidSyntax("an operation must be an object with op, and path or value")
	}
	fields, err := members(obj, "operation", "op", "path", "value")
	if err != nil {
		return Operation{}, err
	}
	var o Operation
	var op string
	if err := json.Unmarshal(fields["op"], &op); err != nil || fields["op"] == nil {
		return Operation{}, invalidSyntax(`op must be one of "add", "remove" or "replace"`)
	}
	if o.Op, err = parseOp(op, opts); err != nil {
		return Operation{}, err
	}
	if raw, ok := fields["path"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &o.Path); err != nil {
			return Operation{}, invalidSyntax("path must be a string")
		}
		if o.Path == "" {
			return Operation{}, invalidSyntax("path must not be empty; leave it out to target the resource itself")
		}
	}
	if raw, ok := fields["value"]; ok {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&o.Value); err != nil {
			return Operation{}, invalidSyntax("value: %v", err)
		}
		o.hasValue = true
	}
	return o, nil
}

func parseOp(s string, opts Options) (Op, error) {
	switch op := Op(s); op {
	case Add, Remove, Replace:
		return op, nil
	}
	lower := Op(strings.ToLower(s))
	switch lower {
	case Add, Remove, Replace:
		if opts.CaseInsensitiveOps {
			return lower, nil
		}
		return "", invalidSyntax("op %q must be written in lower case: %q", s, lower)
	}
	return "", invalidSyntax(`op %q is not one of "add", "remove" or "replace"`, s)
}

// String renders the operation for messages: its op and path.
func (o Operation) String() string {
	if o.Path == "" {
		return string(o.Op)
	}
	return fmt.Sprintf("%s %s", o.Op, o.Path)
}
