package protocol

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestChannelIsNamedInJSON(t *testing.T) {
	tests := []struct {
		ch   Channel
		json string
	}{
		{ChannelAgent, `"agent"`},
		{ChannelCaller, `"caller"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.ch)
		if err != nil || string(b) != tt.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tt.ch, b, err, tt.json)
		}
		var back Channel = 7
		if err := json.Unmarshal(b, &back); err != nil || back != tt.ch {
			t.Errorf("Unmarshal(%s) = %v, %v", b, back, err)
		}
		if tt.ch.Other().Other() != tt.ch || tt.ch.Other() == tt.ch {
			t.Errorf("%v.Other() = %v", tt.ch, tt.ch.Other())
		}
	}
	for _, bad := range []string{`""`, `"supervisor"`, `"Agent"`, `0`, `"0"`} {
		var ch Channel
		if err := json.Unmarshal([]byte(bad), &ch); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, ch)
		} else if bad[0] == '"' && !errors.Is(err, ErrProtocol) {
			t.Errorf("Unmarshal(%s): %v, want ErrProtocol", bad, err)
		}
	}
	if _, err := json.Marshal(Channel(2)); err == nil {
		t.Error("channel 2 marshalled")
	}
}
