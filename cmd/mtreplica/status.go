package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/mtreplica/mtreplica"
)

func cmdStatus(args []string) error {
	fs := flag.NewFlagSet("status", flag.ExitOnError)
	relayDir := fs.String("relay-dir", "", "the daemon's relay log directory")
	file := fs.String("status-file", "", "status file (default RELAY_DIR/status.json)")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	path := *file
	if path == "" {
		if *relayDir == "" {
			return fmt.Errorf("status: give --relay-dir (or --status-file)")
		}
		path = filepath.Join(*relayDir, "status.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("status: %w (is `mtreplica run` running with this relay directory?)", err)
	}
	if *asJSON {
		os.Stdout.Write(b)
		return nil
	}
	var s mtreplica.Status
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("status file %s: %w", path, err)
	}
	printStatus(s)
	return nil
}

// printStatus prints like SHOW REPLICA STATUS\G.
func printStatus(s mtreplica.Status) {
	fmt.Println("*************************** 1. row ***************************")
	v := reflect.ValueOf(s)
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		name := t.Field(i).Tag.Get("json")
		if j := indexComma(name); j >= 0 {
			name = name[:j]
		}
		f := v.Field(i)
		var val any = f.Interface()
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				val = "NULL"
			} else {
				val = f.Elem().Interface()
			}
		}
		if tm, ok := val.(time.Time); ok {
			val = tm.Format(time.RFC3339)
		}
		fmt.Printf("%28s: %v\n", name, val)
	}
}

func indexComma(s string) int {
	for i := range s {
		if s[i] == ',' {
			return i
		}
	}
	return -1
}
