package mariadbtest

import "errors"

// installHint tells the user how to get the server binaries on Debian/Ubuntu.
const installHint = "apt-get install -y mariadb-server mariadb-client"

// ErrNotInstalled is returned (wrapped) by Available and StartServer when mariadbd or mariadb-install-db cannot be found.
var ErrNotInstalled = errors.New("mariadbd or mariadb-install-db not found; install them with `" + installHint + "`")

// ErrStopped is returned by methods that need a running server after Stop or Kill.
var ErrStopped = errors.New("mariadb server is not running")
