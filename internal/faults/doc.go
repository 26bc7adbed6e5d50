// Package faults holds the fault tests: the manager binary runs as its own process, as the
// operator's ServiceAccount under its generated RBAC, against the local control plane, while the
// tests crash, restart and hang its processes (kube-apiserver, etcd, the manager itself) in the
// middle of SCIM traffic, and check that every acknowledged write is there exactly once, that
// nothing else is, and that RBAC converges to it.
//
// They need the control plane's binaries (KUBEBUILDER_ASSETS, default bin/) and build the manager
// themselves; `make test` runs them and `make test-unit` (-short) skips them.
package faults
