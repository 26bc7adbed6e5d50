package main

import (
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// runResult is everything one size of the bench measured, in one run of one environment.
type runResult struct {
	o       options
	tenant  *tenant
	batches int
	sync    *syncResult
	// mem is the manager's memory once the sync has converged.
	mem memory
	// floor is the manager's cache alone, in a process of its own, measured after mem.
	floor              floorMemory
	reads, memoryReads *readResults
	revocation         *revocationResult
	// scimCreates and ceiling are the creates compared, taking turns.
	scimCreates, ceiling *result
	// statusCeiling is ScimUser status writes through client-go: what the API server sustains for
	// the writes left when a sync ends.
	statusCeiling *result
	wall          time.Duration
}

// statusWritesAfter is the ScimUser status writes the API server answered from the last SCIM
// response of the sync until it converged.
func (r *runResult) statusWritesAfter() float64 { return r.sync.convergence.api[statusWrites] }

// statusRate is the ScimUser status writes per second the API server answered during the
// ceiling: the bench's, and any the manager made for those users meanwhile.
func (r *runResult) statusRate() float64 {
	if r.statusCeiling.elapsed <= 0 {
		return 0
	}
	n := r.statusCeiling.api[statusWrites]
	if n == 0 { // not counted
		n = float64(r.statusCeiling.ops())
	}
	return n / r.statusCeiling.elapsed.Seconds()
}

// statusFloor is how long the status writes left after the sync take at the ceiling's rate.
func (r *runResult) statusFloor() time.Duration {
	if r.statusRate() == 0 {
		return 0
	}
	return time.Duration(r.statusWritesAfter() / r.statusRate() * float64(time.Second))
}

// createRatio is SCIM creates per second over the ceiling's, measured in turns.
func (r *runResult) createRatio() float64 {
	return r.scimCreates.opsPerSecond() / r.ceiling.opsPerSecond()
}

const mib = 1 << 20

// render writes the run's tables as Markdown.
func (r *runResult) render(b *strings.Builder) {
	o, t := r.o, r.tenant
	fmt.Fprintf(b, "### %d users, %d groups, %d clients (provider %s)\n\n", o.users, o.groups, o.clients, o.provider)
	fmt.Fprintf(b, "Tenant: %d memberships (%.1f per user), largest group %d members, %d member PATCHes of up to %d; "+
		"each read measured for %s on each server, the two taking turns in %d rounds; the run took %s.\n\n",
		t.memberships(), float64(t.memberships())/float64(len(t.users)), t.largestGroup(), r.batches, o.batch,
		o.readDuration, o.rounds, r.wall.Round(time.Second))
	tableHead(b, "step", "resources")
	for _, res := range []*result{r.sync.createUsers, r.sync.createGroups, r.sync.declareAccess, r.sync.addMembers} {
		row(b, res)
	}
	fmt.Fprintf(b, "| **initial sync** (SCIM requests, first to last) | | | | %s | | | | | |\n", r.sync.total.Round(time.Millisecond))
	cv := r.sync.convergence
	fmt.Fprintf(b, "| **converged**: every binding correct, every ScimUser Ready, after the last SCIM response | | | | %s | | | %.0f · %.0f · %.0f · %.0f s in all | %.0f%% · %.0f%% | %s in all |\n\n",
		r.sync.converged.Round(time.Millisecond), cv.cpu["manager"].Seconds(), cv.cpu["kube-apiserver"].Seconds(), cv.cpu["etcd"].Seconds(), cv.cpu["bench"].Seconds(),
		percent(cv.cpu.ours(), cv.cpu[machineTotal]), percent(cv.cpu[machineBusy]-cv.cpu.ours(), cv.cpu[machineTotal]), cv.apiPerOp())

	fmt.Fprintf(b, "Creates compared with their ceiling, after the sync, taking turns in %d rounds (%d more users each way):\n\n", o.rounds, o.compareUsers)
	tableHead(b, "create", "users")
	row(b, r.scimCreates)
	row(b, r.ceiling)
	fmt.Fprintf(b, "| **SCIM / client-go** | | %.2f× | | | | | | | |\n\n", r.createRatio())

	fmt.Fprintf(b, "Status writes: what the API server sustains for the writes left when the sync ends (one status write for each of the %d users created through client-go, setting a Ready=False condition as the manager's write when a user's readiness changes; the manager runs beside it):\n\n", o.compareUsers)
	tableHead(b, "status write", "users")
	row(b, r.statusCeiling)
	fmt.Fprintf(b, "\nThe API server answered %.0f ScimUser status writes per second during it (the manager's for those users included). "+
		"At that rate the %.0f status writes it answered between the sync's last SCIM response and convergence take %s; the convergence took %s.\n\n",
		r.statusRate(), r.statusWritesAfter(), r.statusFloor().Round(100*time.Millisecond), r.sync.converged.Round(100*time.Millisecond))

	tableHead(b, fmt.Sprintf("read (%d clients)", o.clients), "users")
	for _, rr := range []*readResults{r.reads, r.memoryReads} {
		row(b, rr.getByID)
		row(b, rr.filterEq)
		row(b, rr.listPages)
	}
	b.WriteString("\n")

	fmt.Fprintf(b, "Manager memory after the sync (%d ScimUsers, %d ScimRoles): RSS %.0f MiB (peak %.0f MiB), Go heap in use %.0f MiB (allocated %.0f MiB).\n\n",
		o.users, o.groups, float64(r.mem.rss)/mib, float64(r.mem.peakRSS)/mib, float64(r.mem.heapInuse)/mib, float64(r.mem.heapAlloc)/mib)
	fmt.Fprintf(b, "The manager's cache alone (its cache options, %d objects listed in %s, in a process of its own that keeps nothing else, measured after a collection as the manager is): RSS %.0f MiB (peak %.0f MiB), Go heap in use %.0f MiB (allocated %.0f MiB); the rest of the manager: %.0f MiB of RSS, %.0f MiB allocated.\n\n",
		r.floor.Objects, r.floor.Synced.Round(100*time.Millisecond), float64(r.floor.RSS)/mib, float64(r.floor.PeakRSS)/mib, float64(r.floor.HeapInuse)/mib, float64(r.floor.HeapAlloc)/mib,
		float64(r.mem.rss-r.floor.RSS)/mib, float64(r.mem.heapAlloc-r.floor.HeapAlloc)/mib)

	if rv := r.revocation; rv != nil {
		b.WriteString("| revocation: SCIM suspension answered → last binding without the user (watched) | samples | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n")
		for _, res := range []*result{rv.oneUser, rv.burst} {
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s |\n", res.name, res.ops(), ms(res.percentile(0.5)), ms(res.percentile(0.99)), ms(res.percentile(1)))
		}
		b.WriteString("\n")
	}
}

func row(b *strings.Builder, r *result) {
	perOp := func(name string) string {
		return fmt.Sprintf("%.2f", float64(r.cpu[name].Microseconds())/1000/float64(max(1, r.ops())))
	}
	total := r.cpu[machineTotal]
	fmt.Fprintf(b, "| %s | %d | %.0f | %.0f | %s | %s | %d | %s · %s · %s · %s | %.0f%% · %.0f%% | %s |\n", r.name, r.ops(), r.opsPerSecond(), r.itemsPerSecond(),
		ms(r.percentile(0.5)), ms(r.percentile(0.99)), r.retries,
		perOp("manager"), perOp("kube-apiserver"), perOp("etcd"), perOp("bench"),
		percent(r.cpu.ours(), total), percent(r.cpu[machineBusy]-r.cpu.ours(), total), r.apiPerOp())
}

// apiPerOp lists the API requests per operation, the most frequent first, down to 0.05 of one.
func (r *result) apiPerOp() string {
	type count struct {
		what string
		n    float64
	}
	var counts []count
	for what, n := range r.api {
		if per := n / float64(max(1, r.ops())); per >= 0.05 {
			counts = append(counts, count{what, per})
		}
	}
	slices.SortFunc(counts, func(a, b count) int { return cmp.Or(cmp.Compare(b.n, a.n), strings.Compare(a.what, b.what)) })
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%.2f %s", c.n, strings.ToLower(c.what))
	}
	return strings.Join(parts, ", ")
}

