package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mtreplica/mtreplica"
)

// DefaultAddr is where mtreplica run serves by default: loopback only.
const DefaultAddr = "127.0.0.1:8406"

// Replica is what the server controls; *mtreplica.Replica implements it.
type Replica interface {
	Status() mtreplica.Status
	StartReceiver() error
	StopReceiver(ctx context.Context) error
	StartApplier(until mtreplica.Until) error
	StopApplier(ctx context.Context) error
	Skip(ctx context.Context, gtid string) error
	SetDelay(d time.Duration)
	Reset(ctx context.Context) error
}

var _ Replica = (*mtreplica.Replica)(nil)

// Options configure a Server.
type Options struct {
	// Addr to listen on (default DefaultAddr). A non-loopback address makes
	// the read-only endpoints need the token too.
	Addr string
	// Token authorises control calls ("Authorization: Bearer Token"). Empty:
	// control calls are refused.
	Token string
	// Gatherer serves /metrics; nil: /metrics answers 404.
	Gatherer prometheus.Gatherer
	// StopTimeout bounds how long a stop or reset call waits (default 1 minute).
	StopTimeout time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Server is the admin HTTP endpoint of one replica.
type Server struct {
	r        Replica
	opts     Options
	ln       net.Listener
	srv      *http.Server
	openRead bool
}

// Listen opens the listening socket; Serve serves it.
func Listen(r Replica, opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("admin endpoint: %w", err)
	}
	s := New(r, opts)
	s.ln = ln
	s.openRead = isLoopback(ln.Addr())
	return s, nil
}

// New returns a Server without a socket, for Handler (tests, or a program
// that mounts it in its own HTTP server; reads are then open only with
// loopback in Options.Addr).
func New(r Replica, opts Options) *Server {
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{r: r, opts: opts}
	if host, _, err := net.SplitHostPort(opts.Addr); err == nil {
		ip := net.ParseIP(host)
		s.openRead = host == "localhost" || (ip != nil && ip.IsLoopback())
	}
	s.srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return s
}

func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// Addr returns the address listened on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return s.opts.Addr
	}
	return s.ln.Addr().String()
}

// Serve serves until Close; it returns nil after Close.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin endpoint: %w", err)
	}
	return nil
}

// Close stops the server, letting calls in flight finish for up to 5 s.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// Handler returns the server's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /status", s.read(http.HandlerFunc(s.status)))
	if s.opts.Gatherer != nil {
		mux.Handle("GET /metrics", s.read(promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{})))
	}
	mux.Handle("POST /start", s.control(s.start))
	mux.Handle("POST /stop", s.control(s.stop))
	mux.Handle("POST /skip", s.control(s.skip))
	mux.Handle("POST /delay", s.control(s.delay))
	mux.Handle("POST /reset", s.control(s.reset))
	return mux
}

// authorized checks the bearer token in constant time.
func (s *Server) authorized(req *http.Request) bool {
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	return ok && s.opts.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) == 1
}

func (s *Server) read(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !s.openRead && !s.authorized(req) {
			unauthorized(w)
			return
		}
		h.ServeHTTP(w, req)
	})
}

func (s *Server) control(fn func(req *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if s.opts.Token == "" {
			writeError(w, http.StatusForbidden, errors.New("control calls are disabled: start mtreplica with an admin token (--admin-token-file or MTREPLICA_ADMIN_TOKEN)"))
			return
		}
		if !s.authorized(req) {
			s.opts.Logger.Warn("admin: control call refused: missing or wrong token", "path", req.URL.Path, "remote", req.RemoteAddr)
			unauthorized(w)
			return
		}
		if err := fn(req); err != nil {
			s.opts.Logger.Warn("admin: control call failed", "path", req.URL.Path, "err", err)
			writeError(w, httpCode(err), err)
			return
		}
		s.opts.Logger.Info("admin: control call", "path", req.URL.Path, "query", req.Form.Encode(), "remote", req.RemoteAddr)
		writeJSON(w, http.StatusOK, s.r.Status())
	})
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="mtreplica"`)
	writeError(w, http.StatusUnauthorized, errors.New("missing or wrong admin token"))
}

// badRequest marks an error in the call's parameters.
type badRequest struct{ error }

func httpCode(err error) int {
	var br badRequest
	switch {
	case errors.As(err, &br):
		return http.StatusBadRequest
	case errors.Is(err, mtreplica.ErrNotRunning):
		return http.StatusServiceUnavailable
	case errors.Is(err, mtreplica.ErrApplierRunning), errors.Is(err, mtreplica.ErrAlreadyExecuted):
		return http.StatusConflict
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.r.Status())
}

// threads parses thread=io|sql|all.
func threads(req *http.Request) (io, sql bool, err error) {
	switch t := req.FormValue("thread"); t {
	case "", "all":
		return true, true, nil
	case "io", "receiver":
		return true, false, nil
	case "sql", "applier":
		return false, true, nil
	default:
		return false, false, badRequest{fmt.Errorf("thread=%q: use io, sql or all", t)}
	}
}

func (s *Server) start(req *http.Request) error {
	io, sql, err := threads(req)
	if err != nil {
		return err
	}
	var u mtreplica.Until
	u.GTIDs = req.FormValue("until_gtids")
	u.SourceLogFile = req.FormValue("until_file")
	if p := req.FormValue("until_pos"); p != "" {
		n, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return badRequest{fmt.Errorf("until_pos=%q: %w", p, err)}
		}
		u.SourceLogPos = uint32(n)
	}
	if !u.IsZero() && !sql {
		return badRequest{errors.New("an until condition is for the applier: use thread=sql or all")}
	}
	if sql {
		if err := s.r.StartApplier(u); err != nil {
			if errors.Is(err, mtreplica.ErrNotRunning) {
				return err
			}
			return badRequest{err}
		}
	}
	if io {
		return s.r.StartReceiver()
	}
	return nil
}

func (s *Server) stop(req *http.Request) error {
	io, sql, err := threads(req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(req.Context(), s.opts.StopTimeout)
	defer cancel()
	if io {
		if err := s.r.StopReceiver(ctx); err != nil {
			return err
		}
	}
	if sql {
		return s.r.StopApplier(ctx)
	}
	return nil
}

func (s *Server) skip(req *http.Request) error {
	g := req.FormValue("gtid")
	if g == "" {
		return badRequest{errors.New("give gtid=GTID")}
	}
	return s.r.Skip(req.Context(), g)
}

func (s *Server) delay(req *http.Request) error {
	v := req.FormValue("seconds")
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 || n > 68*365*24*3600 {
		return badRequest{fmt.Errorf("seconds=%q: give a number of seconds, 0 or more", v)}
	}
	s.r.SetDelay(time.Duration(n * float64(time.Second)))
	return nil
}

func (s *Server) reset(req *http.Request) error {
	ctx, cancel := context.WithTimeout(req.Context(), s.opts.StopTimeout)
	defer cancel()
	return s.r.Reset(ctx)
}
