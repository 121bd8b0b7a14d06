package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/mtreplica/mtreplica"
	"github.com/mtreplica/mtreplica/admin"
)

func cmdStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	var adm adminFlags
	adm.register(fs, false)
	file := fs.String("status-file", "", "status file, read when the admin endpoint does not answer (default RELAY_DIR/status.json)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	// The admin endpoint first: its status is current to the call.
	var s mtreplica.Status
	var b []byte
	var c *admin.Client
	aerr := errors.New("--status-file given")
	if *file == "" || adm.explicit() {
		c, aerr = adm.client()
	}
	if aerr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		s, b, aerr = c.Status(ctx)
		if aerr != nil {
			aerr = fmt.Errorf("the admin endpoint at %s: %w", c.Addr, aerr)
		}
	}
	if aerr != nil {
		var err error
		path := *file
		if path == "" && adm.relayDir != "" {
			path = filepath.Join(adm.relayDir, "status.json")
		}
		if path == "" {
			return fmt.Errorf("status: %w; give --relay-dir (or --status-file) to read the daemon's status file instead", aerr)
		}
		if b, err = os.ReadFile(path); err != nil {
			return fmt.Errorf("status: %v; status file: %w (is `mtreplica run` running with this relay directory?)", aerr, err)
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("status file %s: %w", path, err)
		}
	}
	if *asJSON {
		os.Stdout.Write(b)
		return nil
	}
	printStatus(s)
	return nil
}

// printStatus prints like SHOW REPLICA STATUS\G, then the workers like
// SELECT * FROM performance_schema.replication_applier_status_by_worker\G.
func printStatus(s mtreplica.Status) {
	fmt.Println("*************************** 1. row ***************************")
	printRow(reflect.ValueOf(s), 28)
	for i, w := range s.Workers {
		fmt.Printf("*************************** worker %d ***************************\n", i+1)
		printRow(reflect.ValueOf(w), 28)
	}
}

func printRow(v reflect.Value, width int) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if !t.Field(i).IsExported() {
			continue
		}
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		f := v.Field(i)
		if f.Kind() == reflect.Slice && f.Type().Elem().Kind() == reflect.Struct {
			continue // printed as rows of their own
		}
		var val any = f.Interface()
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				val = "NULL"
			} else {
				val = f.Elem().Interface()
			}
		}
		switch x := val.(type) {
		case time.Time:
			val = x.Format(time.RFC3339)
		case time.Duration:
			val = x.Nanoseconds()
		}
		fmt.Printf("%*s: %v\n", width, name, val)
	}
}
