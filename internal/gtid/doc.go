// Package gtid holds mtreplica's own global transaction identifiers and executed
// sets, for both flavors.
//
// A GTID names one transaction of the source:
//
//   - MariaDB: domain_id-server_id-seq_no. Sequence numbers are per replication
//     domain; the server id only says which server wrote the transaction.
//   - MySQL: source_uuid[:tag]:gno. Numbers are per source UUID (and tag).
//
// Both are reduced to a stream key (the domain id as decimal, or the UUID with its
// tag) and a sequence number within that stream, so one Set type serves both:
// a set of closed intervals per stream. Unlike go-mysql's MariadbGTIDSet, a Set
// can hold holes, which is what an out-of-order parallel applier leaves behind
// until its low-water mark catches up (DESIGN.md §5).
//
// Sets print in the flavor's own syntax: "0-1-5,1-2-9" for MariaDB (the last
// GTID per domain; a MariaDB GTID position cannot express holes, so String
// reports the contiguous prefix and Intervals the exact content) and
// "uuid:1-5:7-9,uuid2:1-3" for MySQL.
package gtid
