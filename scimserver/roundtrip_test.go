package scimserver_test

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Everything the server advertises round-trips (issue 11): Users and Groups generated from the
// server's own /Schemas and /ResourceTypes, fetched over HTTP — every attribute and sub-attribute,
// by its type, multiValued, canonicalValues and mutability (readOnly ones are never sent), false
// and empty values, Unicode strings, attribute names in any case, the enterprise extension — are
// created, replaced and patched, and every GET must return exactly what was sent plus the derived
// attributes StrongDM documents (https://docs.strongdm.com/references/scim; docs/design.md,
// "Round trips"):
//   - on create and replace, displayName and name.formatted from "givenName familyName" (displayName
//     from userName when there is no name), a primary email from an email-shaped userName when no
//     email is sent, userType "user" (Create User's example response);
//   - active true unless sent, groups from role membership ([] when none), id, meta;
//   - members with type "User", $ref "Users/<id>" and, when sent without, their User's displayName
//     as display;
//   - an empty string is no value: "title": "" reads back as no title.
//
// The generator is math/rand/v2 seeded with Ginkgo's random seed, printed at the start of every
// run; rerun a failure with -ginkgo.seed=<seed> (and -ginkgo.focus on the spec). Values are not
// shrunk, which would replay failing cases against the API server many times; a failure names the
// seed, the request and the shortest path at which the response differs from the model.
// SCIM_ROUNDTRIP_ITERATIONS sets the number of resources of each generic spec (30; a third of that
// on the okta and azure paths).

// attrDef is an attribute as /Schemas advertises it (RFC 7643 §7).
type attrDef struct {
	Name            string     `json:"name"`
	Type            string     `json:"type"`
	MultiValued     bool       `json:"multiValued"`
	Required        bool       `json:"required"`
	CaseExact       bool       `json:"caseExact"`
	Mutability      string     `json:"mutability"`
	Returned        string     `json:"returned"`
	CanonicalValues []string   `json:"canonicalValues"`
	ReferenceTypes  []string   `json:"referenceTypes"`
	SubAttributes   []*attrDef `json:"subAttributes"`
}

func (a *attrDef) writable() bool { return a.Mutability != "readOnly" }