// tableHead is the header of the tables of rows, whose first column is what.
func tableHead(b *strings.Builder, what, items string) {
	fmt.Fprintf(b, "| %s | operations | ops/s | %s/s | p50 | p99 | retries (429/503) | CPU ms per operation: manager · API server · etcd · bench | CPU busy: these · other processes | API requests per operation |\n", what, items)
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
}

// percent is part of whole in percent, at least 0: the machine's and the processes' counts are
// read a moment apart.
func percent(part, whole time.Duration) float64 {
	if whole <= 0 {
		return 0
	}
	return max(0, 100*float64(part)/float64(whole))
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%d µs", d.Microseconds())
}

// target is one of the targets and what the run measured for it.
type target struct {
	name, measured string
	// met is "met", "missed" or "n/a" (not measurable at the sizes run).
	met string
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// targets evaluates the targets over the runs, smallest size first.
func targets(runs []*runResult) []target {
	var out []target
	for _, r := range runs {
		ratio := r.createRatio()
		out = append(out, target{fmt.Sprintf("SCIM creates ≥ 0.8× client-go (%d users)", r.o.users),
			fmt.Sprintf("%.0f / %.0f = %.2f×", r.scimCreates.opsPerSecond(), r.ceiling.opsPerSecond(), ratio), verdict(ratio >= 0.8)})
		get, mem := r.reads.getByID.opsPerSecond(), r.memoryReads.getByID.opsPerSecond()
		out = append(out, target{fmt.Sprintf("GET by id ≥ 1.0× in-memory (%d users)", r.o.users),
			fmt.Sprintf("%.0f / %.0f = %.3f×", get, mem, get/mem), verdict(get >= mem)})
		out = append(out, target{fmt.Sprintf("every ScimUser Ready ≤ 30 s after the last SCIM response (%d users)", r.o.users),
			fmt.Sprintf("%s; %.0f status writes after it, %s at the API server's %.0f status writes/s in this run", r.sync.converged.Round(100*time.Millisecond),
				r.statusWritesAfter(), r.statusFloor().Round(100*time.Millisecond), r.statusRate()), verdict(r.sync.converged <= 30*time.Second)})
		list := r.reads.listPages.itemsPerSecond()
		out = append(out, target{fmt.Sprintf("users/s through list pages ≥ through GET by id (%d users)", r.o.users),
			fmt.Sprintf("%.0f vs %.0f users/s", list, get), verdict(list >= get)})
	}
	first, last := runs[0], runs[len(runs)-1]
	if len(runs) > 1 && first.o.users <= 1000 && last.o.users >= 50000 {
		for _, read := range []struct {
			name string
			of   func(*readResults) *result
		}{{"GET by id", func(r *readResults) *result { return r.getByID }}, {"`userName eq` filter", func(r *readResults) *result { return r.filterEq }}} {
			a, z := read.of(first.reads).opsPerSecond(), read.of(last.reads).opsPerSecond()
			out = append(out, target{fmt.Sprintf("%s flat in N: %d users within 20%% of %d", read.name, last.o.users, first.o.users),
				fmt.Sprintf("%.0f vs %.0f ops/s (%+.0f%%)", z, a, 100*(z-a)/a), verdict(z >= 0.8*a)})
		}
	} else {
		out = append(out, target{"GET by id and `eq` flat in N (50k within 20% of 1k)", "needs -series", "n/a"})
	}
	memoryMeasured := false
	for _, r := range runs {
		if r.o.users >= 50000 && r.o.groups >= 5000 {
			out = append(out, target{fmt.Sprintf("manager RSS < 300 MiB (%d users, %d roles)", r.o.users, r.o.groups),
				fmt.Sprintf("RSS %.0f MiB, heap in use %.0f MiB; the cache alone: RSS %.0f MiB", float64(r.mem.rss)/mib, float64(r.mem.heapInuse)/mib, float64(r.floor.RSS)/mib), verdict(r.mem.rss < 300*mib)})
			memoryMeasured = true
		}
	}
	if !memoryMeasured {
		out = append(out, target{"manager RSS < 300 MiB at 50,000 users and 5,000 roles", "needs -series", "n/a"})
	}
	return out
}

// renderSeries is one line per size.
func renderSeries(b *strings.Builder, runs []*runResult) {
	b.WriteString("| users | groups | SCIM creates/s | client-go creates/s | ratio | member PATCH p99 | converged (status writes after the sync at the ceiling's rate) | GET by id ops/s (in-memory) | eq ops/s (in-memory) | list users/s (in-memory) | list page p99 | RSS (the cache alone) | heap in use (the cache alone) |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range runs {
		fmt.Fprintf(b, "| %d | %d | %.0f | %.0f | %.2f× | %s | %s (%s) | %.0f (%.0f) | %.0f (%.0f) | %.0f (%.0f) | %s | %.0f MiB (%.0f) | %.0f MiB (%.0f) |\n",
			r.o.users, r.o.groups, r.scimCreates.opsPerSecond(), r.ceiling.opsPerSecond(), r.createRatio(),
			ms(r.sync.addMembers.percentile(0.99)), r.sync.converged.Round(100*time.Millisecond), r.statusFloor().Round(100*time.Millisecond),
			r.reads.getByID.opsPerSecond(), r.memoryReads.getByID.opsPerSecond(),
			r.reads.filterEq.opsPerSecond(), r.memoryReads.filterEq.opsPerSecond(),
			r.reads.listPages.itemsPerSecond(), r.memoryReads.listPages.itemsPerSecond(),
			ms(r.reads.listPages.percentile(0.99)), float64(r.mem.rss)/mib, float64(r.floor.RSS)/mib, float64(r.mem.heapInuse)/mib, float64(r.floor.HeapInuse)/mib)
	}
	b.WriteString("\n")
}

func renderTargets(b *strings.Builder, ts []target) {
	b.WriteString("| target | measured | |\n|---|---|---|\n")
	for _, t := range ts {
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.name, t.measured, t.met)
	}
	b.WriteString("\n")
}

