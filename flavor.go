package mtreplica

import "github.com/mtreplica/mtreplica/internal/gtid"

// Flavor is the source server family (SourceConfig.Flavor). The GTID package
// is internal: a program embedding mtreplica names the flavors through these.
type Flavor = gtid.Flavor

// The source flavors.
const (
	MariaDB Flavor = gtid.MariaDB
	MySQL   Flavor = gtid.MySQL
)
