package drift

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
)

// parseBlock is how many bytes of CSV one worker parses at a time.
const parseBlock = 4 << 20

// blockPool recycles block buffers, so reading makes no garbage.
var blockPool = sync.Pool{New: func() any { b := make([]byte, 0, parseBlock+64<<10); return &b }}

// csvBlock is whole records of the stream: it starts and ends at a line
// break outside quotes.
type csvBlock struct {
	idx  int
	data []byte
	line int64   // the line the block starts on
	buf  *[]byte // data's pooled buffer, when it has one
}

type blockDone struct {
	idx  int
	rows int64
	err  error
}

// readBlocks parses the rest of cr's stream in parallel: one goroutine
// cuts it into blocks of whole records (a cut is a line break with an
// even number of quotes before it), GOMAXPROCS workers parse blocks into
// their own copies of t's columns, merged into t at the end. The
// statistics do not depend on row order. An error names the first bad
// row in file order. It returns the number of rows read.
func readBlocks(cr *csvReader, t *table, rowsBefore int64) (int64, error) {
	workers := max(1, runtime.GOMAXPROCS(0))
	blocks := make(chan csvBlock, workers)
	done := make(chan blockDone, workers)
	var stop atomic.Bool
	var readErr error
	go func() {
		defer close(blocks)
		readErr = cutBlocks(cr, blocks, &stop)
	}()
	forks := make([]*table, workers)
	var wg sync.WaitGroup
	for w := range workers {
		forks[w] = t.fork()
		wg.Add(1)
		go func(f *table) {
			defer wg.Done()
			br := bufio.NewReaderSize(nil, 64<<10)
			for b := range blocks {
				br.Reset(bytes.NewReader(b.data))
				rows, err := parseBlockInto(br, cr.comma, b.line, f)
				if b.buf != nil {
					blockPool.Put(b.buf)
				}
				if err != nil {
					stop.Store(true)
				}
				done <- blockDone{b.idx, rows, err}
			}
		}(forks[w])
	}
	go func() { wg.Wait(); close(done) }()
	results := map[int]blockDone{}
	for d := range done {
		results[d.idx] = d
	}
	if readErr != nil {
		return 0, fmt.Errorf("%s: %w", t.name, readErr)
	}
	total := rowsBefore
	for i := 0; i < len(results); i++ {
		d, ok := results[i]
		if !ok {
			break
		}
		if d.err != nil {
			var ce *cellError
			if errors.As(d.err, &ce) {
				ce.row += total
				ce.file = t.name
				return 0, ce
			}
			return 0, fmt.Errorf("%s: %w", t.name, d.err)
		}
		total += d.rows
	}
	for _, f := range forks {
		t.rows += f.rows
		for i, u := range t.used {
			u.col.merge(f.used[i].col, t.budget.sketchK)
		}
	}
	return total - rowsBefore, nil
}

// cutBlocks reads cr's buffered stream into blocks of whole records.
func cutBlocks(cr *csvReader, out chan<- csvBlock, stop *atomic.Bool) error {
	var carry []byte
	line := cr.next
	for idx := 0; !stop.Load(); {
		var pooled *[]byte
		var buf []byte
		if len(carry) < 64<<10 {
			pooled = blockPool.Get().(*[]byte)
			buf = (*pooled)[:len(carry)+parseBlock]
		} else {
			buf = make([]byte, len(carry)+parseBlock)
		}
		copy(buf, carry)
		n, err := io.ReadFull(cr.br, buf[len(carry):])
		data := buf[:len(carry)+n]
		eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
		if err != nil && !eof {
			return err
		}
		cut := len(data)
		if !eof {
			cut = lastRecordEnd(data)
			if cut < 0 { // one record longer than the block: read on
				carry = append([]byte(nil), data...)
				if pooled != nil {
					blockPool.Put(pooled)
				}
				continue
			}
		}
		carry = append(carry[:0:0], data[cut:]...)
		if cut > 0 {
			line0 := line
			line += int64(bytes.Count(data[:cut], []byte{'\n'}))
			out <- csvBlock{idx, data[:cut], line0, pooled}
			idx++
		} else if pooled != nil {
			blockPool.Put(pooled)
		}
		if eof {
			return nil
		}
	}
	return nil
}

// lastRecordEnd is the index after the last line break that has an even
// number of quotes before it, or -1.
func lastRecordEnd(data []byte) int {
	quotes := bytes.Count(data, []byte{'"'})
	for i := len(data) - 1; i >= 0; i-- {
		switch data[i] {
		case '"':
			quotes--
		case '\n':
			if quotes%2 == 0 {
				return i + 1
			}
		}
	}
	return -1
}

// parseBlockInto parses a block's records into f; errors carry the row
// within the block.
func parseBlockInto(br *bufio.Reader, comma byte, line int64, f *table) (int64, error) {
	cr := &csvReader{br: br, comma: comma, next: line}
	var row int64
	for {
		fields, err := cr.read()
		if errors.Is(err, io.EOF) {
			return row, nil
		}
		if err != nil {
			return row, err
		}
		row++
		if err := f.addRow(fields, row, cr.line); err != nil {
			return row, err
		}
	}
}
