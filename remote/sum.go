package remote

import "github.com/zeebo/blake3"

// sum is the name of a pack or index file with content b.
func sum(b []byte) [32]byte { return blake3.Sum256(b) }
