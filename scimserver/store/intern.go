package store

// Interning: many cached users hold the same short strings — their conditions' types, reasons and
// messages, a label's value, the finalizer, a userType or an e-mail's type — and the JSON decoder allocates each anew for every
// object. The cache's transform (TransformCached) replaces them with one shared copy each, so
// the informer cache holds each such string once, not once per user. Strings are immutable, so a
// deep copy of a cached object shares them too, and nothing can tell.
//
// Label maps are shared the same way: users of one provider all carry the same marking label, and
// a map of one entry costs about 330 bytes of heap. So are lists of conditions (conditionSets):
// users whose statuses were first written in the same second hold equal ones, 288 bytes each. A cached object's labels are then one map
// that many objects hold, so they must not be changed in place: the identity rules that change
// labels (v1.MarkManagedBy, the unmarking) replace the map instead, and every write starts from a
// deep copy of the cached object, which copies its maps.

import (
	"encoding/binary"
	"hash/maphash"
	"maps"
	"slices"
	"strconv"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
	"github.com/scim-operator/scim-operator/internal/compact"
)

// The bounds of the intern table: strings longer than internMaxLen are left as they are (they are
// rarely alike), and once it holds internMaxEntries strings new ones are not added (a tenant's
// distinct condition messages, role names and attribute types are far fewer; what fills it is
// left as decoded, at no cost but the sharing).
const (
	internMaxLen     = 256
	internMaxEntries = 1 << 16
)

// interned is the process's intern table (the cache's informers transform concurrently).
var interned = internTable{table[string]{m: map[string]string{}, maxEntries: internMaxEntries}}

// table is a bounded map, safe for concurrent use, of the one value kept for each key.
type table[V any] struct {
	mu         sync.RWMutex
	m          map[string]V
	maxEntries int
}

// share returns the value the table holds for key, or else v, added when the table has room
// (miss, when not nil, runs on v first: v is not shared before it returns).
func (t *table[V]) share(key string, v V, miss func(V)) V {
	t.mu.RLock()
	held, ok := t.m[key]
	t.mu.RUnlock()
	if ok {
		return held
	}
	if miss != nil {
		miss(v)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if held, ok := t.m[key]; ok {
		return held
	}
	if len(t.m) < t.maxEntries {
		t.m[key] = v
	}
	return v
}

type internTable struct{ table[string] }

// intern returns the table's copy of s, adding s when the table has none and room for it.
func (t *internTable) intern(s string) string {
	if s == "" || len(s) > internMaxLen {
		return s
	}
	return t.share(s, s, nil)
}

// The bounds of the table of label sets: a map of more than labelSetMaxLabels labels, or whose
// labels are longer together than internMaxLen, is left as it is, and once the table holds
// labelSetMaxEntries sets new ones are not added.
const (
	labelSetMaxLabels  = 8
	labelSetMaxEntries = 1 << 12
)

// labelSets is the process's table of shared label maps.
var labelSets = labelSetTable{table[map[string]string]{m: map[string]map[string]string{}, maxEntries: labelSetMaxEntries}}

type labelSetTable struct{ table[map[string]string] }

// share returns the table's map of the labels that labels holds, or, when the table has none,
// labels with its values interned, added to the table if it has room. A map the table holds is
// never written: labels is changed only when it is not one (an object the informer decoded; each
// is transformed once, client-go's DeltaFIFO and RealFIFO say, and a shared map found again is
// only looked up).
func (t *labelSetTable) share(labels map[string]string) map[string]string {
	key, ok := "", len(labels) > 0 && len(labels) <= labelSetMaxLabels
	if ok {
		key, ok = labelSetKey(labels)
	}
	if !ok {
		internValues(labels)
		return labels
	}
	return t.table.share(key, labels, internValues)
}

// internValues interns each value of labels in place.
func internValues(labels map[string]string) {
	for k, v := range labels {
		labels[k] = interned.intern(v)
	}
}

// labelSetKey encodes labels as one string, equal for equal maps only (each key and value
// prefixed by its length), and reports whether they are short enough to be shared.
func labelSetKey(labels map[string]string) (string, bool) {
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, s := range []string{k, labels[k]} {
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, ':')
			b = append(b, s...)
		}
		if len(b) > internMaxLen {
			return "", false
		}
	}
	return string(b), true
}

// internStrings interns each of ps in place.
func internStrings(ps ...*string) {
	for _, p := range ps {
		*p = interned.intern(*p)
	}
}