// sub returns the sub-attribute named name, or nil.
func (a *attrDef) sub(name string) *attrDef {
	for _, s := range a.SubAttributes {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// advertisedType is a resource type with its schemas' attributes, as the server advertises them.
type advertisedType struct {
	name, endpoint, core string
	attrs                []*attrDef
	// extensions are the extension schemas' attributes by URN.
	extensions map[string][]*attrDef
}

// fetchAdvertised reads /ResourceTypes and /Schemas over HTTP.
func fetchAdvertised(provider string) map[string]*advertisedType {
	GinkgoHelper()
	schemas := map[string][]*attrDef{}
	for _, s := range call(server.URL, provider, "GET", "/Schemas", "").expectStatus(http.StatusOK).body["Resources"].([]any) {
		doc := s.(map[string]any)
		var attrs []*attrDef
		Expect(remarshal(doc["attributes"], &attrs)).To(Succeed())
		schemas[doc["id"].(string)] = attrs
	}
	types := map[string]*advertisedType{}
	for _, r := range call(server.URL, provider, "GET", "/ResourceTypes", "").expectStatus(http.StatusOK).body["Resources"].([]any) {
		doc := r.(map[string]any)
		t := &advertisedType{name: doc["name"].(string), endpoint: doc["endpoint"].(string), core: doc["schema"].(string),
			extensions: map[string][]*attrDef{}}
		t.attrs = schemas[t.core]
		Expect(t.attrs).NotTo(BeEmpty(), "the schema of %s is listed", t.name)
		for _, e := range asList(doc["schemaExtensions"]) {
			urn := e.(map[string]any)["schema"].(string)
			Expect(schemas).To(HaveKey(urn))
			t.extensions[urn] = schemas[urn]
		}
		types[t.name] = t
	}
	Expect(types).To(HaveKey("User"))
	Expect(types).To(HaveKey("Group"))
	return types
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

func asList(v any) []any { l, _ := v.([]any); return l }

// generator makes random values of advertised attributes.
type generator struct {
	rnd *rand.Rand
	// members are the ids of existing users a Group's members may name.
	members []string
	// memberDisplay is the display the server derives for a member sent without: its User's
	// displayName.
	memberDisplay map[string]string
	// serverURL is the base of absolute member $refs.
	serverURL string
	// n makes values unique within a run.
	n int
}

// stringPools are what generated strings are made of: ASCII, Latin letters whose case folding is
// special (ß, İ, ı, ſ, ǅ), CJK, Cyrillic, Greek, Hebrew and Arabic, emoji with a zero-width joiner,
// combining and invisible characters, and characters JSON escapes.
var stringPools = [][]rune{
	[]rune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
	[]rune(" -_.'@+/:"),
	[]rune("éüßøçñİıſǅÅ"),
	[]rune("中文日本語한국어"),
	[]rune("ПриветΩμέγαשלוםمرحبا"),
	[]rune("🙂🚀👩\u200d💻"),
	[]rune("\u0301\u00a0\u2028\ufeff"),
	[]rune("\"\\<>&\t\n"),
}

func (g *generator) chance(p float64) bool { return g.rnd.Float64() < p }

// text returns a random string of 1 to 12 characters.
func (g *generator) text() string {
	var b strings.Builder
	for range 1 + g.rnd.IntN(12) {
		pool := stringPools[g.rnd.IntN(len(stringPools))]
		b.WriteRune(pool[g.rnd.IntN(len(pool))])
	}
	return b.String()
}

// token returns a string unique within the run, with random text around it.
func (g *generator) token() string {
	g.n++
	return g.text() + "#" + strconv.Itoa(g.n) + "#" + g.text()
}

// simple returns a value of a simple attribute a; for a string, the empty string now and then.
func (g *generator) simple(a *attrDef) any {
	switch a.Type {
	case "boolean":
		return g.chance(0.5)
	case "integer":
		return float64(g.rnd.IntN(3) - 1)
	case "decimal":
		return []float64{0, 1.5, -2.25}[g.rnd.IntN(3)]
	case "dateTime":
		return fmt.Sprintf("20%02d-0%d-1%dT0%d:30:00Z", g.rnd.IntN(30), 1+g.rnd.IntN(9), g.rnd.IntN(9), g.rnd.IntN(9))
	case "reference":
		return "https://example.test/" + strconv.Itoa(g.rnd.IntN(1000))
	}
	if len(a.CanonicalValues) > 0 {
		return a.CanonicalValues[g.rnd.IntN(len(a.CanonicalValues))]
	}
	if g.chance(0.1) {
		return ""
	}
	return g.text()
}

// keyOf returns the sub-attribute of a multi-valued complex attribute whose value makes each
// generated value distinct: "value", else the first free-text string. Values that are equal are
// one value (RFC 7643 §2.4), which the server folds; the generator sends distinct ones.
func keyOf(a *attrDef) *attrDef {
	if v := a.sub("value"); v != nil && v.writable() {
		return v
	}
	for _, s := range a.SubAttributes {
		if s.Type == "string" && len(s.CanonicalValues) == 0 && s.writable() {
			return s
		}
	}
	return nil
}

// complexValue returns a value of the complex attribute a (one element when a is multi-valued),
// each writable sub-attribute present by chance; for a Group's members, one naming member.
func (g *generator) complexValue(a *attrDef, member string) map[string]any {
	out := map[string]any{}
	key := keyOf(a)
	for _, s := range a.SubAttributes {
		if !s.writable() || (s != key && !g.chance(0.6)) {
			continue
		}
		switch {
		case member != "" && s.Name == "value":
			out[s.Name] = member
		case member != "" && s.Type == "reference":
			// a $ref naming the member's User, relative or absolute (RFC 7643 §4.2)
			out[s.Name] = []string{"Users/" + member, g.serverURL + "/Users/" + member}[g.rnd.IntN(2)]
		case a.MultiValued && s == key:
			out[s.Name] = g.token()
		default:
			out[s.Name] = g.simple(s)
		}
	}
	return out
}

// values returns 0 to 3 values of the multi-valued attribute a, at most one of them primary.
func (g *generator) values(a *attrDef, isMembers bool) []any {
	n := g.rnd.IntN(4)
	var ids []string
	if isMembers {
		ids = slices.Clone(g.members)
		g.rnd.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		n = min(n, len(ids))
	}
	out := make([]any, 0, n)
	primary := false
	for i := range n {
		if a.Type != "complex" {
			out = append(out, g.token())
			continue
		}
		member := ""
		if isMembers {
			member = ids[i]
		}
		v := g.complexValue(a, member)
		if v["primary"] == true {
			if primary {
				v["primary"] = false
			}
			primary = true
		}
		out = append(out, v)
	}
	return out
}

// value returns a value of attribute a.
func (g *generator) value(a *attrDef, isMembers bool) any {
	switch {
	case a.MultiValued:
		return g.values(a, isMembers)
	case a.Type == "complex":
		return g.complexValue(a, "")
	}
	return g.simple(a)
}

// resource returns a body of resource type t: each writable attribute of the core schema and of
// the extensions by chance, the required ones always, identity names unique.
func (g *generator) resource(t *advertisedType) map[string]any {
	body := map[string]any{}
	for _, a := range t.attrs {
		if !a.writable() || (!a.Required && !g.chance(0.7)) {
			continue
		}
		body[a.Name] = g.value(a, t.name == "Group" && a.Name == "members")
	}
	switch t.name {
	case "User":
		// unique, without surrounding white space (docs/design.md), email-shaped now and then
		name := strings.TrimFunc(unique("rt")+g.token(), unicode.IsSpace)
		if g.chance(0.5) {
			name += "@example.test"
		}
		body["userName"] = name
	case "Group":
		body["displayName"] = unique("rt") + g.token()
	}
	if g.chance(0.5) { // a common attribute (RFC 7643 §3.1)
		body["externalId"] = g.token()
	}
	schemas := []any{t.core}
	for urn, attrs := range t.extensions {
		if !g.chance(0.6) {
			continue
		}
		ext := map[string]any{}
		for _, a := range attrs {
			if a.writable() && g.chance(0.7) {
				ext[a.Name] = g.value(a, false)
			}
		}
		if g.chance(0.3) { // the extension's own schemas member, which clients copy from its definition
			ext["schemas"] = []any{urn}
		}
		body[urn] = ext
		schemas = append(schemas, urn)
	}
	body["schemas"] = schemas
	return body
}

// anyCase returns a copy of a body with some attribute names in another case: names are
// case-insensitive (RFC 7643 §2.1), the server answers with the schema's.
func (g *generator) anyCase(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, sub := range v {
			if g.chance(0.2) && !strings.HasPrefix(k, "urn:") {
				k = strings.ToUpper(k[:1]) + strings.ToLower(k[1:])
			}
			out[k] = g.anyCase(sub)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, sub := range v {
			out[i] = g.anyCase(sub)
		}
		return out
	}
	return v
}

// assigned drops what holds no value — null, "", [] and {} (RFC 7643 §2.5; docs/design.md for
// the empty string) — from a copy of v, and reports whether anything is left.
func assigned(v any) (any, bool) {
	switch v := v.(type) {
	case nil:
		return nil, false
	case string:
		return v, v != ""
	case map[string]any:
		out := map[string]any{}
		for k, sub := range v {
			if s, ok := assigned(sub); ok {
				out[k] = s
			}
		}
		return out, len(out) > 0
	case []any:
		out := []any{}
		for _, sub := range v {
			if s, ok := assigned(sub); ok {
				out = append(out, s)
			}
		}
		return out, len(out) > 0
	}
	return v, true
}

// normalized is what a GET of a resource written with body shows of it: the body without what
// holds no value, without its schemas, members' $ref canonical.
func normalized(body map[string]any) map[string]any {
	v, _ := assigned(body)
	doc := v.(map[string]any)
	delete(doc, "schemas")
	for k, v := range doc {
		if ext, ok := v.(map[string]any); ok && strings.HasPrefix(k, "urn:") {
			delete(ext, "schemas")
			if len(ext) == 0 {
				delete(doc, k)
			}
		}
	}
	for _, m := range asList(doc["members"]) {
		if member := m.(map[string]any); member["$ref"] != nil {
			member["$ref"] = "Users/" + member["value"].(string)
		}
	}
	return doc
}

// derived adds to doc, the model of a resource of type t with id, what the server derives on
// every read: schemas, id, active, groups, members' type, $ref and display.
func derived(t *advertisedType, doc map[string]any, id string, memberDisplay map[string]string) map[string]any {
	doc["id"] = id
	schemas := []any{t.core}
	for urn := range t.extensions {
		if doc[urn] != nil {
			schemas = append(schemas, urn)
		}
	}
	doc["schemas"] = schemas
	switch t.name {
	case "User":
		if doc["active"] == nil {
			doc["active"] = true
		}
		doc["groups"] = []any{}
	case "Group":
		if doc["members"] == nil {
			doc["members"] = []any{}
		}
		for _, m := range asList(doc["members"]) {
			member := m.(map[string]any)
			member["type"], member["$ref"] = "User", "Users/"+member["value"].(string)
			if member["display"] == nil {
				member["display"] = memberDisplay[member["value"].(string)]
			}
		}
	}
	return doc
}

// derivedOnWrite adds what StrongDM derives when a User is created or replaced: displayName and
// name.formatted from the given and family names, a primary email from an email-shaped userName,
// userType "user".
func derivedOnWrite(t *advertisedType, doc map[string]any) {
	if t.name != "User" {
		return
	}
	if name, ok := doc["name"].(map[string]any); ok {
		given, _ := name["givenName"].(string)
		family, _ := name["familyName"].(string)
		if full := strings.TrimSpace(given + " " + family); full != "" {
			if name["formatted"] == nil {
				name["formatted"] = full
			}
			if doc["displayName"] == nil {
				doc["displayName"] = full
			}
		}
	}
	if doc["displayName"] == nil {
		doc["displayName"] = doc["userName"]
	}
	if userName := doc["userName"].(string); doc["emails"] == nil && strings.Contains(userName, "@") {
		doc["emails"] = []any{map[string]any{"value": userName, "primary": true}}
	}
	if doc["userType"] == nil {
		doc["userType"] = "user"
	}
}

// difference returns the shortest path at which got differs from want, and what each holds
// there, or "" when they are equal. Arrays compare in order.
func difference(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			seen := map[string]bool{}
			for _, m := range []map[string]any{w, g} {
				for k := range m {
					if !seen[k] && !yield(k) {
						return
					}
					seen[k] = true
				}
			}
		})
		var found []string
		for _, k := range keys {
			wv, inWant := w[k]
			gv, inGot := g[k]
			switch {
			case !inWant:
				found = append(found, fmt.Sprintf("%s: want no value, got %s", join(path, k), show(gv)))
			case !inGot:
				found = append(found, fmt.Sprintf("%s: want %s, got none", join(path, k), show(wv)))
			default:
				if d := difference(join(path, k), wv, gv); d != "" {
					found = append(found, d)
				}
			}
		}
		if len(found) == 0 {
			return ""
		}
		slices.SortStableFunc(found, func(a, b string) int { return len(a) - len(b) })
		return found[0]
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			if d := difference(fmt.Sprintf("%s[%d]", path, i), w[i], g[i]); d != "" {
				return d
			}
		}
		return ""
	default:
		if reflect.DeepEqual(want, got) {
			return ""
		}
	}
	return fmt.Sprintf("%s: want %s, got %s", path, show(want), show(got))
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func show(v any) string { b, _ := json.Marshal(v); return string(b) }

