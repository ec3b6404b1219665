package demo

import "errors"

// ErrConfig means a Config value is out of range.
var ErrConfig = errors.New("demo: bad configuration")
