// Package filter implements the replica's replication filters: MySQL's
// replicate-do-db, replicate-ignore-db, replicate-do-table,
// replicate-ignore-table, replicate-wild-do-table, replicate-wild-ignore-table
// and replicate-rewrite-db, plus the rule that keeps the `mysql` system schema
// and account management statements out (as Aurora MySQL 3 does).
//
// # Evaluation order
//
// The rules are MySQL's "How Servers Evaluate Replication Filtering Rules",
// for row-based events (each rows event is judged by the table it changes):
//
//  1. replicate-rewrite-db renames the database first; every later rule sees
//     the new name (as in MySQL, where the translation is done before the
//     replicate-* rules are tested).
//  2. Database rules: if there are replicate-do-db rules, the database must be
//     one of them, else the event is ignored; otherwise, if there are
//     replicate-ignore-db rules, a database in them is ignored.
//  3. Table rules, when the database passed: no table rules: execute.
//     A replicate-do-table match executes; a replicate-ignore-table match
//     ignores; a replicate-wild-do-table match executes; a
//     replicate-wild-ignore-table match ignores; then, if there is any
//     replicate-do-table or replicate-wild-do-table rule, the event is
//     ignored (nothing matched), else it is executed.
//
// Statement events (DDL, or DML from a STATEMENT/MIXED source) are judged by
// their default database only (step 2, after step 1 renamed it), as MySQL does
// for statement-based replication: `USE a; INSERT INTO b.t ...` is replicated
// or not according to a, not b. A statement without a default database does
// not match any replicate-do-db rule. Rewriting a statement changes its
// default database only, never database names inside its text.
//
// The system schema: unless Rules.ReplicateSystemSchema is set, rows events on
// tables of the `mysql` schema, statements whose default database is `mysql`,
// and account management statements (CREATE/ALTER/DROP/RENAME USER, GRANT,
// REVOKE, SET PASSWORD, CREATE/DROP ROLE, SET DEFAULT ROLE, FLUSH PRIVILEGES)
// are dropped, whatever the other rules say: accounts, passwords and grants
// stay on the source.
//
// Names: database and table names match exactly (case-sensitive, as on a
// server with lower_case_table_names=0); wild patterns use % (any sequence)
// and _ (one character), \ escapes either, and match case-insensitively.
//
// # Applying a filter to a transaction
//
// Filter.Apply edits a coordinator.Txn in place, before dependency tracking
// and apply: it drops the table map and rows events of filtered tables, the
// statement events (and the INSERT_ID/LAST_INSERT_ID/RAND/user variable events
// that precede them) whose default database is filtered, and renames schemas
// for replicate-rewrite-db (in the table map, so every rows event of it
// follows). A one-statement transaction (DDL) whose statement is dropped
// becomes an ordinary empty transaction. A transaction left empty is still
// applied: the worker records its progress row, so it is never fetched again
// and the executed GTID set has no hole.
//
// Filter is a pure state machine apart from its counters: no I/O, no
// goroutines; Apply may be called from one goroutine at a time.
package filter