// roundTrip holds one spec's run: the advertised types, the generator and what to say on failure.
type roundTrip struct {
	// provider is the path the requests take.
	provider string
	types    map[string]*advertisedType
	g        *generator
	seed     int64
	// step is the request being checked, for failure messages.
	step string
}

func newRoundTrip(provider string) *roundTrip {
	GinkgoHelper()
	seed := GinkgoRandomSeed()
	rt := &roundTrip{provider: provider, types: fetchAdvertised(provider), seed: seed,
		g: &generator{rnd: rand.New(rand.NewPCG(uint64(seed), specStream())), serverURL: server.URL + "/provisioning/" + provider + "/v2"}}
	GinkgoWriter.Printf("round trip: seed %d (rerun with -ginkgo.seed=%d)\n", seed, seed)
	return rt
}

// specStream is the random stream of the running spec, so that each spec draws its own values and
// a focused rerun with the same seed draws the same.
func specStream() uint64 {
	h := fnv.New64a()
	h.Write([]byte(CurrentSpecReport().FullText()))
	return h.Sum64()
}

// iterations is how many resources each spec writes.
func iterations() int {
	if n, err := strconv.Atoi(os.Getenv("SCIM_ROUNDTRIP_ITERATIONS")); err == nil && n > 0 {
		return n
	}
	return 30
}

