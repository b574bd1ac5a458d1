// Package drift is dv drift: per-column drift of tabular data (CSV,
// Parquet) between a reference (usually the data a model was trained on)
// and current data, with the statistics Evidently documents, each written
// here with its formula and checked against SciPy to 1e-9
// (docs/drift.md). It imports objects, objects/workspace, refs and lineage.
package drift
