package workspace

import "github.com/dv-ml/dv/objects/pointer"

// The pointer-file format moved to objects/pointer. These forwarders keep
// code written against the old names compiling while other branches move
// over; new code uses package pointer. Delete this file once nothing uses
// them (grep 'workspace\.\(Pointer\|PointerExt\|PointerVersion\|Kinds\|
// DecodePointer\|ReadPointer\|WritePointer\)\b').

// Pointer is pointer.Pointer.
//
// Deprecated: use pointer.Pointer.
type Pointer = pointer.Pointer

// PointerExt is pointer.Ext.
//
// Deprecated: use pointer.Ext.
const PointerExt = pointer.Ext

// PointerVersion is pointer.Version.
//
// Deprecated: use pointer.Version.
const PointerVersion = pointer.Version

// Kinds is pointer.Kinds.
//
// Deprecated: use pointer.Kinds.
var Kinds = pointer.Kinds

// DecodePointer is pointer.Decode.
//
// Deprecated: use pointer.Decode.
func DecodePointer(b []byte) (*Pointer, error) { return pointer.Decode(b) }

// ReadPointer is pointer.Read.
//
// Deprecated: use pointer.Read.
func ReadPointer(path string) (*Pointer, error) { return pointer.Read(path) }

// WritePointer is pointer.Write.
//
// Deprecated: use pointer.Write.
func WritePointer(path string, p *Pointer) error { return pointer.Write(path, p) }
