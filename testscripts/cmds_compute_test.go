package testscripts

// Compute tests: a real single-node Slurm cluster started by the script
// (Debian's slurmctld and slurmd, no accounting, no cgroups, auth/none on
// loopback) for the compute_slurm_* scripts.
//
// Script commands added here:
//
//	slurmstart   start slurmctld and slurmd in $WORK/slurm on free
//	             loopback ports, set SLURM_CONF, wait until the node is
//	             idle; both are stopped by pid when the script ends
//	kubefake     start the fake Kubernetes API server (cmds_kube_test.go)
//
// and the condition [slurm]: true when slurmctld, slurmd and sbatch are on
// PATH; an error (the script fails) when they are not but
// DV_REQUIRE_TOOLS is set.

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// withCompute adds the compute tests' commands and conditions.
func withCompute(p testscript.Params) testscript.Params {
	p.Cmds["slurmstart"] = cmdSlurmStart
	p.Cmds["kubefake"] = cmdKubeFake
	cond := p.Condition
	p.Condition = func(c string) (bool, error) {
		switch c {
		case "slurm":
			return haveTools("slurmctld slurmd slurm-client", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel")
		case "kubectl":
			return haveTools("kubernetes-client", "kubectl")
		}
		if cond != nil {
			return cond(c)
		}
		return false, fmt.Errorf("unknown condition %q", c)
	}
	return p
}

func haveTools(pkg string, tools ...string) (bool, error) {
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			if os.Getenv("DV_REQUIRE_TOOLS") != "" {
				return false, fmt.Errorf("%s is not installed (apt-get install -y %s) and DV_REQUIRE_TOOLS is set", t, pkg)
			}
			return false, nil
		}
	}
	return true, nil
}

// freePort returns a loopback port nobody listens on now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

const slurmConf = `ClusterName=dvtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=%d
SlurmdPort=%d
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=%s
SlurmdUser=%s
StateSaveLocation=%s/state
SlurmdSpoolDir=%s/spool
SlurmctldPidFile=%s/slurmctld.pid
SlurmdPidFile=%s/slurmd.pid
SlurmctldLogFile=%s/slurmctld.log
SlurmdLogFile=%s/slurmd.log
ReturnToService=2
MinJobAge=600
KillWait=2
NodeName=dvnode NodeHostname=localhost NodeAddr=127.0.0.1 CPUs=%d RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=dvnode Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
`

func cmdSlurmStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 0 {
		ts.Fatalf("usage: slurmstart")
	}
	dir := ts.MkAbs("slurm")
	for _, d := range []string{"state", "spool"} {
		ts.Check(os.MkdirAll(filepath.Join(dir, d), 0o755))
	}
	ctld, err := freePort()
	ts.Check(err)
	sd, err := freePort()
	ts.Check(err)
	u, err := user.Current()
	ts.Check(err)
	conf := filepath.Join(dir, "slurm.conf")
	ts.Check(os.WriteFile(conf, []byte(fmt.Sprintf(slurmConf, ctld, sd, u.Username, u.Username,
		dir, dir, dir, dir, dir, dir, runtime.NumCPU())), 0o644))
	ts.Setenv("SLURM_CONF", conf)
	env := append(os.Environ(), "SLURM_CONF="+conf)
	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out, err := os.Create(filepath.Join(dir, name+".out"))
		ts.Check(err)
		cmd.Stdout, cmd.Stderr = out, out
		ts.Check(cmd.Start())
		ts.Defer(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			out.Close()
		})
	}
	start("slurmctld", "-D", "-i", "-f", conf)
	start("slurmd", "-D", "-N", "dvnode", "-f", conf)
	deadline := time.Now().Add(30 * time.Second)
	for {
		cmd := exec.Command("sinfo", "-h", "-N", "-o", "%t")
		cmd.Env = env
		out, err := cmd.Output()
		state := strings.TrimSpace(string(out))
		if err == nil && (state == "idle" || state == "mix" || state == "alloc") {
			return
		}
		if time.Now().After(deadline) {
			logs, _ := os.ReadFile(filepath.Join(dir, "slurmctld.log"))
			ts.Fatalf("slurm did not come up (sinfo: %q, %v):\n%s", state, errors.Unwrap(err), logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
