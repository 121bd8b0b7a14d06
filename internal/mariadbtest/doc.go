// Package mariadbtest starts throwaway MariaDB servers (mariadbd) on loopback for tests, the demo and the
// benchmark harness.
//
// # Speed
//
// mariadb-install-db runs once per mariadbd build: its output is kept as a template datadir in
// os.TempDir()/mtreplica-mariadb-template-<key>, where key hashes the mariadbd path, its --version output and the
// template recipe (a template from another server build is never reused). The template is built in a temporary
// sibling and renamed into place, under a lock file, so concurrent test binaries build it once and never see a
// partial one. Each server then copies the template (about 65 MB, mostly the redo log, copied in the kernel) and
// starts mariadbd on it: about 0.3-0.5 s to the first query. The accounts are created inside the template
// (mariadb-install-db --extra-file), so a new server's binlog is empty: @@gtid_binlog_pos is "".
//
// # Layout
//
// Every server owns one directory, os.TempDir()/mtreplica-mariadb-srv-*:
//
//	data/           datadir: InnoDB files, binlog mysql-bin.NNNNNN and mysql-bin.index, relay log relay-bin.*
//	tmp/            tmpdir
//	mariadbd.sock   unix socket (root@localhost, no password)
//	mariadbd.pid    pid file
//	error.log       log_error, plus anything mariadbd printed before opening it
//	owner           pid of the process that started the server
//	keep            present when Options.KeepDir is set
//
// # Server configuration
//
// mariadbd runs with --no-defaults (nothing from /etc/mysql), --user=root when running as root, bound to
// 127.0.0.1 on a free port, skip-name-resolve, a unique server_id (Options.ServerID, or allocated from the pid and
// a counter so parallel test binaries do not clash), gtid_domain_id=Options.DomainID, gtid_strict_mode=ON,
// log_bin (unless NoBinlog) with binlog_format=ROW, binlog_row_image=FULL and binlog_row_metadata=FULL,
// character_set_server=utf8mb4, max_connections=300, max_allowed_packet=1G, a 64M buffer pool and a 48M redo log.
// Relaxed durability (the default) is innodb_flush_log_at_trx_commit=2 and sync_binlog=0; Strict is 1 and 1.
// Options.ExtraArgs come last and override all of this.
//
// Accounts: root@localhost (socket), root@127.0.0.1 and root@'%' without password and with ALL PRIVILEGES WITH
// GRANT OPTION, and ReplUser@'%' identified by ReplPassword with only REPLICATION SLAVE and REPLICATION CLIENT
// (shown as BINLOG MONITOR by 10.11), for least-privilege tests.
//
// # Lifecycle
//
// Start (tests) registers t.Cleanup(Stop) and skips the test when mariadbd is missing, unless env CI is set or
// MTREPLICA_REQUIRE_MARIADB=1, which make it a failure naming `apt-get install -y mariadb-server
// mariadb-client`. StartServer is for other programs. Stop shuts the server down with SIGTERM (SIGKILL after a
// minute) and removes its directory unless KeepDir. Only the process this package started is ever signalled. On
// Linux the server is forked with Pdeathsig=SIGKILL from a thread that never exits, so a test binary killed by a
// timeout takes its servers with it; their directories are swept by the next process that starts a server.
// Kill and Restart simulate a server crash and its recovery.
//
// # Example
//
//	func TestReplicate(t *testing.T) {
//		ctx := context.Background()
//		src := mariadbtest.Start(t, mariadbtest.Options{DomainID: 1})
//		dst := mariadbtest.Start(t, mariadbtest.Options{NoBinlog: true, Durability: mariadbtest.Strict})
//		if err := src.Exec(ctx, "CREATE DATABASE app", "CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT)",
//			"INSERT INTO app.t VALUES (1, 'a')"); err != nil {
//			t.Fatal(err)
//		}
//		// ... replicate src.DSN(mariadbtest.ReplUser, mariadbtest.ReplPassword, "") into dst.RootDSN() ...
//		if err := mariadbtest.Compare(ctx, src, dst); err != nil {
//			t.Fatal(err)
//		}
//	}
package mariadbtest
