package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/go-mysql-org/go-mysql/mysql"

	"github.com/mtreplica/mtreplica/internal/mariadbtest"
)

// engine is the mtreplica daemon, run as a child process so its memory can be measured on its own.
type engine struct {
	bin   string          // mtreplica binary
	flags map[string]bool // flags `mtreplica run` accepts, by name
	err   error           // why the daemon cannot be measured: every mtreplica run fails with it
}

// Flags of `mtreplica run` the harness passes when the daemon has them. Without the first three only the
// defaults of a daemon that has none of them can be measured (one worker, commit-order, commit order preserved);
// without --no-applier the relay log cannot be filled ahead of a run.
const (
	flagWorkers   = "workers"
	flagMode      = "dependency-tracking"
	flagPreserve  = "preserve-commit-order"
	flagNoApplier = "no-applier"
	flagGroup     = "group-transactions"
	flagRowApply  = "row-apply"
	flagPipeline  = "pipeline"
)

// defaultMT is what a daemon without the flags above does.
var defaultMT = mtConfig{mode: "commit-order", workers: 1, preserve: true}

// buildEngine builds ./cmd/mtreplica into work (unless bin is given) and asks it which flags `run` has.
func buildEngine(ctx context.Context, bin, work string) *engine {
	e := &engine{flags: map[string]bool{}}
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			e.err = err
			return e
		}
		bin = filepath.Join(work, "mtreplica")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/mtreplica")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			e.err = fmt.Errorf("go build ./cmd/mtreplica: %v\n%s", err, tail(string(out), 20))
			return e
		}
	}
	e.bin = bin
	out, _ := exec.CommandContext(ctx, bin, "run", "-h").CombinedOutput() // flag's usage; exit status 0 or 2
	e.flags = runFlagsOf(string(out))
	if !e.flags[flagNoApplier] {
		e.err = fmt.Errorf("%s: `mtreplica run` has no --%s, so its relay log cannot be filled before a run", bin, flagNoApplier)
	}
	return e
}

// runFlagsOf lists the flag names in a Go flag package usage text ("  -name type").
func runFlagsOf(usage string) map[string]bool {
	flags := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(usage))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "-") {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimLeft(line, "-"), " ")
		flags[name] = true
	}
	return flags
}

