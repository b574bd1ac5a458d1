// Package compute runs dv run and dv train on a cluster the team already
// has: a Slurm partition (sbatch, scontrol, sacct, scancel) or a
// Kubernetes namespace (kubectl, with the user's kubeconfig). dv never
// schedules anything itself.
//
// The targets are dv.yaml's compute: section (Config). A run submitted
// with --on TARGET has the same plan and cache key as a local run
// (train.Runner.Plan): a cached run is served locally and nothing is
// submitted. Otherwise dv checks that the cluster can reproduce the run
// (the commit clean and pushed, the inputs on the remote, the remote
// reachable from the target), renders a deterministic job (SlurmScript,
// KubernetesJob) and submits it.
//
// The job runs dv itself (Worker, the hidden dv job command) in a fresh
// clone at the commit: it fetches exactly the run's inputs, runs the
// command through train.Runner, and pushes the outputs, the log and the
// records, moving the remote's refs by compare-and-swap and pointing
// jobs/TARGET/ID at its run. The submitter follows the job (Client.Follow,
// streaming its log) and, once it ends, fetches that run and checks out
// its outputs as for a cache hit; a job that ended without recording its
// run (cancelled, timed out, lost with its node) is recorded as a failed
// run here, with the engine's log and the reason.
//
// It imports train, lineage, objects, objects/workspace and remote.
package compute
