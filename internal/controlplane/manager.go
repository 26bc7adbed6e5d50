package controlplane

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ManagerOptions are what `make dev` and `make bench` run the manager binary with.
type ManagerOptions struct {
	// Binary is the manager binary; Kubeconfig authenticates as the operator (InstallOperator).
	Binary, Kubeconfig string
	// SCIMAddr is where SCIM is served, over plain HTTP on loopback; MetricsAddr where the
	// metrics are, over HTTPS for a MetricsReader token.
	SCIMAddr, MetricsAddr string
	// ProbeAddr is where /healthz and /readyz are served (default: a free loopback port).
	ProbeAddr string
	// Providers are the SCIM providers served; UserPrefix is --rbac-user-prefix.
	Providers  []string
	UserPrefix string
	// Args are further flags; Env further environment variables ("NAME=value"), after this
	// process's own.
	Args, Env []string
	// Stdout and Stderr receive the manager's output (nil: discarded).
	Stdout, Stderr io.Writer
}

// ManagerProcess is a running manager binary.
type ManagerProcess struct{ *process }

// StartManager runs the manager binary as `make dev` does: as the operator's ServiceAccount,
// serving SCIM over plain HTTP and the token Secret of InstallOperator, without leader election.
// It dies with this process. Stop it with Stop.
func StartManager(o ManagerOptions) (*ManagerProcess, error) {
	if o.ProbeAddr == "" {
		o.ProbeAddr = "127.0.0.1:0"
	}
	args := append([]string{
		"--kubeconfig", o.Kubeconfig,
		"--scim-bind-address", o.SCIMAddr,
		"--scim-insecure-http", // local: plain HTTP on loopback
		"--metrics-bind-address", o.MetricsAddr,
		"--scim-providers", strings.Join(o.Providers, ","),
		"--scim-token-secret", TokenSecret,
		"--scim-token-namespace", OperatorNamespace,
		"--health-probe-bind-address", o.ProbeAddr,
		"--leader-elect=false",
		"--rbac-user-prefix", o.UserPrefix,
	}, o.Args...)
	cmd := exec.Command(o.Binary, args...)
	cmd.Stdout, cmd.Stderr = o.Stdout, o.Stderr
	if len(o.Env) > 0 {
		cmd.Env = append(os.Environ(), o.Env...)
	}
	p, err := startProcess(cmd, nil)
	if err != nil {
		return nil, err
	}
	return &ManagerProcess{p}, nil
}

// Pid is the manager's process id.
func (m *ManagerProcess) Pid() int { return m.cmd.Process.Pid }

// Exited is closed once the manager has exited; Err is then its result.
func (m *ManagerProcess) Exited() <-chan struct{} { return m.exited }

// Err is the manager's exit status once Exited is closed.
func (m *ManagerProcess) Err() error { return m.err }

// Kill kills the manager with SIGKILL, as a crash or an OOM kill would, and waits until it has
// exited: it releases nothing (its leader election Lease stays held until it expires).
func (m *ManagerProcess) Kill() error {
	if err := m.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-m.exited
	return nil
}

// Stop stops the manager with SIGTERM, killing it if it has not exited after 15 s.
func (m *ManagerProcess) Stop() error { return m.stop(15 * time.Second) }
