package registry

import (
	"fmt"
	"regexp"

	"github.com/dv-ml/dv/lineage"
	"github.com/dv-ml/dv/refs"
)

// Ref namespaces of the registry.
const (
	ModelsPrefix  = "models/"  // models/MODEL: the newest version
	AliasesPrefix = "aliases/" // aliases/MODEL/ALIAS: the event that gave the alias
	EventsPrefix  = "events/"  // events/MODEL: the newest event of the chain
)

// ModelRef is the ref of a model's newest version.
func ModelRef(model string) string { return lineage.RefFor(lineage.TypeModel, model) }

// AliasRef is the ref of a model's alias.
func AliasRef(model, alias string) string {
	return AliasesPrefix + refs.SafeRefPart(model) + "/" + alias
}

// EventsRef is the ref of a model's newest event.
func EventsRef(model string) string { return lineage.RefFor(lineage.TypePromotion, model) }

var (
	aliasRE   = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)
	versionRE = regexp.MustCompile(`^v([0-9]+)$`)
)

// ValidAlias checks an alias name: one ref component of letters, digits
// and "._-", not starting with '.' or '-', and not of the form vN (those
// name versions).
func ValidAlias(alias string) error {
	switch {
	case !aliasRE.MatchString(alias) || len(alias) > 100:
		return fmt.Errorf("alias %q: use letters, digits, '.', '_' and '-'", alias)
	case versionRE.MatchString(alias):
		return fmt.Errorf("alias %q: vN names a version (crop@v3), not an alias", alias)
	}
	if err := refs.ValidName("aliases/" + alias); err != nil {
		return fmt.Errorf("alias %q: %w", alias, err)
	}
	return nil
}
