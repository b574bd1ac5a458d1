package main

// Measured commands run through a launcher: dvbench itself, started again
// with launcherArg, which runs the command and writes the command's own
// wall time, CPU time and peak RSS to a file.
//
// The reason is a Linux accounting rule: at exec, a process's peak RSS
// (ru_maxrss) starts from the high-water mark of the memory it replaces,
// and Go starts a child with vfork, sharing the parent's memory until the
// exec. So every command dvbench started directly reported at least
// dvbench's own peak (260 MiB after it generated W12: a dv drift and a dv
// export were both "260.76 MiB"). The launcher is a fresh process of a few
// MiB; the command it starts inherits only that.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// launcherArg, as dvbench's first argument, makes it the launcher:
// dvbench launcherArg RESULT -- NAME ARGS...
const launcherArg = "-launch-measured"

// usage is what the launcher reports of the command it ran.
type usage struct {
	Wall float64 `json:"wall"` // seconds
	CPU  float64 `json:"cpu"`  // user + system seconds
	RSS  int64   `json:"rss"`  // peak resident set size, bytes
}

// runMeasured runs cmd (its Path and Args, Dir, Env, standard streams)
// through the launcher and returns the command's own usage. The error is
// cmd.Run's for the launcher, which exits with the command's status.
func runMeasured(cmd *exec.Cmd) (usage, error) {
	var u usage
	self, err := os.Executable()
	if err != nil {
		return u, err
	}
	f, err := os.CreateTemp("", "dvbench-usage-*.json")
	if err != nil {
		return u, err
	}
	res := f.Name()
	f.Close()
	defer os.Remove(res)
	// The launcher takes the command's place in cmd, so that its
	// context, streams and exit status work as before.
	cmd.Args = append([]string{self, launcherArg, res, "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = self
	err = cmd.Run()
	b, rerr := os.ReadFile(res)
	if rerr == nil && len(b) > 0 {
		rerr = json.Unmarshal(b, &u)
	}
	if err == nil && (rerr != nil || len(b) == 0) {
		err = fmt.Errorf("launcher wrote no usage (%v)", rerr)
	}
	return u, err
}

// launch is the launcher's main: it runs args[2:] (after RESULT and --),
// writes its usage to RESULT and returns its exit status (128 + the
// signal when one ended it).
func launch(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintln(os.Stderr, "usage: dvbench", launcherArg, "RESULT -- NAME [ARG...]")
		return 2
	}
	cmd := exec.Command(args[2], args[3:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A killed launcher (dvbench's context) takes the command with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start).Seconds()
	ps := cmd.ProcessState
	var ee *exec.ExitError
	if ps == nil || (err != nil && !errors.As(err, &ee)) {
		fmt.Fprintln(os.Stderr, "dvbench launcher:", err)
		return 127
	}
	u := usage{Wall: wall, CPU: (ps.UserTime() + ps.SystemTime()).Seconds()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		u.RSS = ru.Maxrss << 10 // KiB on Linux
	}
	b, _ := json.Marshal(u)
	if werr := os.WriteFile(args[0], b, 0o644); werr != nil {
		fmt.Fprintln(os.Stderr, "dvbench launcher:", werr)
		return 127
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
