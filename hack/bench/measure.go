package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is what one operation of a load reports: the resources it moved (a list page moves up to
// a hundred users, anything else one), the retries it took after 429 or 503, and its error.
type outcome struct {
	items, retries int
	err            error
}

// result is one operation type measured under load: its latencies, throughput and failures.
type result struct {
	name    string
	elapsed time.Duration
	// latencies are sorted once the load is over.
	latencies []time.Duration
	items     int
	retries   int
	errors    int
	firstErr  error
	// cpu is the CPU time each process used during the load.
	cpu cpuTimes
	// api counts the requests the API server answered during the load, by verb and resource.
	api map[string]float64
}

// ops is the number of operations completed, failed ones included.
func (r *result) ops() int { return len(r.latencies) }

// opsPerSecond is the throughput in operations per second.
func (r *result) opsPerSecond() float64 { return float64(r.ops()) / r.elapsed.Seconds() }

// itemsPerSecond is the throughput in resources per second.
func (r *result) itemsPerSecond() float64 { return float64(r.items) / r.elapsed.Seconds() }

// percentile returns the latency at p (0 to 1), the nearest rank.
func (r *result) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := int(p*float64(len(r.latencies))+0.5) - 1
	return r.latencies[min(max(i, 0), len(r.latencies)-1)]
}

// recorder collects the outcomes of a load's clients.
type recorder struct {
	mu  sync.Mutex
	r   *result
	cpu cpuTimes
	api map[string]float64
}

func newRecorder(name string) *recorder {
	return &recorder{r: &result{name: name}, cpu: cpuSnapshot(), api: apiRequestCounts()}
}

func (rec *recorder) add(latency time.Duration, o outcome) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.r.latencies = append(rec.r.latencies, latency)
	rec.r.items += o.items
	rec.r.retries += o.retries
	if o.err != nil {
		rec.r.errors++
		if rec.r.firstErr == nil {
			rec.r.firstErr = o.err
		}
	}
}

func (rec *recorder) finish(start time.Time) *result {
	rec.r.elapsed = time.Since(start)
	rec.r.cpu = cpuSnapshot().since(rec.cpu)
	if after := apiRequestCounts(); after != nil && rec.api != nil {
		rec.r.api = map[string]float64{}
		for k, v := range after {
			if d := v - rec.api[k]; d > 0 {
				rec.r.api[k] = d
			}
		}
	}
	slices.Sort(rec.r.latencies)
	return rec.r
}

// measureN runs operations 0 … n-1 on clients goroutines, each taking the next index, and measures
// them. It stops early when ctx ends.
func measureN(ctx context.Context, name string, clients, n int, op func(ctx context.Context, i int) outcome) *result {
	rec := newRecorder(name)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				o := op(ctx, i)
				rec.add(time.Since(t0), o)
			}
		})
	}
	wg.Wait()
	return rec.finish(start)
}

// measureFor runs operations on clients goroutines for d, client c calling op(ctx, c, k) for its
// k-th operation, and measures them.
func measureFor(ctx context.Context, name string, clients int, d time.Duration, op func(ctx context.Context, client, k int) outcome) *result {
	rec := newRecorder(name)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for k := 0; ctx.Err() == nil; k++ {
				t0 := time.Now()
				o := op(ctx, c, k)
				if ctx.Err() != nil && o.err != nil {
					return // cut off by the deadline: not a failure of the server
				}
				rec.add(time.Since(t0), o)
			}
		})
	}
	wg.Wait()
	return rec.finish(start)
}

// merge adds the operations of o, the same operation measured in another round, to r.
func (r *result) merge(o *result) *result {
	if r == nil {
		return o
	}
	r.elapsed += o.elapsed
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	r.items += o.items
	r.retries += o.retries
	r.errors += o.errors
	if r.firstErr == nil {
		r.firstErr = o.firstErr
	}
	for k, v := range o.cpu {
		r.cpu[k] += v
	}
	if r.api != nil {
		for k, v := range o.api {
			r.api[k] += v
		}
	}
	return r
}

// alternate measures contestants that are compared with one another in rounds, taking turns (in
// turned order every other round), and returns each one's rounds merged: whatever else loads
// the machine meanwhile falls on every contestant alike. A contestant measures its round'th round.
func alternate(rounds int, contestants ...func(round int) *result) []*result {
	merged := make([]*result, len(contestants))
	for round := range rounds {
		for k := range contestants {
			if round%2 == 1 {
				k = len(contestants) - 1 - k
			}
			merged[k] = merged[k].merge(contestants[k](round))
		}
	}
	return merged
}

// check fails when a load had failures: a benchmark of failing requests measures nothing.
func (r *result) check() error {
	if r.errors > 0 {
		return fmt.Errorf("%s: %d of %d operations failed, the first: %w", r.name, r.errors, r.ops(), r.firstErr)
	}
	return nil
}
