// Package objects is dv's content-addressed object store.
//
// Every object is identified by the BLAKE3-256 hash of a one-byte type tag
// followed by its bytes (see Hash). File contents are cut into chunks by a
// content-defined chunker (Chunker), each chunk is compressed with zstd when
// that makes it smaller, and chunks are appended to pack files of tens of MiB.
// Index files map each object id to its pack, offset and length. Directories
// are Merkle trees (Tree) and large files are chunk lists (List).
//
// Everything read from disk is re-hashed before use: a mismatch is reported
// as a *CorruptError, which matches ErrCorrupt. The formats are specified in
// docs/FORMATS.md.
package objects
