package admin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/mtreplica/mtreplica"
)

// fakeReplica records the calls it gets.
type fakeReplica struct {
	mu    sync.Mutex
	calls []string
	delay time.Duration
}

func (f *fakeReplica) note(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return nil
}

func (f *fakeReplica) Status() mtreplica.Status {
	return mtreplica.Status{ReplicaIORunning: "Yes", SourceHost: "127.0.0.1", SourceUser: "repl"}
}
func (f *fakeReplica) StartReceiver() error                   { return f.note("start io") }
func (f *fakeReplica) StopReceiver(ctx context.Context) error { return f.note("stop io") }
func (f *fakeReplica) StartApplier(u mtreplica.Until) error {
	return f.note("start sql " + u.GTIDs + u.SourceLogFile)
}
func (f *fakeReplica) StopApplier(ctx context.Context) error { return f.note("stop sql") }
func (f *fakeReplica) Skip(ctx context.Context, g string) error {
	if g == "0-1-1" {
		return mtreplica.ErrAlreadyExecuted
	}
	return f.note("skip " + g)
}
func (f *fakeReplica) SetDelay(d time.Duration)        { f.delay = d; f.note("delay") }
func (f *fakeReplica) Reset(ctx context.Context) error { return f.note("reset") }

func TestServerAuthAndRoutes(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "mtreplica_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	f := &fakeReplica{}
	srv := httptest.NewServer(New(f, Options{Addr: "127.0.0.1:0", Token: "s3cret", Gatherer: reg}).Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	// Reads are open on loopback.
	st, raw, err := (&Client{Addr: addr}).Status(ctx)
	if err != nil || st.SourceHost != "127.0.0.1" || !strings.Contains(string(raw), `"Replica_IO_Running": "Yes"`) {
		t.Fatalf("status: %v %+v %s", err, st, raw)
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil || fams["mtreplica_test_total"].GetMetric()[0].GetCounter().GetValue() != 3 {
		t.Fatalf("metrics: %v %v", err, fams)
	}

	// Control without or with a wrong token: 401, nothing done.
	for _, tok := range []string{"", "wrong", "S3CRET", "s3cret2"} {
		_, err := (&Client{Addr: addr, Token: tok}).Control(ctx, "stop", nil)
		var se *StatusError
		if !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
			t.Errorf("token %q: got %v, want 401", tok, err)
		}
	}
	if len(f.calls) != 0 {
		t.Fatalf("refused calls reached the replica: %v", f.calls)
	}

	ok := &Client{Addr: addr, Token: "s3cret"}
	for _, call := range []struct {
		action string
		params url.Values
	}{
		{"stop", url.Values{"thread": {"sql"}}},
		{"start", url.Values{"thread": {"sql"}, "until_gtids": {"0-1-5"}}},
		{"start", url.Values{"thread": {"io"}}},
		{"skip", url.Values{"gtid": {"0-1-9"}}},
		{"delay", url.Values{"seconds": {"2.5"}}},
		{"reset", nil},
	} {
		if _, err := ok.Control(ctx, call.action, call.params); err != nil {
			t.Fatalf("%s %v: %v", call.action, call.params, err)
		}
	}
	want := "stop sql|start sql 0-1-5|start io|skip 0-1-9|delay|reset"
	if got := strings.Join(f.calls, "|"); got != want || f.delay != 2500*time.Millisecond {
		t.Fatalf("calls %q delay %v, want %q 2.5s", got, f.delay, want)
	}
	var se *StatusError
	if _, err := ok.Control(ctx, "skip", url.Values{"gtid": {"0-1-1"}}); !errors.As(err, &se) || se.Code != http.StatusConflict {
		t.Errorf("skip of an executed GTID: %v, want 409", err)
	}
	if _, err := ok.Control(ctx, "start", url.Values{"thread": {"bogus"}}); !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Errorf("bad thread: %v, want 400", err)
	}
	if _, err := ok.Control(ctx, "delay", url.Values{"seconds": {"-1"}}); !errors.As(err, &se) || se.Code != http.StatusBadRequest {
		t.Errorf("negative delay: %v, want 400", err)
	}
}

// Without a token, control is disabled; off loopback, reads need the token.
func TestServerNoTokenAndRemoteReads(t *testing.T) {
	f := &fakeReplica{}
	srv := httptest.NewServer(New(f, Options{Addr: "0.0.0.0:8406"}).Handler())
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	var se *StatusError
	if _, err := (&Client{Addr: addr, Token: "x"}).Control(context.Background(), "reset", nil); !errors.As(err, &se) || se.Code != http.StatusForbidden {
		t.Errorf("control without a configured token: %v, want 403", err)
	}
	if _, _, err := (&Client{Addr: addr}).Status(context.Background()); !errors.As(err, &se) || se.Code != http.StatusUnauthorized {
		t.Errorf("status on a non-loopback server without token: %v, want 401", err)
	}
	if len(f.calls) != 0 {
		t.Fatalf("calls: %v", f.calls)
	}
}
