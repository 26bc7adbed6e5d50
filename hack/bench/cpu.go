package main

import (
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The CPU time of the processes a measurement runs on this machine — the bench, the manager, the
// API server and etcd — tells where an operation's cost goes, and what the machine sustains.

// cpuProcesses are the processes whose CPU time is accounted: the manager (by its process id,
// managerPid, whatever its binary is called), and the others by command name.
var cpuProcesses = []string{"manager", "kube-apiserver", "etcd"}

// managerPid is the process id of the running manager.
var managerPid atomic.Int64

// clockTicks is the unit of /proc/<pid>/stat's times (USER_HZ, 100 on Linux).
const clockTicks = 100

// cpuTimes is the CPU time (user and system) used so far, by process name; "bench" is this process.
type cpuTimes map[string]time.Duration

// cpuSnapshot reads the CPU time of this process and of its descendants named in cpuProcesses.
func cpuSnapshot() cpuTimes {
	self := os.Getpid()
	type proc struct {
		ppid int
		comm string
		cpu  time.Duration
	}
	procs := map[int]proc{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime stime: comm may hold spaces, so split after its ')'.
		s := string(data)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		f := strings.Fields(s[close+1:])
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = proc{ppid: ppid, comm: s[open+1 : close], cpu: time.Duration(utime+stime) * time.Second / clockTicks}
	}
	descends := func(pid int) bool {
		for i := 0; i < 64 && pid > 1; i++ {
			if pid = procs[pid].ppid; pid == self {
				return true
			}
		}
		return false
	}
	out := cpuTimes{"bench": procs[self].cpu}
	out[machineBusy], out[machineTotal] = machineTimes()
	for pid, p := range procs {
		if int64(pid) == managerPid.Load() {
			out["manager"] += p.cpu
			continue
		}
		for _, name := range cpuProcesses[1:] {
			if p.comm == name && descends(pid) {
				out[name] += p.cpu
			}
		}
	}
	return out
}

// The keys of the whole machine's CPU time: busy (everyone's, other engineers' included) and all.
const (
	machineBusy  = "machine busy"
	machineTotal = "machine total"
)

// machineTimes reads the busy and total CPU time of every CPU from /proc/stat.
func machineTimes() (busy, total time.Duration) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	for i, v := range f[1:min(len(f), 9)] {
		ticks, _ := strconv.ParseInt(v, 10, 64)
		d := time.Duration(ticks) * time.Second / clockTicks
		total += d
		if i != 3 && i != 4 { // idle, iowait
			busy += d
		}
	}
	return busy, total
}

// ours is the CPU time of the bench's processes.
func (t cpuTimes) ours() time.Duration {
	d := t["bench"]
	for _, name := range cpuProcesses {
		d += t[name]
	}
	return d
}

// apiRequests reads the API server's count of requests by verb and resource (nil: not counted).
var apiRequests atomic.Pointer[func() map[string]float64]

// apiRequestCounts returns the API server's count of requests, "VERB resource[/subresource]" →
// number, or nil.
func apiRequestCounts() map[string]float64 {
	if f := apiRequests.Load(); f != nil {
		return (*f)()
	}
	return nil
}

// since returns the CPU time used from before to t.
func (t cpuTimes) since(before cpuTimes) cpuTimes {
	out := cpuTimes{}
	for k, v := range t {
		out[k] = v - before[k]
	}
	return out
}
