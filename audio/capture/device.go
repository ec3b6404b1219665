package capture

import (
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/gen2brain/malgo"
)

// Kind says what a Device records.
type Kind int

// The kinds of Device.
const (
	// Microphone is an ordinary capture device (microphone, headset, line in).
	Microphone Kind = iota
	// Monitor is a PulseAudio monitor source: what a playback device plays.
	// On Linux the caller's side of a softphone call is recorded from the
	// monitor of the device the softphone plays to.
	Monitor
	// Loopback is a playback device recorded through malgo's loopback mode
	// (WASAPI on Windows only). Its ID starts with "loopback:".
	Loopback
)

// String returns the kind's name as `earshot-capture devices` prints it.
func (k Kind) String() string {
	switch k {
	case Microphone:
		return "capture"
	case Monitor:
		return "monitor"
	case Loopback:
		return "loopback"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Device is one audio source a Capture can record.
type Device struct {
	// ID is the backend's identifier as text: the PulseAudio source name
	// (for example "alsa_output.pci-0000_00_1f.3.analog-stereo.monitor"),
	// the ALSA device ("hw:0,0"), the WASAPI endpoint id, or a hex string
	// for backends whose ids are binary. It is stable across restarts,
	// which makes it the best thing to put in a configuration file.
	ID string
	// Name is the human-readable description.
	Name string
	// Kind says whether this is a microphone, a monitor or a loopback.
	Kind Kind
	// Default is true for the backend's default capture device.
	Default bool

	id malgo.DeviceID
}

// DeviceDefault, as a device name, picks the backend's default capture
// device (usually the agent's headset microphone).
const DeviceDefault = "default"

// DeviceLoopback, as a device name, records the default playback device
// through malgo's loopback mode. "loopback:NAME" records the playback
// device NAME. Only the WASAPI backend (Windows) supports loopback.
const DeviceLoopback = "loopback"

// idString renders a malgo device id as text. Most backends store a
// NUL-terminated string (PulseAudio and ALSA names, Core Audio UIDs);
// WASAPI stores a NUL-terminated UTF-16 string; anything else is shown as
// hex so it still round-trips through a configuration file.
func idString(id malgo.DeviceID) string {
	b := id[:]
	if n := strings.IndexByte(string(b), 0); n > 1 && printable(b[:n]) {
		return string(b[:n])
	}
	if len(b) >= 4 && b[1] == 0 && b[0] != 0 {
		var u []uint16
		for i := 0; i+1 < len(b); i += 2 {
			c := uint16(b[i]) | uint16(b[i+1])<<8
			if c == 0 {
				break
			}
			u = append(u, c)
		}
		s := string(utf16.Decode(u))
		if printable([]byte(s)) {
			return s
		}
	}
	return id.String()
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// ListDevices returns every capture device the default audio backend
// offers, PulseAudio monitor sources included, and on WASAPI every playback
// device as a Loopback device. It opens and closes its own malgo context;
// an error wraps ErrBackend.
func ListDevices() ([]Device, error) {
	return ListDevicesOf("")
}

// ListDevicesOf is ListDevices for a named backend ("" for the default
// order; see Config.Backend).
func ListDevicesOf(backend string) ([]Device, error) {
	mctx, err := newContext(backend)
	if err != nil {
		return nil, err
	}
	defer freeContext(mctx)
	return listDevices(mctx)
}

func listDevices(mctx *audioContext) ([]Device, error) {
	infos, err := mctx.Devices(malgo.Capture)
	if err != nil {
		return nil, fmt.Errorf("%w: listing capture devices: %v", ErrBackend, err)
	}
	var out []Device
	for _, in := range infos {
		d := Device{ID: idString(in.ID), Name: in.Name(), Default: in.IsDefault != 0, id: in.ID}
		if strings.HasSuffix(d.ID, ".monitor") || strings.HasPrefix(d.Name, "Monitor of ") {
			d.Kind = Monitor
		}
		out = append(out, d)
	}
	if mctx.loopback {
		play, err := mctx.Devices(malgo.Playback)
		if err == nil {
			for _, in := range play {
				out = append(out, Device{ID: DeviceLoopback + ":" + idString(in.ID), Name: in.Name(), Kind: Loopback,
					Default: in.IsDefault != 0, id: in.ID})
			}
		}
	}
	return out, nil
}

// resolve finds the device spec names: DeviceDefault or "" (nil: the
// backend's default), an exact ID, an exact name, or a case-insensitive
// fragment of exactly one name. DeviceLoopback[:NAME] picks a playback
// device for loopback recording.
func resolve(mctx *audioContext, spec string) (dev *Device, loopback bool, err error) {
	if spec == "" || spec == DeviceDefault {
		return nil, false, nil
	}
	kind := malgo.Capture
	want := spec
	if spec == DeviceLoopback || strings.HasPrefix(spec, DeviceLoopback+":") {
		kind, loopback = malgo.Playback, true
		want = strings.TrimPrefix(strings.TrimPrefix(spec, DeviceLoopback), ":")
		if want == "" {
			return nil, true, nil
		}
	}
	infos, err := mctx.Devices(kind)
	if err != nil {
		return nil, loopback, fmt.Errorf("%w: listing devices: %v", ErrBackend, err)
	}
	devs := make([]Device, len(infos))
	for i, in := range infos {
		devs[i] = Device{ID: idString(in.ID), Name: in.Name(), Default: in.IsDefault != 0, id: in.ID}
	}
	for i := range devs {
		if devs[i].ID == want {
			return &devs[i], loopback, nil
		}
	}
	for i := range devs {
		if devs[i].Name == want {
			return &devs[i], loopback, nil
		}
	}
	var hits []int
	for i := range devs {
		if strings.Contains(strings.ToLower(devs[i].Name), strings.ToLower(want)) ||
			strings.Contains(strings.ToLower(devs[i].ID), strings.ToLower(want)) {
			hits = append(hits, i)
		}
	}
	switch len(hits) {
	case 1:
		return &devs[hits[0]], loopback, nil
	case 0:
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = d.ID
		}
		return nil, loopback, fmt.Errorf("%w: %q (available: %s; run `earshot-capture devices`)", ErrNoDevice, spec, strings.Join(names, ", "))
	default:
		var names []string
		for _, i := range hits {
			names = append(names, fmt.Sprintf("%q", devs[i].ID))
		}
		return nil, loopback, fmt.Errorf("%w: %q matches %s", ErrAmbiguousDevice, spec, strings.Join(names, ", "))
	}
}