// send sends a write and returns the response, which must have one of the statuses.
func (r *roundTrip) send(method, path string, body any, statuses ...int) *response {
	GinkgoHelper()
	b, err := json.Marshal(body)
	Expect(err).NotTo(HaveOccurred())
	r.step = fmt.Sprintf("%s %s %s", method, path, b)
	resp := call(server.URL, r.provider, method, path, string(b))
	Expect(statuses).To(ContainElement(resp.StatusCode), "seed %d, %s\nanswered %d: %s", r.seed, r.step, resp.StatusCode, resp.raw)
	return resp
}

// expect checks that a resource as served — the response to a write, then a GET — is the model.
func (r *roundTrip) expect(t *advertisedType, resp *response, want map[string]any) {
	GinkgoHelper()
	id := want["id"].(string)
	get := call(server.URL, r.provider, "GET", t.endpoint+"/"+id, "").expectStatus(http.StatusOK)
	for _, got := range []*response{resp, get} {
		if got == nil || got.body == nil {
			continue
		}
		doc := copyJSON(got.body)
		meta, _ := doc["meta"].(map[string]any)
		Expect(meta).To(And(HaveKeyWithValue("resourceType", t.name), HaveKeyWithValue("location", t.endpoint[1:]+"/"+id),
			HaveKeyWithValue("version", Not(BeEmpty())), HaveKey("created"), HaveKey("lastModified")),
			"seed %d, %s: meta", r.seed, r.step)
		delete(doc, "meta")
		// A group's members are a set (RFC 7643 §2.4: the order of values is not significant): a
		// PATCH that adds a member already present may move it.
		want := copyJSON(want)
		sortMembers(want)
		sortMembers(doc)
		Expect(difference("", want, doc)).To(BeEmpty(), "seed %d, %s\nwant %s\n got %s", r.seed, r.step, show(want), show(doc))
	}
}

// attrPath is an attribute path of a resource: an attribute of the core schema (urn "") or of an
// extension, optionally one of its sub-attributes.
type attrPath struct{ urn, attr, sub string }

func (p attrPath) String() string {
	s := p.attr
	if p.urn != "" {
		s = p.urn + ":" + s
	}
	if p.sub != "" {
		s += "." + p.sub
	}
	return s
}

