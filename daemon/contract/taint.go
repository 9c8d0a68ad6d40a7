package contract

import "time"

// DefaultStartupTaintTimeout is how long after a node joined its daemon
// lifts the startup taint, warm or not: a servercore image takes about 8
// minutes on a fresh node, a large .NET Framework image about 15, so 30
// leaves room for both and for retries, and a node whose images cannot be
// warmed (a registry down, a disk too small) still takes workloads within
// half an hour. warm passes it to the daemon, whose own default it is too.
const DefaultStartupTaintTimeout = 30 * time.Minute
