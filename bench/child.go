package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a daemon process started by the harness. Only this process is ever signalled.
type child struct {
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	peak    int64 // highest VmHWM seen, bytes
	stopped bool
	stopErr error
}

// startChild starts bin with args, its output appended to logPath. The child dies with the harness (Pdeathsig).
func startChild(bin string, args []string, logPath string) (*child, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p := &child{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *child) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// sampleRSS records the child's VmHWM (the kernel's high-water mark of its resident set).
func (p *child) sampleRSS() {
	if p.exited() {
		return
	}
	if v, err := readVmHWM(p.cmd.Process.Pid); err == nil && v > p.peak {
		p.peak = v
	}
}

func (p *child) peakRSS() int64 {
	p.sampleRSS()
	return p.peak
}

// stop sends SIGTERM and waits (SIGKILL after 30 s). It returns the child's failure: a non-zero exit after
// SIGTERM, or an exit before it.
func (p *child) stop() error {
	if p.stopped {
		return p.stopErr
	}
	p.stopped = true
	if p.exited() {
		if p.waitErr != nil {
			p.stopErr = fmt.Errorf("exited on its own: %w", p.waitErr)
		}
		return p.stopErr
	}
	p.sampleRSS()
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // our child, not yet reaped: the pid is still ours
	select {
	case <-p.done:
		if p.waitErr != nil {
			p.stopErr = fmt.Errorf("exit after SIGTERM: %w", p.waitErr)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.stopErr = errors.New("did not exit within 30s of SIGTERM; killed")
	}
	return p.stopErr
}

// readVmHWM returns a process's peak resident set size in bytes, from /proc/PID/status.
func readVmHWM(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	return parseVmHWM(b)
}

func parseVmHWM(status []byte) (int64, error) {
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := strings.Fields(string(rest))
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("VmHWM line %q", line)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmHWM in /proc status")
}

// processCPU returns the CPU time (user + system) process pid has used, from /proc/PID/stat (in clock ticks of
// 1/100 s, Linux's USER_HZ).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields count from after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