// paths returns one to three random paths of attributes that want, the model of a resource of
// type t, holds.
func (g *generator) paths(t *advertisedType, want map[string]any) []attrPath {
	var all []attrPath
	add := func(urn string, attrs []*attrDef, container map[string]any) {
		for _, a := range attrs {
			if container[a.Name] == nil {
				continue
			}
			all = append(all, attrPath{urn: urn, attr: a.Name})
			for _, s := range a.SubAttributes {
				all = append(all, attrPath{urn: urn, attr: a.Name, sub: s.Name})
			}
		}
	}
	add("", t.attrs, want)
	for urn, attrs := range t.extensions {
		if ext, ok := want[urn].(map[string]any); ok {
			add(urn, attrs, ext)
		}
	}
	if len(all) == 0 {
		return nil
	}
	out := make([]attrPath, 1+g.rnd.IntN(3))
	for i := range out {
		out[i] = all[g.rnd.IntN(len(all))]
	}
	return out
}

// returnedAlways reports whether the attribute of a path is returned whatever a projection asks.
func returnedAlways(t *advertisedType, p attrPath) bool {
	if p.urn != "" {
		return false
	}
	for _, a := range t.attrs {
		if a.Name == p.attr {
			return a.Returned == "always" || (p.sub != "" && a.sub(p.sub) != nil && a.sub(p.sub).Returned == "always")
		}
	}
	return false
}

// excludedModel is the model of a resource read with excludedAttributes=paths (RFC 7644
// §3.4.2.5): without what the paths name, and without what is left holding no value.
func excludedModel(t *advertisedType, want map[string]any, paths []attrPath) map[string]any {
	doc := copyJSON(want)
	for _, p := range paths {
		if returnedAlways(t, p) {
			continue
		}
		container := doc
		if p.urn != "" {
			container, _ = doc[p.urn].(map[string]any)
		}
		if container == nil {
			continue
		}
		if p.sub == "" {
			delete(container, p.attr)
			continue
		}
		switch v := container[p.attr].(type) {
		case map[string]any:
			delete(v, p.sub)
		case []any:
			for _, item := range v {
				delete(item.(map[string]any), p.sub)
			}
		}
	}
	schemas, id := doc["schemas"], doc["id"]
	kept, _ := assigned(doc)
	out := kept.(map[string]any)
	out["schemas"], out["id"] = schemas, id
	for k, v := range doc { // groups and members are returned [] when empty
		if l, ok := v.([]any); ok && len(l) == 0 {
			out[k] = []any{}
		}
	}
	return out
}

// includedModel is the model of a resource read with attributes=paths: what the paths name, id,
// schemas and the attributes returned always.
func includedModel(t *advertisedType, want map[string]any, paths []attrPath) map[string]any {
	out := map[string]any{"schemas": want["schemas"], "id": want["id"]}
	for _, a := range t.attrs {
		if a.Returned == "always" && want[a.Name] != nil {
			out[a.Name] = want[a.Name]
		}
	}
	for _, p := range paths {
		from, to := want, out
		if p.urn != "" {
			from, _ = want[p.urn].(map[string]any)
			if to, _ = out[p.urn].(map[string]any); to == nil {
				to = map[string]any{}
				out[p.urn] = to
			}
		}
		v, ok := from[p.attr]
		if !ok {
			continue
		}
		if p.sub == "" {
			to[p.attr] = v
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			have, _ := to[p.attr].(map[string]any)
			if have == nil {
				have = map[string]any{}
				to[p.attr] = have
			}
			if sv, ok := v[p.sub]; ok {
				have[p.sub] = sv
			}
		case []any:
			have, _ := to[p.attr].([]any)
			for i, item := range v {
				if i >= len(have) {
					have = append(have, map[string]any{})
				}
				if sv, ok := item.(map[string]any)[p.sub]; ok {
					have[i].(map[string]any)[p.sub] = sv
				}
			}
			to[p.attr] = have
		}
	}
	schemas, id := out["schemas"], out["id"]
	kept, _ := assigned(out)
	doc := kept.(map[string]any)
	doc["schemas"], doc["id"] = schemas, id
	for _, p := range paths { // groups and members are returned [] when empty
		if l, ok := want[p.attr].([]any); ok && p.urn == "" && len(l) == 0 {
			doc[p.attr] = []any{}
		}
	}
	return doc
}

// expectProjections reads the resource whose model is want with random attributes and
// excludedAttributes, compares each with the model, and then reads it whole: a projection
// shapes one response and changes nothing.
func (r *roundTrip) expectProjections(t *advertisedType, want map[string]any) {
	GinkgoHelper()
	id := want["id"].(string)
	paths := r.g.paths(t, want)
	if len(paths) == 0 {
		return
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p.String()
	}
	list := url.QueryEscape(strings.Join(names, ","))
	for _, c := range []struct {
		param string
		model map[string]any
	}{
		{"excludedAttributes", excludedModel(t, want, paths)},
		{"attributes", includedModel(t, want, paths)},
	} {
		r.step = fmt.Sprintf("GET %s/%s?%s=%s", t.endpoint, id, c.param, strings.Join(names, ","))
		got := copyJSON(call(server.URL, r.provider, "GET", t.endpoint+"/"+id+"?"+c.param+"="+list, "").expectStatus(http.StatusOK).body)
		delete(got, "meta")
		model := copyJSON(c.model)
		delete(model, "meta")
		Expect(difference("", model, got)).To(BeEmpty(), "seed %d, %s\nwant %s\n got %s", r.seed, r.step, show(model), show(got))
	}
	r.step = "GET " + t.endpoint + "/" + id + " after the projections"
	r.expect(t, nil, want)
}

