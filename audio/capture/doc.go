// Package capture records the two sides of an agent's call from local audio
// devices: the agent's microphone and the caller's audio (the softphone's
// output, heard through a PulseAudio monitor source on Linux, a WASAPI
// loopback device on Windows, or a virtual loopback device such as BlackHole
// on macOS). It is the only package that imports malgo (miniaudio).
//
// Each device is opened at its native rate as mono float32. The malgo data
// callback, which runs on the audio thread, only copies into a preallocated
// lock-free ring and counts what did not fit; it never blocks, logs or
// allocates. A goroutine owned by the Capture drains the rings, resamples to
// audio.PipelineRate with audio.Resample, cuts 20 ms frames and keeps them in
// a bounded queue per channel that the caller drains with Read. A device that
// stops delivering audio is reported and reopened until it comes back.
package capture
