// Package registry is dv's model registry and its one name resolver.
//
// Names (Resolve): "crop" (the latest version of that model or data),
// "crop@production" (the version an alias gives), "crop@v3" (a model's
// third version), a record id or an unambiguous prefix of 8+ hex digits,
// a full ref name (runs/prep), or a tracked path (its pointer's record).
//
// Aliases and decisions: every decision on a model's alias (promoted,
// rejected, forced, rolled back) is a record of type "promotion" in a
// hash chain per model (ref events/MODEL; each event names the previous
// one). The alias ref aliases/MODEL/ALIAS points at the event that gave
// the alias its holder, and every event carries the map of alias holders
// after it, so the chain's head says who holds what even when a process
// was killed between appending the event and moving the alias.
//
// The package imports objects, objects/workspace, refs and lineage, never
// train, so that train, its sub-packages and cmd can all use it.
package registry
