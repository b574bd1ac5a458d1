package drift

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzCSV feeds the CSV reader arbitrary bytes: it must return an error
// or a table whose columns count every row, never panic or hang.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"a,b\n1,2\n", "a,b\n1,\"x\"\"y\"\n", "a\n\"multi\nline\"\n", "a,b\r\n1,2\r\n", "",
		"a,b\n1\n", "a\nNA\n1e308\n-inf\n", "\"a\",\"b\"\n\"1\",2\n", "a,b\n\"open\n", "x\n1\n2\n\n3\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := &budget{limit: 1 << 20, sketchK: 64}
		tb := newTable("f.csv", nil, nil, b)
		err := readCSV(bytes.NewReader(data), tb, ',')
		if err != nil {
			if strings.Contains(err.Error(), "\x00") && !bytes.Contains(data, []byte{0}) {
				t.Errorf("error with a NUL not in the input: %q", err)
			}
			return
		}
		tb.finish()
		for _, u := range tb.used {
			if u.col.rows != tb.rows {
				t.Errorf("column %q counts %d rows of %d", u.col.name, u.col.rows, tb.rows)
			}
			if u.col.numeric && u.col.sketch == nil && int64(len(u.col.sorted)) != u.col.values() {
				t.Errorf("column %q: %d values, %d present", u.col.name, len(u.col.sorted), u.col.values())
			}
		}
	})
}
