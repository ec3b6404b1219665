// Command corpusgen writes the template half of Earshot's contact-center
// language-model corpus (lm/corpus/generated.txt) from the topics and slot
// fillers in this directory. The output is deterministic (fixed seed), so
// `make lm` rebuilds the same corpus and the same model.
//
// Usage: go run ./lm/corpusgen [-seed N] > lm/corpus/generated.txt
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
)

func main() {
	seed := flag.Uint64("seed", 2026, "random seed for slot filling")
	scale := flag.Int("scale", 1, "multiplies the number of draws per template")
	flag.Parse()
	r := rand.New(rand.NewPCG(*seed, *seed^0x5eed))
	w := bufio.NewWriter(os.Stdout)
	seen := map[string]bool{}
	n := 0
	for _, tp := range topics {
		for _, t := range tp.templates {
			draws := tp.perTmpl * *scale
			if !strings.Contains(t, "{") {
				draws = 1
			}
			for range draws {
				s := strings.Join(strings.Fields(fill(r, t)), " ")
				if seen[s] {
					continue
				}
				seen[s] = true
				fmt.Fprintln(w, s)
				n++
			}
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "corpusgen:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "corpusgen: %d sentences\n", n)
}
