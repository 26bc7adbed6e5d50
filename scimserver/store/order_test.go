package store

import (
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/scim-operator/scim-operator/api/v1alpha1"
)

func orderUser(name string) *v1.ScimUser {
	return &v1.ScimUser{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// A page is the names in order from its offset, and follows every change of the names: a create,
// a delete, a user starting to terminate; an update of a user held changes nothing. A caller that
// appends to a page cannot change the next one.
func TestOrderPagesFollowChanges(t *testing.T) {
	o := newOrder()
	for _, n := range []string{"c", "a", "e", "b"} {
		o.observe(orderUser(n), false)
	}
	check := func(offset, count int, want []string, wantTotal int) {
		t.Helper()
		got, total := o.page(offset, count)
		if !slices.Equal(got, want) || total != wantTotal {
			t.Fatalf("page(%d, %d) = %q of %d, want %q of %d", offset, count, got, total, want, wantTotal)
		}
	}
	check(0, 2, []string{"a", "b"}, 4)
	check(2, 10, []string{"c", "e"}, 4)
	check(4, 10, []string{}, 4)
	check(-1, 1, []string{"a"}, 4)
	check(1, -1, []string{}, 4)

	o.observe(orderUser("d"), false) // created after the pages above were read
	check(2, 2, []string{"c", "d"}, 5)
	o.observe(orderUser("a"), true) // deleted
	check(0, 2, []string{"b", "c"}, 4)
	gone := orderUser("c")
	gone.DeletionTimestamp = &metav1.Time{}
	o.observe(gone, false) // terminating: gone to SCIM
	check(0, 10, []string{"b", "d", "e"}, 3)
	o.observe(orderUser("b"), false) // an update of a user held
	check(0, 10, []string{"b", "d", "e"}, 3)

	page, _ := o.page(0, 1)
	_ = append(page, "zzz") // the page's capacity ends with it
	check(0, 10, []string{"b", "d", "e"}, 3)
}

// BenchmarkOrderPage reads the last page of 100 of 50,000 names, as an import's last request.
func BenchmarkOrderPage(b *testing.B) {
	o := newOrder()
	const n = 50000
	for i := range n {
		o.observe(orderUser(fmt.Sprintf("a-%016x", i)), false)
	}
	b.ReportAllocs()
	for b.Loop() {
		if page, total := o.page(n-100, 100); len(page) != 100 || total != n {
			b.Fatalf("%d of %d", len(page), total)
		}
	}
}
