// Package faulttest holds the fault-injection tests: PostgreSQL restarted
// (fast and immediate) and stopped under load, a license row locked by
// another session, clients that disconnect mid-request. They restart the
// test process's private cluster, so they live alone in this package (its
// own test process) and do not run in parallel with each other.
package faulttest
