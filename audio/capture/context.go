package capture

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/gen2brain/malgo"
)

// backends maps Config.Backend names to malgo's.
var backends = map[string]malgo.Backend{
	"wasapi":     malgo.BackendWasapi,
	"dsound":     malgo.BackendDsound,
	"winmm":      malgo.BackendWinmm,
	"coreaudio":  malgo.BackendCoreaudio,
	"pulseaudio": malgo.BackendPulseaudio,
	"alsa":       malgo.BackendAlsa,
	"jack":       malgo.BackendJack,
	"null":       malgo.BackendNull,
}

// audioContext is a malgo context and what we know about its backend.
type audioContext struct {
	*malgo.AllocatedContext
	// loopback is true where malgo's loopback device type works: WASAPI,
	// which is the first backend tried on Windows.
	loopback bool
}

// newContext initialises a malgo context for backend ("" tries miniaudio's
// default order: WASAPI on Windows, Core Audio on macOS, PulseAudio then
// ALSA on Linux). The caller frees it with freeContext.
func newContext(backend string) (*audioContext, error) {
	var list []malgo.Backend
	if backend != "" {
		b, ok := backends[strings.ToLower(backend)]
		if !ok {
			return nil, fmt.Errorf("%w: unknown backend %q (want one of wasapi, coreaudio, pulseaudio, alsa, jack, null)", ErrBackend, backend)
		}
		list = []malgo.Backend{b}
	}
	// PulseAudio autospawn stays off (the zero config): a daemon that is
	// not running is an error to report, not something to start behind
	// the desktop's back.
	mctx, err := malgo.InitContext(list, malgo.ContextConfig{}, nil)
	if err != nil {
		name := backend
		if name == "" {
			name = "default backends"
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrBackend, name, err)
	}
	lb := runtime.GOOS == "windows" && (backend == "" || strings.EqualFold(backend, "wasapi"))
	return &audioContext{AllocatedContext: mctx, loopback: lb}, nil
}

// freeContext releases a context; every device made from it must already
// be uninitialised.
func freeContext(c *audioContext) {
	if c == nil || c.AllocatedContext == nil {
		return
	}
	_ = c.Uninit()
	c.Free()
	c.AllocatedContext = nil
}
