// Package train runs commands reproducibly and records them: dv run (a
// step with pinned inputs, recorded outputs and a run cache), dv train (a
// run whose output is a model version with metrics), the listing of runs
// and the metrics of model versions; train/importer is dv import. cmd
// prints what it returns.
//
// # Records
//
// A successful run writes, in this order (every provenance edge points
// from the newer record to the older one): the run record (parents: the
// inputs' version records; Outputs: each output's data id, and for dv
// train the metrics file's), then one version record per output with the
// run as parent and Run set, then for dv train a metrics record whose
// parent is the model version. All of them go into the pack of the last
// output's dv add, and their refs (runs/NAME, datasets/... or
// models/MODEL, metrics/MODEL) move once it is durable. A run holds (in
// Objects) its log and metrics file; dataset data stays held by the
// pointer files in git and model data by the model version, as for dv add.
//
// A failed run (non-zero exit, a declared output missing, unreadable
// metrics) is recorded with its log and no outputs, and runs/NAME moves to
// it; nothing else changes.
//
// # Run cache
//
// The key (CacheKey) is the BLAKE3 of the argv, the params, the inputs'
// paths and data ids, the output paths, the model name and metrics file,
// and the code state (CodeState): HEAD's git tree, the content of tracked
// files with uncommitted changes, and the content of files named on the
// command line. Pointer files, .gitignore and other untracked files are
// not code. Outside git (or without git installed) the cache is off.
//
// runcache/<key> names the last successful run with that key. A hit
// executes nothing and records no run: outputs whose pointer already names
// the cached data are only checked out again; an output whose pointer
// names other data gets a new version record (parent: the cached run) so
// that datasets/... and models/... name what the work tree holds. Data gc
// has dropped is a miss, and the command runs.
package train
