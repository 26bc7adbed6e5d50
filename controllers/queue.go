package controllers

import (
	"time"

	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/scim-operator/scim-operator/controllers/access"
)

// enqueue adds req to q after the delay after, with priority when q is controller-runtime's
// priority queue (the default).
func enqueue(q access.Queue, req reconcile.Request, priority int, after time.Duration) {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		pq.AddWithOpts(priorityqueue.AddOpts{After: after, Priority: &priority}, req)
		return
	}
	q.AddAfter(req, after)
}
