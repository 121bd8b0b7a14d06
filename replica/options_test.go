package replica

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mtreplica/mtreplica/internal/gtid"
)

func validOptions() Options {
	return Options{Flavor: gtid.MariaDB, Host: "127.0.0.1", User: "repl", Password: "secret"}
}

func TestOptionsDefaults(t *testing.T) {
	o := validOptions().withDefaults(rand.New(rand.NewPCG(1, 2)))
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	if o.Port != 3306 || o.HeartbeatPeriod != 5*time.Second || o.ReadTimeout != 10*time.Second ||
		o.ConnectRetry != time.Second || o.MaxConnectRetry != time.Minute {
		t.Errorf("defaults: %+v", o)
	}
	if o.ServerID < 1<<31 || o.ServerID == 1<<32-1 {
		t.Errorf("random server id %d not in [2^31, 2^32-1)", o.ServerID)
	}
	o2 := Options{HeartbeatPeriod: time.Second}.withDefaults(rand.New(rand.NewPCG(1, 2)))
	if o2.ReadTimeout != 2*time.Second {
		t.Errorf("read timeout %v, want 2x heartbeat", o2.ReadTimeout)
	}
	if s := fmt.Sprintf("%v %+v %#v", o, o, o); strings.Contains(s, "secret") {
		t.Errorf("formatted options show the password: %s", s)
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"no flavor", func(o *Options) { o.Flavor = 0 }, "flavor"},
		{"no host", func(o *Options) { o.Host = "" }, "host"},
		{"no user", func(o *Options) { o.User = "" }, "user"},
		{"timeout below heartbeat", func(o *Options) { o.HeartbeatPeriod, o.ReadTimeout = 2*time.Second, time.Second }, "read timeout"},
		{"max retry below retry", func(o *Options) { o.ConnectRetry, o.MaxConnectRetry = time.Minute, time.Second }, "connect retry"},
		{"negative reconnects", func(o *Options) { o.MaxReconnects = -1 }, "max reconnects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOptions()
			tt.mod(&o)
			_, err := New(o, newFakeRelay())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
	if _, err := New(validOptions(), nil); err == nil {
		t.Error("New with a nil relay log: no error")
	}
}

func TestOptionsLogValueHidesPassword(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "opts", validOptions())
	if strings.Contains(buf.String(), "secret") || !strings.Contains(buf.String(), "repl") {
		t.Errorf("logged options: %s", buf.String())
	}
}

func TestBackoff(t *testing.T) {
	base, ceil := time.Second, 60*time.Second
	tests := []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0.5, time.Second},
		{1, 0, 800 * time.Millisecond},
		{2, 0.5, 2 * time.Second},
		{3, 0.5, 4 * time.Second},
		{6, 0.5, 32 * time.Second},
		{7, 0.5, 60 * time.Second},
		{7, 0.99, 60 * time.Second}, // jitter never exceeds the ceiling
		{7, 0, 48 * time.Second},
		{1000, 0.5, 60 * time.Second},
	}
	for _, tt := range tests {
		if got := backoff(base, ceil, tt.n, tt.u); got != tt.want {
			t.Errorf("backoff(n=%d, u=%v) = %v, want %v", tt.n, tt.u, got, tt.want)
		}
	}
}

func TestStartPositionString(t *testing.T) {
	s, _ := gtid.ParseSet(gtid.MariaDB, "0-1-5,2-3-9")
	for _, tt := range []struct {
		p    StartPosition
		want string
	}{
		{StartPosition{}, "first binlog file"},
		{StartPosition{File: "b.000002"}, "b.000002:4"},
		{StartPosition{File: "b.000002", Pos: 1000}, "b.000002:1000"},
		{StartPosition{GTIDs: s}, "gtid 0-1-5,2-3-9"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.p, got, tt.want)
		}
	}
}
