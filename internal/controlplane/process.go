package controlplane

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// process is a child process that dies with this one: kube-controller-manager, or a manager binary.
type process struct {
	cmd *exec.Cmd
	// exited is closed once the process has exited, with its result in err.
	exited chan struct{}
	err    error
}

// startProcess starts cmd; onExit, if not nil, runs once it has exited (to close its log).
func startProcess(cmd *exec.Cmd, onExit func()) (*process, error) {
	// The process dies with the test binary or program that started it, even one killed outright.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if onExit != nil {
			onExit()
		}
		close(p.exited)
	}()
	return p, nil
}

// stop sends SIGTERM and waits for the process to exit, killing it after timeout. An exit caused
// by the signal is no error.
func (p *process) stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	err := p.err
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		err = nil // ended by the signal
	}
	return err
}
