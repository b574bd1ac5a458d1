package refs

import "strings"

// SafeRefPart turns a path or name into one or more valid ref components:
// characters a ref name does not allow become '_'.
func SafeRefPart(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "/") {
		if part == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		for i, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-@", r) || (r == '.' && i > 0)
			if !ok {
				r = '_'
			}
			b.WriteRune(r)
		}
		if strings.HasSuffix(part, ".lock") {
			b.WriteString("_")
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}