// unsupported says why the daemon cannot run mc, or "" if it can.
func (e *engine) unsupported(mc mtConfig) string {
	var missing []string
	if mc.workers != defaultMT.workers && !e.flags[flagWorkers] {
		missing = append(missing, "--"+flagWorkers)
	}
	if mc.mode != defaultMT.mode && !e.flags[flagMode] {
		missing = append(missing, "--"+flagMode)
	}
	if mc.preserve != defaultMT.preserve && !e.flags[flagPreserve] {
		missing = append(missing, "--"+flagPreserve)
	}
	if mc.group != 0 && !e.flags[flagGroup] {
		missing = append(missing, "--"+flagGroup)
	}
	if mc.pipeline && !e.flags[flagPipeline] { // a build without the flag does not pipeline
		missing = append(missing, "--"+flagPipeline)
	}
	if mc.rowApply != "" && !e.flags[flagRowApply] {
		missing = append(missing, "--"+flagRowApply)
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("mtreplica %s skipped: `mtreplica run` has no %s yet", mc, strings.Join(missing, ", "))
}

// runArgs is the daemon's command line for config mc.
func (e *engine) runArgs(src, dst *mariadbtest.Server, relayDir string, base gtidPos, mc mtConfig) []string {
	args := []string{"run",
		"--source", src.DSN(mariadbtest.ReplUser, mariadbtest.ReplPassword, ""),
		"--target", dst.RootDSN(),
		"--relay-dir", relayDir,
		"--start-gtid", base.String(),
		"--log-level", "warn",
	}
	if e.flags[flagWorkers] {
		args = append(args, "--"+flagWorkers+"="+strconv.Itoa(mc.workers))
	}
	if e.flags[flagMode] {
		args = append(args, "--"+flagMode+"="+mc.mode)
	}
	if e.flags[flagPreserve] {
		args = append(args, "--"+flagPreserve+"="+strconv.FormatBool(mc.preserve))
	}
	if mc.group != 0 {
		args = append(args, "--"+flagGroup+"="+strconv.Itoa(mc.group))
	}
	if mc.rowApply != "" {
		args = append(args, "--"+flagRowApply+"="+mc.rowApply)
	}
	if e.flags[flagPipeline] {
		args = append(args, "--"+flagPipeline+"="+strconv.FormatBool(mc.pipeline))
	}
	return args
}

// fillRelay fetches bl into a relay log directory once, with the receiver alone (`mtreplica run --no-applier`,
// START REPLICA IO_THREAD); every mtreplica run of the workload applies a copy of it. The daemon records its start
// position on mtreplica's target, which every run restores first.
func (b *bench) fillRelay(ctx context.Context, bl *backlog) error {
	e := b.eng
	if e.err != nil {
		return e.err
	}
	if err := restore(ctx, b.srv.mt, b.srv.targetSnap); err != nil {
		return err
	}
	dir := filepath.Join(b.work, "relay-"+bl.workload)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	logPath := filepath.Join(b.work, "logs", "receiver-"+bl.workload+".log")
	args := append(e.runArgs(b.srv.source, b.srv.mt, dir, b.srv.basePos, defaultMT), "--"+flagNoApplier)
	started := time.Now()
	b.prog.start("mtreplica receiver filling its relay log ("+bl.workload+")", bl.txns)
	p, err := startChild(e.bin, args, logPath)
	if err != nil {
		b.prog.finish()
		return err
	}
	defer p.stop()
	statusPath := filepath.Join(dir, "status.json")
	deadline := time.Now().Add(b.c.timeout)
	for {
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			b.prog.finish()
			return err
		}
		if p.exited() {
			b.prog.finish()
			return fmt.Errorf("mtreplica --%s exited (%v)\n%s", flagNoApplier, p.waitErr, fileTail(logPath, 20))
		}
		st, err := readStatus(statusPath) // rewritten every second
		if err == nil {
			if got, err := parseGTIDPos(st.RetrievedGtidSet); err == nil {
				b.prog.set(got.txnsSince(b.srv.basePos))
				if got.covers(bl.end) {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			b.prog.finish()
			return fmt.Errorf("relay log not filled after %v (log %s)", b.c.timeout, logPath)
		}
	}
	b.prog.finish()
	if err := p.stop(); err != nil {
		return fmt.Errorf("receiver: %w\n%s", err, fileTail(logPath, 20))
	}
	os.Remove(statusPath)
	bl.relay = dir
	b.prog.logf("mtreplica relay log filled for %s in %.1fs (%s)", bl.workload, time.Since(started).Seconds(), dirSize(dir))
	return nil
}

// runEngine times mtreplica applying the backlog bl with configuration mc:
//  1. mtreplica's target is restored to the initial data and a copy of the filled relay log is made;
//  2. the clock starts when the daemon is started (its receiver finds nothing new on the source);
//  3. it stops when the progress tables on the target say every transaction of the backlog is applied;
//  4. the daemon's peak RSS (VmHWM) is read, it is stopped with SIGTERM, and the target compared with the source.
func (b *bench) runEngine(ctx context.Context, bl *backlog, mc mtConfig, rep int) Result {
	res := b.newResult("catch-up", "mtreplica", mc.label(), mc.workers, mc.preserve, bl.workload, rep)
	res.Txns = bl.txns
	fail := func(err error) Result { return res.failed(err) }
	if b.eng.err != nil {
		return fail(b.eng.err)
	}
	if bl.relayErr != nil {
		return fail(fmt.Errorf("relay log not filled: %w", bl.relayErr))
	}
	dst := b.srv.mt
	if err := restore(ctx, dst, b.srv.targetSnap); err != nil {
		return fail(err)
	}
	relay := filepath.Join(b.work, "relay-run")
	if err := os.RemoveAll(relay); err != nil {
		return fail(err)
	}
	if err := copyTree(bl.relay, relay); err != nil {
		return fail(err)
	}
	c, err := dst.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer c.Close()

	logPath := filepath.Join(b.work, "logs", res.fileName()+".log")
	b.prog.start(res.label(), bl.txns)
	counts0, countsErr := readCommitCounts(ctx, dst)
	targetCPU0, cpuErr := processCPU(dst.PID)
	started := time.Now()
	p, err := startChild(b.eng.bin, b.eng.runArgs(b.srv.source, dst, relay, b.srv.basePos, mc), logPath)
	if err != nil {
		b.prog.finish()
		return fail(err)
	}
	defer p.stop()
	err = b.waitEngine(ctx, c, p, bl.end, logPath, func() {
		if res.FirstApplySeconds == 0 {
			res.FirstApplySeconds = time.Since(started).Seconds()
		}
	})
	el := time.Since(started)
	b.prog.finish()
	res.PeakRSSBytes = p.peakRSS()
	if err != nil {
		return fail(err)
	}
	if counts1, err := readCommitCounts(ctx, dst); err == nil && countsErr == nil {
		d := counts1.sub(counts0)
		res.TargetLogWrites, res.TargetCommits = d.LogWrites, d.Commits
	}
	if targetCPU1, err := processCPU(dst.PID); err == nil && cpuErr == nil {
		if replicaCPU, err := processCPU(p.cmd.Process.Pid); err == nil {
			res.TargetCPUSeconds, res.ReplicaCPUSeconds = (targetCPU1 - targetCPU0).Seconds(), replicaCPU.Seconds()
		}
	}
	if err := p.stop(); err != nil {
		return fail(fmt.Errorf("mtreplica: %w\n%s", err, fileTail(logPath, 20)))
	}
	return b.verify(ctx, res, dst, el)
}

// waitEngine polls the target's progress tables every pollInterval until they cover want. It fails when the
// daemon exits, or when the run's timeout passes.
// onFirst (may be nil) is called when the first applied transaction is seen.
func (b *bench) waitEngine(ctx context.Context, c *client.Conn, p *child, want gtidPos, logPath string, onFirst func()) error {
	deadline := time.Now().Add(b.c.timeout)
	for {
		applied, done, err := engineApplied(c, b.srv.basePos, want)
		if err != nil {
			return err
		}
		b.prog.set(applied)
		if applied > 0 && onFirst != nil {
			onFirst()
			onFirst = nil
		}
		if done {
			return nil
		}
		p.sampleRSS()
		if p.exited() {
			return fmt.Errorf("mtreplica exited before catching up (%v)\n%s", p.waitErr, fileTail(logPath, 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mtreplica applied %d transactions in %v, not all (log %s)", applied, b.c.timeout, logPath)
		}
		if err := sleepCtx(ctx, pollInterval); err != nil {
			return err
		}
	}
}

// engineApplied reads mtreplica's progress tables on the target (applier/progress.go: per channel and stream
// -- the MariaDB domain id -- a low-water seq below which everything is applied, and above it one row per run
// of consecutive transactions applied in one target transaction) and returns how many transactions after base are applied, and whether everything up to want
// is. One statement per domain, so it sees one consistent snapshot even while the engine prunes. A target
// without the tables yet has applied nothing.
func engineApplied(c *client.Conn, base, want gtidPos) (int64, bool, error) {
	var applied int64
	done := true
	for d, w := range want {
		lw := fmt.Sprintf("COALESCE((SELECT seq FROM mtreplica.low_water WHERE channel = '' AND stream = '%d'), 0)", d)
		// A row stands for first_seq..seq (first_seq NULL: seq alone): count the part of each above lw, up to want.
		row, err := queryMap(c, fmt.Sprintf("SELECT %[1]s AS lw, (SELECT COALESCE(SUM(LEAST(seq, %[3]d) - GREATEST(COALESCE(first_seq, seq), %[1]s + 1) + 1), 0) "+
			"FROM mtreplica.applied_transactions WHERE channel = '' AND stream = '%[2]d' AND state = 'applied' AND seq > %[1]s "+
			"AND COALESCE(first_seq, seq) <= %[3]d AND %[1]s < %[3]d) AS cnt", lw, d, w.seq))
		if err != nil {
			if missingTable(err) {
				return 0, false, nil
			}
			return 0, false, err
		}
		lwSeq, err1 := strconv.ParseUint(row["lw"], 10, 64)
		cnt, err2 := strconv.ParseUint(row["cnt"], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, false, fmt.Errorf("progress tables: unexpected row %v", row)
		}
		if b := base[d].seq; lwSeq > b {
			applied += int64(lwSeq - b)
		}
		applied += int64(cnt)
		if lwSeq+cnt < w.seq {
			done = false
		}
	}
	return applied, done, nil
}

func missingTable(err error) bool {
	var myErr *mysql.MyError
	return errors.As(err, &myErr) && (myErr.Code == 1146 || myErr.Code == 1049)
}

// steadyEngine measures mtreplica's lag under steady load: receiver and applier running from the start.
func (b *bench) steadyEngine(ctx context.Context, mc mtConfig) Result {
	res := b.newResult("steady", "mtreplica", mc.label(), mc.workers, mc.preserve, b.c.steadyWorkload, 1)
	fail := func(err error) Result { return res.failed(err) }
	if b.eng.err != nil {
		return fail(b.eng.err)
	}
	dst := b.srv.mt
	if err := b.resetSource(ctx); err != nil {
		return fail(err)
	}
	if err := restore(ctx, dst, b.srv.targetSnap); err != nil {
		return fail(err)
	}
	if err := b.warmBufferPools(ctx, b.srv.source, dst); err != nil {
		return fail(err)
	}
	relay := filepath.Join(b.work, "relay-steady")
	if err := os.RemoveAll(relay); err != nil {
		return fail(err)
	}
	c, err := dst.Conn(ctx)
	if err != nil {
		return fail(err)
	}
	defer c.Close()
	logPath := filepath.Join(b.work, "logs", res.fileName()+".log")
	p, err := startChild(b.eng.bin, b.eng.runArgs(b.srv.source, dst, relay, b.srv.basePos, mc), logPath)
	if err != nil {
		return fail(err)
	}
	defer p.stop()
	statusPath := filepath.Join(relay, "status.json")
	sample := func() replicaSample {
		p.sampleRSS()
		var rs replicaSample
		st, err := readStatus(statusPath)
		if err != nil {
			return rs
		}
		if st.SecondsBehindSource != nil {
			rs.lag, rs.lagOK = float64(*st.SecondsBehindSource), true
		}
		if p, err := parseGTIDPos(st.RetrievedGtidSet); err == nil && len(p) > 0 {
			rs.retrieved = p
		}
		return rs
	}
	// Steady state is measured with the replica already running (as the native one is right after START SLAVE),
	// not from the daemon's process start.
	if err := waitReplicaRunning(ctx, func() (bool, error) {
		st, err := readStatus(statusPath)
		if err != nil {
			return false, nil // not written yet
		}
		if st.LastIOError != "" || st.LastSQLError != "" {
			return false, fmt.Errorf("mtreplica: %s%s", st.LastIOError, st.LastSQLError)
		}
		return st.IORunning == "Yes" && st.SQLRunning == "Yes", nil
	}); err != nil {
		return fail(err)
	}
	sr, err := b.steadyLoad(ctx, res.label(), dst, sample)
	if err != nil {
		return fail(err)
	}
	if p.exited() {
		return fail(fmt.Errorf("mtreplica exited during the steady load (%v)\n%s", p.waitErr, fileTail(logPath, 20)))
	}
	res.applySteady(sr)
	drainStart := time.Now()
	b.prog.start(res.label()+": draining", sr.txns)
	err = b.waitEngine(ctx, c, p, sr.end, logPath, nil)
	b.prog.finish()
	res.PeakRSSBytes = p.peakRSS()
	if err != nil {
		return fail(err)
	}
	res.DrainSeconds = time.Since(drainStart).Seconds()
	if err := p.stop(); err != nil {
		return fail(fmt.Errorf("mtreplica: %w\n%s", err, fileTail(logPath, 20)))
	}
	return b.verify(ctx, res, dst, b.c.steady)
}

// engineStatus is the part of the daemon's status.json the harness reads (names as in SHOW REPLICA STATUS).
type engineStatus struct {
	IORunning           string `json:"Replica_IO_Running"`
	SQLRunning          string `json:"Replica_SQL_Running"`
	RetrievedGtidSet    string `json:"Retrieved_Gtid_Set"`
	ExecutedGtidSet     string `json:"Executed_Gtid_Set"`
	SecondsBehindSource *int64 `json:"Seconds_Behind_Source"`
	LastSQLError        string `json:"Last_SQL_Error"`
	LastIOError         string `json:"Last_IO_Error"`
}

func readStatus(path string) (engineStatus, error) {
	var st engineStatus
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// moduleRoot finds the directory of mtreplica's go.mod, from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/mtreplica/mtreplica\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run the harness from the mtreplica checkout (go run ./bench): go.mod not found")
		}
		dir = parent
	}
}

func fileTail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail(string(b), lines)
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// dirSize prints the total size of the regular files under dir.
func dirSize(dir string) string {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return fmtBytes(n)
}
