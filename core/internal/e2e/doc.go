// Package e2e runs the built binaries as a user would: flags, signals,
// files, exit codes, HTTP and TCP clients from outside the process.
package e2e
