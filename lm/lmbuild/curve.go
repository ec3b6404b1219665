package main

import "math"

// mixScore returns the exact interpolation lambda*a + (1-lambda)*b.
func mixScore(a, b scoreFunc, lambda float64) scoreFunc {
	return func(hist []string, w string) float64 {
		pa, pb := math.Exp(a(hist, w)), math.Exp(b(hist, w))
		return math.Log(lambda*pa + (1-lambda)*pb)
	}
}
