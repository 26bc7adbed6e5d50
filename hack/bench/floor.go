package main

// The memory floor: what the manager's cache alone costs. After the sync the bench starts a
// process of its own (this binary, with -cache-floor) that fills a controller-runtime cache as the
// manager's (internal/manager.CacheOptions: the same objects under the same transforms) and
// nothing else — no SCIM store indexes, render cache, queues or controllers — and measures it as
// the manager is measured: RSS after a collection, heap in use and allocated. Its numbers say how
// much of the manager's memory is the cache every controller-runtime operator of these objects
// keeps, and how much is the manager's own, in the same run.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/scim-operator/scim-operator/internal/controlplane"
	"github.com/scim-operator/scim-operator/internal/manager"
)

// floorMemory is what the child reports (JSON on its standard output).
type floorMemory struct {
	RSS, PeakRSS, HeapInuse, HeapAlloc int64
	// Objects is how many objects the cache holds.
	Objects int
	// Synced is how long the cache took to list and fill.
	Synced time.Duration
}

// cacheFloor runs the child against the cluster of kubeconfig and prints its floorMemory.
func cacheFloor(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	opts := manager.CacheOptions(types.NamespacedName{Namespace: controlplane.OperatorNamespace, Name: controlplane.TokenSecret})
	opts.Scheme = manager.Scheme
	c, err := cache.New(cfg, opts)
	if err != nil {
		return err
	}
	// The kinds the manager caches are those its options name, each under its selection and
	// transform; their informers list and fill at once, as the manager's do.
	start := time.Now()
	for obj := range opts.ByObject {
		if _, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false)); err != nil {
			return fmt.Errorf("informer of %T: %w", obj, err)
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("the cache did not sync")
	}
	m := floorMemory{Synced: time.Since(start)}
	for obj := range opts.ByObject {
		gvk, err := apiutil.GVKForObject(obj, manager.Scheme)
		if err != nil {
			return err
		}
		list, err := manager.Scheme.New(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err != nil {
			return err
		}
		if err := c.List(ctx, list.(client.ObjectList), client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list %s: %w", gvk.Kind, err)
		}
		m.Objects += apimeta.LenList(list)
	}
	// As the manager is measured (memoryOf with -pprof): after one collection.
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapInuse, m.HeapAlloc = int64(ms.HeapInuse), int64(ms.HeapAlloc)
	if m.RSS, m.PeakRSS, err = rssOf("/proc/self/status"); err != nil {
		return err
	}
	runtime.KeepAlive(c)
	return json.NewEncoder(os.Stdout).Encode(m)
}

// rssOf reads VmRSS and VmHWM from a /proc/<pid>/status file.
func rssOf(path string) (rss, peak int64, err error) {
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	for line := range strings.Lines(string(status)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, fmt.Errorf("no VmRSS in %s", path)
	}
	return rss, peak, nil
}

// measureFloor runs the child (this binary with -cache-floor) as the operator's ServiceAccount of
// e and returns what it measured.
func (e *env) measureFloor(ctx context.Context) (floorMemory, error) {
	var m floorMemory
	self, err := os.Executable()
	if err != nil {
		return m, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, self, "-cache-floor", e.operatorKubeconfig)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return m, fmt.Errorf("the cache floor: %w", err)
	}
	return m, json.Unmarshal(out, &m)
}
