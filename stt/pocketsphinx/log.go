package pocketsphinx

/*
#include <stdlib.h>
void earshot_install_log(void);
*/
import "C"

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
)

// libLogger receives PocketSphinx's messages. The library's log sink is
// process-wide, so the logger of the most recently created decoder wins;
// nil drops everything.
var libLogger atomic.Pointer[slog.Logger]

var installLog sync.Once

// routeLibraryLog replaces PocketSphinx's stderr logging with l (at Debug).
func routeLibraryLog(l *slog.Logger) {
	if l != nil {
		libLogger.Store(l)
	}
	installLog.Do(func() { C.earshot_install_log() })
}

//export earshotLog
func earshotLog(level C.int, msg *C.char) {
	l := libLogger.Load()
	if l == nil || !l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s := strings.TrimSpace(C.GoString(msg))
	if s == "" {
		return
	}
	l.Debug("pocketsphinx", "level", int(level), "msg", s)
}
