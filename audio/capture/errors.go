package capture

import "errors"

// Sentinel errors. Errors returned by the package wrap them with the device
// or backend concerned, so callers test with errors.Is and print the whole
// message.
var (
	// ErrNoDevice means no capture device matches the id or name given.
	ErrNoDevice = errors.New("no such capture device")
	// ErrAmbiguousDevice means a name fragment matches more than one device.
	ErrAmbiguousDevice = errors.New("device name matches more than one device")
	// ErrBackend means no audio backend could be initialised (no sound
	// server, no sound card, or the requested backend is not compiled in).
	ErrBackend = errors.New("audio backend unavailable")
	// ErrDevice means a device was found but could not be opened or started.
	ErrDevice = errors.New("cannot open capture device")
	// ErrClosed means Read was called on, or unblocked by, a closed Capture.
	ErrClosed = errors.New("capture closed")
	// ErrChannel means a channel index other than Agent (0) or Caller (1).
	ErrChannel = errors.New("channel out of range")
)
