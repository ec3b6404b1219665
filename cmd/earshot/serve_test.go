package main

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseRetention(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90d", 90 * 24 * time.Hour, ""},
		{"720h", 720 * time.Hour, ""},
		{"3650d", 3650 * 24 * time.Hour, ""},
		{"100000d", 0, "at most 3650d"},
		{"1000000h", 0, "at most 3650d"},
		{"0d", 0, "positive"},
		{"soon", 0, "want a duration"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseRetention(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestClusterFlagsThatDoNotGoTogetherAreNamed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"one node with no flags", nil, ""},
		{"a cluster node", []string{"--cluster-listen", "10.0.0.1:6222", "--cluster-peers", "10.0.0.2:6222,10.0.0.3:6222"}, ""},
		{"an external NATS with cluster flags", []string{"--nats", "nats://x:4222", "--cluster-listen", "10.0.0.1:6222"}, "--nats"},
		{"peers without a listen address", []string{"--cluster-peers", "10.0.0.2:6222"}, "--cluster-listen"},
		{"an advertised URL that is not one", []string{"--advertise", "node1:8470"}, "--advertise"},
		{"negative replicas", []string{"--replicas", "-1"}, "--replicas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("serve", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			cf := addClusterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			cc, err := cf.config()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || cc == nil {
				t.Fatalf("got %+v, %v", cc, err)
			}
		})
	}
}
