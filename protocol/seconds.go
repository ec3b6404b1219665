package protocol

import (
	"math"
	"time"
)

// Seconds is a duration as every time in Earshot's JSON writes it: seconds
// rounded to the millisecond. Recognizer word times are 10 ms apart and
// audio frames 20 ms, so the rounding never hides a step the engine made.
func Seconds(d time.Duration) float64 { return math.Round(d.Seconds()*1000) / 1000 }

// FromSeconds is the inverse of Seconds, rounded to the nanosecond.
func FromSeconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// Round3 rounds a score or ratio to three decimals, the precision of every
// score in Earshot's JSON.
func Round3(x float64) float64 { return math.Round(x*1000) / 1000 }
