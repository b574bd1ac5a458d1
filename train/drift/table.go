package drift

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// table is one side of a check (reference or current) being read.
type table struct {
	name       string   // the file, for errors
	ref        *table   // the reference, when this is the current data
	want       []string // the columns to check; nil: every column
	budget     *budget
	names      []string
	used       []usedCol
	cols       map[string]*column
	typed      bool
	typeReason string
	rows       int64
	headerSet  bool
}

type usedCol struct {
	index int
	col   *column
}

func newTable(name string, ref *table, want []string, b *budget) *table {
	return &table{name: name, ref: ref, want: want, budget: b, cols: map[string]*column{}}
}

// setHeader takes the column names of a file. A second file of the same
// table must have the same header.
func (t *table) setHeader(names []string) error {
	if t.headerSet {
		if strings.Join(names, "\x00") != strings.Join(t.names, "\x00") {
			return fmt.Errorf("%s: its columns (%s) differ from the first file's (%s)", t.name, strings.Join(names, ", "), strings.Join(t.names, ", "))
		}
		return nil
	}
	t.headerSet = true
	t.names = names
	index := map[string]int{}
	for i, n := range names {
		if n == "" {
			return fmt.Errorf("%s: column %d has no name in the header", t.name, i+1)
		}
		if _, dup := index[n]; dup {
			return fmt.Errorf("%s: column %q appears twice in the header", t.name, n)
		}
		index[n] = i
	}
	switch {
	case t.ref != nil:
		for _, rc := range t.ref.used {
			i, ok := index[rc.col.name]
			if !ok {
				return fmt.Errorf("%s: no column %q (the reference %s has it)", t.name, rc.col.name, t.ref.name)
			}
			c := newColumn(rc.col.name, rc.col.numeric)
			t.used = append(t.used, usedCol{i, c})
			t.cols[c.name] = c
			t.budget.register(c)
		}
		t.typed = true
		t.typeReason = "it is numeric in the reference " + t.ref.name
	case t.want != nil:
		for _, w := range t.want {
			i, ok := index[w]
			if !ok {
				return &ColumnError{Column: w, File: t.name, Have: names}
			}
			t.used = append(t.used, usedCol{index: i})
		}
	default:
		for i := range names {
			t.used = append(t.used, usedCol{index: i})
		}
	}
	if t.ref == nil {
		t.typeReason = fmt.Sprintf("every value in its first %d rows is a number", inferRows)
	}
	return nil
}

// setType creates a used column of the reference with its type.
func (t *table) setType(u usedCol, numeric bool) {
	for i := range t.used {
		if t.used[i].index == u.index {
			c := newColumn(t.names[u.index], numeric)
			t.used[i].col = c
			t.cols[c.name] = c
			t.budget.register(c)
		}
	}
}

// ColumnError is a column named in --columns (or dv.yaml) that the
// reference does not have.
type ColumnError struct {
	Column string
	File   string
	Have   []string
}

func (e *ColumnError) Error() string {
	return fmt.Sprintf("--columns: no column %q in %s (its columns: %s)", e.Column, e.File, strings.Join(e.Have, ", "))
}

// finish sorts each column's exact values, columns in parallel; past
// the budget every numeric column becomes a sketch first.
func (t *table) finish() {
	if t.budget.over.Load() {
		for _, u := range t.used {
			if u.col != nil && u.col.numeric {
				u.col.toSketch(t.budget.sketchK)
			}
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, u := range t.used {
		if u.col == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(c *column) {
			defer wg.Done()
			c.finish()
			<-sem
		}(u.col)
	}
	wg.Wait()
}

// fork returns an empty table with t's columns and types, for a worker.
func (t *table) fork() *table {
	f := &table{name: t.name, budget: t.budget, names: t.names, cols: map[string]*column{},
		typed: true, typeReason: t.typeReason, headerSet: true}
	for _, u := range t.used {
		c := newColumn(u.col.name, u.col.numeric)
		t.budget.register(c)
		f.used = append(f.used, usedCol{u.index, c})
		f.cols[c.name] = c
	}
	return f
}