// copyJSON returns a deep copy of a decoded JSON object.
func copyJSON(m map[string]any) map[string]any {
	var out map[string]any
	Expect(remarshal(m, &out)).To(Succeed())
	return out
}

// The generic path is the contract; okta and azure, whose quirks only widen what is accepted, must
// round-trip the same, with fewer iterations.
var _ = DescribeTableSubtree("Everything advertised round-trips", func(provider string, share int) {
	var r *roundTrip
	n := func() int { return max(1, iterations()/share) }
	BeforeEach(func() {
		r = newRoundTrip(provider)
		r.g.memberDisplay = map[string]string{}
		for range 4 {
			id := createUser(unique("rt-member"))
			r.g.members = append(r.g.members, id)
			r.g.memberDisplay[id] = "Given Family" // createUser's name, derived (StrongDM, Create User)
		}
	})

	for _, name := range []string{"User", "Group"} {
		It("creates and replaces "+name+"s with every advertised attribute: GET returns what was sent plus what is derived", func() {
			t := r.types[name]
			for range n() {
				body := r.g.resource(t)
				created := r.send("POST", t.endpoint, r.g.anyCase(body), http.StatusCreated)
				id := created.str("id")
				want := derived(t, normalized(body), id, r.g.memberDisplay)
				derivedOnWrite(t, want)
				r.expect(t, created, want)
				r.expectProjections(t, want)

				body = r.g.resource(t)
				replaced := r.send("PUT", t.endpoint+"/"+id, r.g.anyCase(body), http.StatusOK)
				want = derived(t, normalized(body), id, r.g.memberDisplay)
				derivedOnWrite(t, want)
				r.expect(t, replaced, want)
			}
		})

		It("patches "+name+"s with add and replace of every advertised attribute, by path, by extension URN and without path", func() {
			t := r.types[name]
			for range n() {
				body := r.g.resource(t)
				id := r.send("POST", t.endpoint, body, http.StatusCreated).str("id")
				current := derived(t, normalized(body), id, r.g.memberDisplay)
				derivedOnWrite(t, current)

				ops, want := r.g.patch(t, current)
				patched := r.send("PATCH", t.endpoint+"/"+id, map[string]any{
					"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}, http.StatusOK, http.StatusNoContent)
				r.expect(t, patched, derived(t, want, id, r.g.memberDisplay))
			}
		})
	}
},
	Entry("on the generic path", "generic", 1),
	Entry("on the okta path", "okta", 3),
	Entry("on the azure path", "azure", 3),
)

// patch returns PATCH operations that add or replace random attributes of current, a resource of
// type t as the server holds it, and the model of the resource after them. Each attribute is
// written in one of the forms RFC 7644 §3.5.2 allows: with its path, a sub-attribute's path, the
// extension's URN as path with a value carrying the extension's own schemas member, or in a value
// without path.
func (g *generator) patch(t *advertisedType, current map[string]any) ([]any, map[string]any) {
	want := copyJSON(current)
	next := g.resource(t)
	delete(want, "id")
	delete(want, "schemas")
	if t.name == "User" {
		delete(want, "groups") // readOnly: derived again
	}
	var ops []any
	noPath := map[string]any{}
	op := func() string { return []string{"add", "replace"}[g.rnd.IntN(2)] }
	noPathOp := op()
	for _, a := range t.attrs {
		v, ok := next[a.Name]
		if !ok || !g.chance(0.6) {
			continue
		}
		name := a.Name
		if g.chance(0.2) {
			name = strings.ToUpper(name) // paths are case-insensitive
		}
		if a.MultiValued && g.chance(0.3) {
			if o, ok := g.filteredOp(a, name, want); ok {
				ops = append(ops, o)
				continue
			}
		}
		switch {
		case a.MultiValued && g.chance(0.25):
			noPath[a.Name] = v
			want[a.Name] = patchValues(a, noPathOp, want[a.Name], v)
		case a.MultiValued:
			o := op()
			ops = append(ops, map[string]any{"op": o, "path": name, "value": v})
			want[a.Name] = patchValues(a, o, want[a.Name], v)
		case a.Type == "complex":
			sub := v.(map[string]any)
			if len(sub) > 0 && g.chance(0.5) {
				// one sub-attribute by its path, "name.givenName"
				k := slices.Sorted(mapKeys(sub))[g.rnd.IntN(len(sub))]
				ops = append(ops, map[string]any{"op": op(), "path": name + "." + k, "value": sub[k]})
				sub = map[string]any{k: sub[k]}
			} else {
				ops = append(ops, map[string]any{"op": op(), "path": name, "value": sub})
			}
			want[a.Name] = merged(want[a.Name], sub)
		case g.chance(0.5):
			noPath[a.Name] = v
			setOrDrop(want, a.Name, v)
		default:
			ops = append(ops, map[string]any{"op": op(), "path": name, "value": v})
			setOrDrop(want, a.Name, v)
		}
	}
	if v, ok := next["externalId"]; ok {
		noPath["externalId"] = v
		setOrDrop(want, "externalId", v)
	}
	for urn, attrs := range t.extensions {
		ext, ok := next[urn].(map[string]any)
		if !ok || len(ext) == 0 {
			continue
		}
		switch g.rnd.IntN(3) {
		case 0: // the extension's URN as path; the value names its schema, which is ignored
			value := copyJSON(ext)
			value["schemas"] = []any{urn}
			ops = append(ops, map[string]any{"op": op(), "path": urn, "value": value})
		case 1: // each attribute by its URN-qualified path
			for _, a := range attrs {
				if v, ok := ext[a.Name]; ok {
					ops = append(ops, map[string]any{"op": op(), "path": urn + ":" + a.Name, "value": v})
				}
			}
		default: // in a value without path, under the URN
			noPath[urn] = ext
		}
		have, _ := want[urn].(map[string]any)
		if have == nil {
			have = map[string]any{}
		}
		for _, a := range attrs {
			if v, ok := ext[a.Name]; ok {
				if a.Type == "complex" {
					have[a.Name] = merged(have[a.Name], v.(map[string]any))
				} else {
					setOrDrop(have, a.Name, v)
				}
			}
		}
		want[urn] = have
	}
	if len(noPath) > 0 || len(ops) == 0 {
		ops = append(ops, map[string]any{"op": noPathOp, "value": noPath})
	}
	g.rnd.Shuffle(len(ops), func(i, j int) { ops[i], ops[j] = ops[j], ops[i] })
	model, _ := assigned(want)
	return ops, model.(map[string]any)
}

// filteredOp returns an add or replace of one sub-attribute of the value of the multi-valued
// attribute a (named name) that a value filter selects by its "value", `emails[value eq "…"].type`
// (RFC 7644 §3.5.2), and applies it to want; false when a has no such value or sub-attribute. The
// filter's operand is the value as a JSON string, escapes included.
func (g *generator) filteredOp(a *attrDef, name string, want map[string]any) (map[string]any, bool) {
	var subs []*attrDef
	for _, s := range a.SubAttributes {
		if s.Name != "value" && s.Mutability == "readWrite" {
			subs = append(subs, s)
		}
	}
	var values []map[string]any
	for _, v := range asList(want[a.Name]) {
		if m, ok := v.(map[string]any); ok && m["value"] != nil {
			values = append(values, m)
		}
	}
	if len(subs) == 0 || len(values) == 0 || a.sub("value") == nil {
		return nil, false
	}
	target := values[g.rnd.IntN(len(values))]
	sub := subs[g.rnd.IntN(len(subs))]
	v := g.simple(sub)
	operand, _ := json.Marshal(target["value"])
	// The generated values are distinct however compared, so the filter selects target only.
	setOrDrop(target, sub.Name, v)
	if sub.Name == "primary" && v == true {
		for _, other := range values {
			if other["primary"] == true && !reflect.DeepEqual(other["value"], target["value"]) {
				other["primary"] = false
			}
		}
	}
	path := fmt.Sprintf("%s[value eq %s].%s", name, operand, sub.Name)
	return map[string]any{"op": []string{"add", "replace"}[g.rnd.IntN(2)], "path": path, "value": v}, true
}

func mapKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// setOrDrop sets key to v in m, or takes it out when v is no value.
func setOrDrop(m map[string]any, key string, v any) {
	if s, ok := assigned(v); ok {
		m[key] = s
	} else {
		delete(m, key)
	}
}

// merged is a complex value after add or replace of update: the sub-attributes named are set,
// the others stay (RFC 7644 §3.5.2.1, §3.5.2.3).
func merged(current any, update map[string]any) any {
	out := map[string]any{}
	if c, ok := current.(map[string]any); ok {
		for k, v := range c {
			out[k] = v
		}
	}
	for k, v := range update {
		setOrDrop(out, k, v)
	}
	return out
}

// patchValues is the multi-valued attribute a after add or replace of values (RFC 7644
// §3.5.2.1, §3.5.2.3): replace replaces them all; add appends each value, or merges it into the
// one present with the same "value" (compared as a compares it); a value added as primary makes
// the others no longer primary (RFC 7643 §2.4).
func patchValues(a *attrDef, op string, current, values any) any {
	added, _ := assigned(values)
	list := asList(added)
	if op == "replace" {
		return list
	}
	same := func(x, y any) bool {
		xm, _ := x.(map[string]any)
		ym, _ := y.(map[string]any)
		xs, _ := xm["value"].(string)
		ys, _ := ym["value"].(string)
		if a.sub("value") != nil && !a.sub("value").CaseExact {
			return xs != "" && strings.EqualFold(xs, ys)
		}
		return xs != "" && xs == ys
	}
	out := []any{}
	for _, v := range asList(current) {
		if m, ok := v.(map[string]any); ok {
			out = append(out, copyJSON(m))
		} else {
			out = append(out, v)
		}
	}
	for _, v := range asList(values) {
		i := slices.IndexFunc(out, func(have any) bool { return same(have, v) })
		if i < 0 {
			if kept, ok := assigned(v); ok {
				out = append(out, kept)
			}
			continue
		}
		// merged as sent: an empty sub-attribute unassigns the one present
		update := copyJSON(v.(map[string]any))
		delete(update, "value") // the value stays as first written
		out[i] = merged(out[i], update)
	}
	if p := slices.IndexFunc(list, func(v any) bool { m, _ := v.(map[string]any); return m["primary"] == true }); p >= 0 {
		for _, v := range out {
			if m, ok := v.(map[string]any); ok && m["primary"] == true && !same(m, list[p]) && !reflect.DeepEqual(m, list[p]) {
				m["primary"] = false
			}
		}
	}
	return out
}

// What the round trip found, each pinned by its own request.
var _ = Describe("Round-trip fixes", func() {
	const enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchBody := func(ops string) string {
		return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
	}

	It("accepts a PATCH whose path is the extension's URN and whose value carries the extension's schemas, ignoring that member", func() {
		id := createUser(unique("ext-urn") + "@example.test")
		for _, op := range []string{"add", "replace"} {
			dept := unique("Dept")
			r := scim("PATCH", "/Users/"+id, patchBody(fmt.Sprintf(`{"op":%q,"path":%q,"value":{"schemas":[%q],"department":%q,"manager":{"value":"a-2"}}}`,
				op, enterprise, enterprise, dept))).expectStatus(http.StatusOK)
			Expect(r.body[enterprise]).To(Equal(map[string]any{"department": dept, "manager": map[string]any{"value": "a-2"}}), op)
			Expect(r.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:schemas:core:2.0:User", enterprise))
		}
		// The same value without path, under the URN.
		r := scim("PATCH", "/Users/"+id, patchBody(fmt.Sprintf(`{"op":"replace","value":{%q:{"Schemas":[%q],"division":"D"}}}`, enterprise, enterprise))).
			expectStatus(http.StatusOK)
		Expect(r.body[enterprise]).To(HaveKeyWithValue("division", "D"))
	})

	It("accepts the extension's own schemas member in a POST body too", func() {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",%q],"userName":%q,%q:{"schemas":[%q],"department":"Ops"}}`,
			enterprise, unique("ext-post"), enterprise, enterprise)
		r := scim("POST", "/Users", body).expectStatus(http.StatusCreated)
		Expect(r.body[enterprise]).To(Equal(map[string]any{"department": "Ops"}))
	})

	It("returns no complex value that holds only empty strings", func() {
		body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User",%q],"userName":%q,"title":"","emails":[{"value":""}],%q:{"manager":{"value":""}}}`,
			enterprise, unique("empty"), enterprise)
		r := scim("POST", "/Users", body).expectStatus(http.StatusCreated)
		got := scim("GET", "/Users/"+r.str("id"), "").expectStatus(http.StatusOK)
		Expect(got.body).NotTo(HaveKey("title"))
		Expect(got.body).NotTo(HaveKey("emails"))
		Expect(got.body).NotTo(HaveKey(enterprise))
		Expect(got.body["schemas"]).To(ConsistOf("urn:ietf:params:scim:schemas:core:2.0:User"))
	})

	It("takes a member re-added with its absolute $ref as the same member, and derives the display a PATCH took away", func() {
		a := createUser(unique("ref") + "@example.test")
		r := scim("POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":%q,"members":[{"value":%q,"display":"Alice"}]}`, unique("refs"), a)).
			expectStatus(http.StatusCreated)
		group := r.str("id")
		abs := server.URL + "/provisioning/generic/v2/Users/" + a
		r = scim("PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"add","path":"members","value":[{"value":%q,"$ref":%q,"type":"User","display":"Alice Smith"}]}`, a, abs))).
			expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(map[string]any{"value": a, "display": "Alice Smith", "type": "User", "$ref": "Users/" + a}))
		r = scim("PATCH", "/Groups/"+group, groupPatch(fmt.Sprintf(`{"op":"replace","path":"members","value":[{"value":%q}]}`, a))).
			expectStatus(http.StatusOK)
		Expect(r.body["members"]).To(ConsistOf(HaveKeyWithValue("display", "Given Family")), "the User's displayName, as on create")
	})
})

// sortMembers orders doc's members by value.
func sortMembers(doc map[string]any) {
	members, ok := doc["members"].([]any)
	if !ok {
		return
	}
	value := func(m any) string {
		v, _ := m.(map[string]any)["value"].(string)
		return v
	}
	slices.SortFunc(members, func(a, b any) int { return strings.Compare(value(a), value(b)) })
}
