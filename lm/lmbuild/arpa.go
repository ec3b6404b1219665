package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ln10 converts between the natural-log values the model holds and the
// log10 values ARPA files hold.
var ln10 = math.Log(10)

// arpaFloor is the log10 probability written for impossible events, as
// every ARPA tool writes it.
const arpaFloor = -99.0

func toLog10(x float64) float64 {
	if math.IsInf(x, -1) || x/ln10 < arpaFloor {
		return arpaFloor
	}
	return x / ln10
}

// writeARPA writes m as an ARPA trigram model.
func writeARPA(w io.Writer, m *model) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "\\data\\\nngram 1=%d\nngram 2=%d\nngram 3=%d\n", len(m.words), m.bi.Len(), m.tri.Len())
	buf := make([]byte, 0, 256)
	num := func(x float64) { buf = strconv.AppendFloat(buf, toLog10(x), 'f', 6, 64) }
	bw.WriteString("\n\\1-grams:\n")
	for i, word := range m.words {
		buf = buf[:0]
		num(m.uni[i])
		buf = append(buf, '\t')
		buf = append(buf, word...)
		buf = append(buf, '\t')
		num(m.ubow[i])
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	bw.WriteString("\n\\2-grams:\n")
	for i, k := range m.bi.keys {
		buf = buf[:0]
		num(m.bi.prob[i])
		buf = append(buf, '\t')
		buf = append(buf, m.words[k>>wordBits]...)
		buf = append(buf, ' ')
		buf = append(buf, m.words[k&wordMask]...)
		buf = append(buf, '\t')
		num(m.bi.bow[i])
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	bw.WriteString("\n\\3-grams:\n")
	for i, k := range m.tri.keys {
		buf = buf[:0]
		num(m.tri.prob[i])
		buf = append(buf, '\t')
		buf = append(buf, m.words[k>>(2*wordBits)]...)
		buf = append(buf, ' ')
		buf = append(buf, m.words[(k>>wordBits)&wordMask]...)
		buf = append(buf, ' ')
		buf = append(buf, m.words[k&wordMask]...)
		buf = append(buf, '\n')
		bw.Write(buf)
	}
	bw.WriteString("\n\\end\\\n")
	return bw.Flush()
}

// errARPA marks a malformed ARPA file.
var errARPA = errors.New("malformed ARPA file")

// readARPA reads an ARPA model of order at most 3 (used by tests to check
// that what writeARPA wrote reads back the same).
func readARPA(r io.Reader) (*model, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	section := 0
	var counts [4]int
	var m *model
	var bi, tri map[uint64][2]float64
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		switch {
		case s == "\\data\\":
			section = -1
			continue
		case strings.HasPrefix(s, "ngram ") && section == -1:
			var n, c int
			if _, err := fmt.Sscanf(s, "ngram %d=%d", &n, &c); err != nil || n < 1 || n > 3 {
				return nil, fmt.Errorf("%w: line %d: %q", errARPA, line, s)
			}
			counts[n] = c
			continue
		case s == "\\end\\":
			section = 4
			continue
		case strings.HasSuffix(s, "-grams:"):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, "\\"), "-grams:"))
			if err != nil || n < 1 || n > 3 {
				return nil, fmt.Errorf("%w: line %d: %q", errARPA, line, s)
			}
			section = n
			if n == 1 {
				m = &model{index: map[string]int32{}}
			} else if m == nil {
				return nil, fmt.Errorf("%w: %d-grams before 1-grams", errARPA, n)
			}
			if n == 2 {
				bi = map[uint64][2]float64{}
			}
			if n == 3 {
				tri = map[uint64][2]float64{}
			}
			continue
		}
		if section < 1 || section > 3 {
			continue
		}
		f := strings.Fields(s)
		if len(f) < 1+section || len(f) > 2+section {
			return nil, fmt.Errorf("%w: line %d: %q", errARPA, line, s)
		}
		p, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", errARPA, line, err)
		}
		bo := 0.0
		if len(f) == 2+section {
			if bo, err = strconv.ParseFloat(f[1+section], 64); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", errARPA, line, err)
			}
		}
		lp, lb := p*ln10, bo*ln10
		if p <= arpaFloor {
			lp = math.Inf(-1)
		}
		if section == 1 {
			m.index[f[1]] = int32(len(m.words))
			m.words = append(m.words, f[1])
			m.uni = append(m.uni, lp)
			m.ubow = append(m.ubow, lb)
			continue
		}
		ids := make([]int32, section)
		for i := range ids {
			id, ok := m.index[f[1+i]]
			if !ok {
				return nil, fmt.Errorf("%w: line %d: word %q not among the 1-grams", errARPA, line, f[1+i])
			}
			ids[i] = id
		}
		if section == 2 {
			bi[key2(ids[0], ids[1])] = [2]float64{lp, lb}
		} else {
			tri[key3(ids[0], ids[1], ids[2])] = [2]float64{lp, 0}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if m == nil || section != 4 {
		return nil, fmt.Errorf("%w: no \\end\\", errARPA)
	}
	if len(m.words) != counts[1] || len(bi) != counts[2] || len(tri) != counts[3] {
		return nil, fmt.Errorf("%w: header counts %v disagree with content (%d, %d, %d)",
			errARPA, counts[1:], len(m.words), len(bi), len(tri))
	}
	m.bi = tableOf(bi, true)
	m.tri = tableOf(tri, false)
	return m, nil
}

func tableOf(src map[uint64][2]float64, withBow bool) ngrams {
	p := make(map[uint64]float64, len(src))
	for k, v := range src {
		p[k] = math.Exp(v[0])
	}
	g := fromMap(p, withBow)
	for i, k := range g.keys {
		g.prob[i] = src[k][0]
		if withBow {
			g.bow[i] = src[k][1]
		}
	}
	return g
}