// loadAfter stands in machine's description for the load average at the end of the bench.
const loadAfter = "{load after}"

// machine describes where the bench ran.
func machine(loadBefore string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPU: %d × %s\n", runtime.NumCPU(), cpuModel())
	if out, err := exec.Command("free", "-h").Output(); err == nil {
		fmt.Fprintf(&b, "- memory (`free -h`):\n\n  ```\n%s  ```\n", indent(string(out), "  "))
	}
	goVersion := runtime.Version()
	if out, err := exec.Command("go", "version").Output(); err == nil {
		goVersion = strings.TrimSpace(string(out))
	}
	fmt.Fprintf(&b, "- %s\n", goVersion)
	fmt.Fprintf(&b, "- load average (1, 5, 15 min) before: %s; after: %s — the machine is shared with other engineers' builds and tests\n",
		loadBefore, loadAfter)
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		fmt.Fprintf(&b, "- commit %s\n", strings.TrimSpace(string(out)))
	}
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for line := range strings.Lines(string(data)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(data))
	return strings.Join(f[:3], ", ")
}

func indent(s, prefix string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		b.WriteString(prefix + line)
	}
	return b.String()
}

// The markers of a generated part of docs/performance.md, one part for the defaults and one for
// -series; what stands outside them is kept.
func markers(part string) (begin, end string) {
	return "<!-- make bench: " + part + ", generated from here -->", "<!-- make bench: " + part + ", generated up to here -->"
}

// writeDoc puts generated between the markers of part in path; a file without them gets them at
// its end (a new file: under a title).
func writeDoc(path, part, generated string) error {
	doc := "# Performance\n"
	if data, err := os.ReadFile(path); err == nil {
		doc = string(data)
	}
	begin, end := markers(part)
	before, rest, ok := strings.Cut(doc, begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		before, after = strings.TrimRight(doc, "\n")+"\n\n", "\n"
	}
	return os.WriteFile(path, []byte(before+begin+"\n"+generated+end+after), 0o644)
}
