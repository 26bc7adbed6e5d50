package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Faults: the fault tests crash, restart and hang the local control plane's processes. A killed
// process keeps its ports, certificates and data (Start puts them in this package's directory), so
// that Restart brings back the same cluster and every client's credentials stay valid.

// Component is a process of the local control plane.
type Component string

// The components a test can fail.
const (
	APIServer Component = "kube-apiserver"
	Etcd      Component = "etcd"
)

// Kill kills c with SIGKILL, as a crash would, and waits until it has exited.
func (l *Local) Kill(c Component) error {
	pid, err := l.pid(c)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %s (pid %d): %w", c, pid, err)
	}
	delete(l.paused, c)
	// envtest waits for its process and so reaps it: the pid is gone then.
	return wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH), nil
	})
}

// Restart starts c again after Kill, on the same ports, with the same certificates and data, and
// waits until it reports healthy.
func (l *Local) Restart(c Component) error {
	if _, err := l.pid(c); err == nil {
		return fmt.Errorf("%s is running: kill it first", c)
	}
	var err error
	switch c {
	case APIServer:
		err = l.Env.ControlPlane.APIServer.Start()
	case Etcd:
		err = l.Env.ControlPlane.Etcd.Start()
	default:
		err = fmt.Errorf("unknown component %q", c)
	}
	if err != nil {
		return fmt.Errorf("restart %s: %w", c, err)
	}
	return nil
}

// Pause stops c with SIGSTOP: it keeps its connections and accepts new ones, but answers nothing,
// as a hung process does. Resume continues it; Stop does too.
func (l *Local) Pause(c Component) error {
	return l.signal(c, syscall.SIGSTOP, true)
}

// Resume continues c after Pause.
func (l *Local) Resume(c Component) error {
	return l.signal(c, syscall.SIGCONT, false)
}

func (l *Local) signal(c Component, sig syscall.Signal, paused bool) error {
	pid, err := l.pid(c)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %s (pid %d) with %v: %w", c, pid, sig, err)
	}
	if paused {
		l.paused[c] = true
	} else {
		delete(l.paused, c)
	}
	return nil
}

// pid finds c's process: the child of this process that runs c's binary with c's listening address
// among its arguments (envtest keeps the process to itself).
func (l *Local) pid(c Component) (int, error) {
	var binary, arg string
	switch c {
	case APIServer:
		s := l.Env.ControlPlane.APIServer
		binary, arg = s.Path, "--secure-port="+s.SecureServing.Port
	case Etcd:
		e := l.Env.ControlPlane.Etcd
		binary, arg = e.Path, "--listen-client-urls="+e.URL.String()
	default:
		return 0, fmt.Errorf("unknown component %q", c)
	}
	return childProcess(binary, arg)
}

// childProcess returns the pid of the running child of this process whose command is binary with
// arg among its arguments.
func childProcess(binary, arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …: comm may hold spaces and parentheses, so split after the last ')'.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		if len(args) > 0 && args[0] == binary && slices.Contains(args[1:], arg) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no running %s with %s", filepath.Base(binary), arg)
}
