package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// readSentences reads one sentence per line, lower case, words separated by
// spaces; blank lines and lines starting with # are skipped.
func readSentences(r io.Reader) ([][]string, error) {
	var out [][]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, strings.Fields(strings.ToLower(line)))
	}
	return out, sc.Err()
}

func readSentenceFile(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := readSentences(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// dictionary is the pronunciation dictionary: head word -> lines (the
// word itself and its alternates "word(2)" ...), in file order.
type dictionary struct {
	entries map[string][]string
	order   []string
}

func readDict(path string) (*dictionary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d := &dictionary{entries: map[string][]string{}}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		head := f[0]
		if i := strings.IndexByte(head, '('); i > 0 && strings.HasSuffix(head, ")") {
			head = head[:i]
		}
		if _, ok := d.entries[head]; !ok {
			d.order = append(d.order, head)
		}
		d.entries[head] = append(d.entries[head], line)
	}
	return d, sc.Err()
}

// oovs returns the words of sentences missing from d, with their counts.
func oovs(sentences [][]string, d *dictionary) map[string]int {
	out := map[string]int{}
	for _, s := range sentences {
		for _, w := range s {
			if _, ok := d.entries[w]; !ok {
				out[w]++
			}
		}
	}
	return out
}

// writeDict writes the entries of d whose head word is in vocab, in the
// dictionary's order, and returns how many head words it wrote.
func writeDict(w io.Writer, d *dictionary, vocab []string) (int, error) {
	want := make(map[string]bool, len(vocab))
	for _, v := range vocab {
		want[v] = true
	}
	bw := bufio.NewWriter(w)
	n := 0
	for _, h := range d.order {
		if !want[h] {
			continue
		}
		n++
		for _, line := range d.entries[h] {
			bw.WriteString(line)
			bw.WriteByte('\n')
		}
	}
	return n, bw.Flush()
}

func sortedKeys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
