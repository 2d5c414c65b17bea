// Package diskqueue provides queue backends for topics and channels: go-diskqueue on disk, a discarding one for ephemeral names.
package diskqueue