// internObject interns the strings of a cached ScimUser or ScimRole that objects share, and trims
// its lists to their length (compact.Clip).
func internObject(obj any) {
	switch o := obj.(type) {
	case *v1.ScimUser:
		internMeta(&o.TypeMeta, &o.ObjectMeta)
		o.Status.Conditions = conditionSets.share(o.Status.Conditions)
		s := &o.Spec
		internStrings(&s.UserType, &s.Title, &s.PreferredLanguage, &s.Locale, &s.Timezone)
		for _, values := range []*[]v1.MultiValuedAttribute{&s.Emails, &s.PhoneNumbers, &s.IMs, &s.Photos, &s.Entitlements, &s.Roles, &s.X509Certificates} {
			*values = compact.Clip(*values)
			for i := range *values {
				internStrings(&(*values)[i].Type)
			}
		}
		s.Addresses = compact.Clip(s.Addresses)
		for i := range s.Addresses {
			internStrings(&s.Addresses[i].Type, &s.Addresses[i].Locality, &s.Addresses[i].Region, &s.Addresses[i].Country)
		}
		if e := s.Enterprise; e != nil {
			internStrings(&e.CostCenter, &e.Organization, &e.Division, &e.Department)
		}
	case *v1.ScimRole:
		internMeta(&o.TypeMeta, &o.ObjectMeta)
		o.Status.Conditions = conditionSets.share(o.Status.Conditions)
		o.Spec.Members = compact.Clip(o.Spec.Members)
	}
}

// internMeta interns an object's kind and API version and its finalizers, and shares its label map
// with the objects that hold the same labels (their values interned).
func internMeta(t *metav1.TypeMeta, m *metav1.ObjectMeta) {
	internStrings(&t.APIVersion, &t.Kind)
	m.Labels = labelSets.share(m.Labels)
	for i := range m.Finalizers {
		internStrings(&m.Finalizers[i])
	}
}

// internConditions clips conditions (compact.Clip) and interns the type, status, reason and
// message of each.
func internConditions(conditions []metav1.Condition) []metav1.Condition {
	conditions = compact.Clip(conditions)
	for i := range conditions {
		c := &conditions[i]
		c.Status = metav1.ConditionStatus(interned.intern(string(c.Status)))
		internStrings(&c.Type, &c.Reason, &c.Message)
	}
	return conditions
}

// The bound of the table of condition lists: once it holds conditionSetMaxEntries lists it starts
// again empty, so that it holds the lists of the statuses written lately (theirs are the times of
// the latest transitions) and no more than that many of those no object holds any longer.
const conditionSetMaxEntries = 1 << 14

// conditionSets is the process's table of shared condition lists.
var conditionSets = conditionSetTable{m: map[uint64][]metav1.Condition{}, maxEntries: conditionSetMaxEntries}

// conditionSetTable holds one list of conditions for each distinct list, by a digest of it.
type conditionSetTable struct {
	mu         sync.Mutex
	m          map[uint64][]metav1.Condition
	maxEntries int
}

// share returns the table's list equal to conditions, or else conditions, clipped (compact.Clip)
// and its strings interned, and added. Equal means every field alike, the transition times the same
// instant in the same location. A list the table holds is never written: cached objects are not,
// and every write starts from a deep copy, which copies its conditions.
func (t *conditionSetTable) share(conditions []metav1.Condition) []metav1.Condition {
	if len(conditions) == 0 {
		return conditions
	}
	key := conditionsDigest(conditions)
	t.mu.Lock()
	defer t.mu.Unlock()
	if held, ok := t.m[key]; ok && slices.Equal(held, conditions) {
		return held
	} else if ok {
		return internConditions(conditions) // another list of the same digest: not shared
	}
	conditions = internConditions(conditions)
	if len(t.m) >= t.maxEntries {
		clear(t.m)
	}
	t.m[key] = conditions
	return conditions
}

// conditionsDigest is a 64-bit digest of every field of conditions, each string prefixed by its
// length so that no two lists share an encoding; share compares the lists too.
func conditionsDigest(conditions []metav1.Condition) uint64 {
	var h maphash.Hash
	h.SetSeed(digestSeeds[0])
	var n [binary.MaxVarintLen64]byte
	str := func(s string) {
		h.Write(binary.AppendUvarint(n[:0], uint64(len(s))))
		h.WriteString(s)
	}
	for _, c := range conditions {
		str(c.Type)
		str(string(c.Status))
		str(c.Reason)
		str(c.Message)
		h.Write(binary.AppendVarint(n[:0], c.ObservedGeneration))
		h.Write(binary.AppendVarint(n[:0], c.LastTransitionTime.UnixNano()))
		str(c.LastTransitionTime.Location().String())
	}
	return h.Sum64()
}
