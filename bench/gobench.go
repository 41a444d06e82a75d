// What a Go program does for the same jobs, for `npm run bench` (bench/README.md, issue 12).
// Standard library only; built by bench/run.mjs with `go build` into a temporary directory.
//
//	gobench uts <n>            exec.Cmd.Run of /bin/true with SysProcAttr.Cloneflags CLONE_NEWUTS, one after the other
//	gobench net <n> <pid>      the same joined to pid's net namespace: a locked OS thread, setns there,
//	                           exec.Cmd.Run, setns back (what github.com/vishvananda/netns users write)
//	gobench burst <n>          n goroutines at once, each running exec.Cmd.Run (new uts ns), all awaited
//	gobench setns <n> <pid>    on a locked thread, setns into pid's net namespace and back, n times
//	gobench open <n> <pid>     open /proc/<pid>/ns/net + close, n times (not safe against pid reuse)
//
// Prints one line of JSON: {"mode":..,"n":..,"total_ns":..,"per_op_us":..,"parent_cpu_us":..}, where
// parent_cpu_us is this process's user+system CPU (getrusage RUSAGE_SELF, every thread) over the
// timed part divided by n. A child's CPU is not in it (RUSAGE_SELF counts this process's threads;
// os/exec's vfork child is another process until it execs).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// setns(2)'s number: the frozen syscall package has neither a wrapper nor the constant.
var sysSetns = map[string]uintptr{"amd64": 308, "arm64": 268}[runtime.GOARCH]

// setns(2) through the raw system call, as netns.Set does (it uses x/sys/unix).
func setns(fd int, nstype int) error {
	if sysSetns == 0 {
		die(fmt.Errorf("setns: no syscall number known for %s", runtime.GOARCH))
	}
	_, _, e := syscall.RawSyscall(sysSetns, uintptr(fd), uintptr(nstype), 0)
	if e != 0 {
		return e
	}
	return nil
}

func cpuNs() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		die(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func die(err error) {
	fmt.Fprintln(os.Stderr, "gobench:", err)
	os.Exit(1)
}

func utsCmd() *exec.Cmd {
	c := exec.Command("/bin/true")
	c.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
	return c
}

func openNs(path string) int {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		die(fmt.Errorf("%s: %w", path, err))
	}
	return fd
}

// Runs /bin/true in the net namespace `target`, then returns the thread to `home`.
func runJoined(target, home int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := setns(target, syscall.CLONE_NEWNET); err != nil {
		return err
	}
	err := exec.Command("/bin/true").Run()
	if e := setns(home, syscall.CLONE_NEWNET); e != nil {
		die(e)
	}
	return err
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: gobench uts|burst <n> | net|setns|open <n> <pid>")
		os.Exit(2)
	}
	mode := os.Args[1]
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n < 1 {
		die(fmt.Errorf("bad n %q", os.Args[2]))
	}
	pid := 0
	if mode == "net" || mode == "setns" || mode == "open" {
		if len(os.Args) < 4 {
			die(fmt.Errorf("%s needs a pid", mode))
		}
		if pid, err = strconv.Atoi(os.Args[3]); err != nil {
			die(err)
		}
	}
	var target, home int
	if mode == "net" || mode == "setns" {
		target = openNs(fmt.Sprintf("/proc/%d/ns/net", pid))
		home = openNs("/proc/self/ns/net")
	}

	cpu0 := cpuNs()
	t0 := time.Now()
	switch mode {
	case "uts":
		for i := 0; i < n; i++ {
			if err := utsCmd().Run(); err != nil {
				die(err)
			}
		}
	case "net":
		for i := 0; i < n; i++ {
			if err := runJoined(target, home); err != nil {
				die(err)
			}
		}
	case "burst":
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := utsCmd().Run(); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			die(err)
		}
	case "setns":
		runtime.LockOSThread()
		for i := 0; i < n; i++ {
			if err := setns(target, syscall.CLONE_NEWNET); err != nil {
				die(err)
			}
			if err := setns(home, syscall.CLONE_NEWNET); err != nil {
				die(err)
			}
		}
		runtime.UnlockOSThread()
	case "open":
		for i := 0; i < n; i++ {
			fd, err := syscall.Open(fmt.Sprintf("/proc/%d/ns/net", pid), syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
			if err != nil {
				die(err)
			}
			syscall.Close(fd)
		}
	default:
		die(fmt.Errorf("unknown mode %q", mode))
	}
	total := time.Since(t0).Nanoseconds()
	cpu := cpuNs() - cpu0
	fmt.Printf("{\"mode\":%q,\"n\":%d,\"total_ns\":%d,\"per_op_us\":%.3f,\"parent_cpu_us\":%.3f}\n",
		mode, n, total, float64(total)/1e3/float64(n), float64(cpu)/1e3/float64(n))
}
