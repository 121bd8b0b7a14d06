package mariadbtest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawner starts every mariadbd from one goroutine locked to its OS thread for the life of the process.
// Pdeathsig is delivered when the thread that forked the child exits, not the process; Go retires threads, so a
// child forked from an arbitrary goroutine could be killed early. Forking from a thread that never exits makes the
// signal mean "the test binary died": a go test timeout or a crashed demo leaves no orphan servers behind.
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd  *exec.Cmd
	done chan error
}

func startProcess(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // a terminal's Ctrl-C goes to the program, which then calls Stop
		Pdeathsig: syscall.SIGKILL, // the owner died: the server is garbage
	}
	r := spawnReq{cmd: cmd, done: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.done
}
