//go:build !unix

package eval

import "time"

// processCPU is unavailable here; CPU figures read zero.
func processCPU() time.Duration { return 0 }
