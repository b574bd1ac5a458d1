// Package export packages a model version as a deployable bundle (dv
// export) and checks one (dv verify-bundle). It imports objects,
// objects/workspace, refs, lineage and train; cmd prints what it returns.
//
// # Bundle
//
// Every format carries the same logical content: the model version's
// files under model/ (model/weights.bin, or model/<the tree> for a
// directory) and manifest.json, which names the model, its version
// number and record, each file's size, mode, SHA-256, BLAKE3 and dv
// content id, the metrics, the aliases that held the version, and a
// lineage summary (run, command, params, input data versions, git commit,
// the dv version that wrote it). See docs/deploy.md.
//
//   - tar: one tar file (zstd-compressed when OUT ends in .tar.zst).
//   - oci: an OCI image layout holding a CNCF ModelPack artifact, one raw
//     layer per file.
//   - docker: a build context: Dockerfile, model/ and manifest.json.
//
// # Determinism
//
// The output depends only on the model version (and SOURCE_DATE_EPOCH):
// tar entries are sorted by path with uid and gid 0, no user or group
// names, mode 0644 or 0755 from the executable bit and the version's time
// as mtime, headers built by hand (no access or change times); JSON is
// encoded with fixed key order; zstd runs with one goroutine.
//
// # Reading
//
// Model data is read straight from the object store, chunk by chunk
// (each verified against its id), a few chunks ahead, and streamed into
// the output while SHA-256 and BLAKE3 are computed in the same pass;
// memory stays at a few MiB whatever the model's size. Output goes to a
// temporary name beside OUT and is renamed at the end, so an interrupted
// export leaves no partial OUT.
package export
