package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteText writes r as a table and a line of detail.
func (r LiveResult) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "calls\trealtime\tfinal p50 s\tfinal p95 s\thint p95 s\tcpu cores/call\trss MB\tframes lost\tfinals\thints")
	fmt.Fprintf(tw, "%d\t%v\t%.3f\t%.3f\t%.3f\t%.3f\t%.0f\t%d\t%d\t%d\n", r.Calls, r.Realtime, r.FinalLatencyP50, r.FinalLatencyP95,
		r.HintLatencyP95, r.CPUCoresPerCall, r.RSSMB, r.FramesLost, r.Finals, r.Hints)
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "audio %.0f s in %.1f s wall; max stream lag %.3f s; max end drain %.3f s; final latency max %.3f s; errors %d\n",
		r.AudioS, r.WallS, r.MaxStreamLagS, r.MaxEndDrainS, r.FinalLatencyMaxS, r.Errors); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "NATS per call: %.2f messages and %.0f bytes sent per second of the call; JetStream keeps %.0f records (%.1f kB) of it, and %.1f kB of live events for an hour\n",
		r.NATSMsgsPerCallSec, r.NATSBytesPerCallSec, r.StoredRecordsPerCall, r.StoredKBPerCall, r.LiveKBPerCall)
	return err
}

// WriteJSON writes r as one line of JSON.
func (r LiveResult) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
