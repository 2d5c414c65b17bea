// Package wire holds the bytes of NSQ: command encoding and parsing, frames,
// the message codec, name rules and the protocol error codes.
//
// It depends on the standard library only, and its parse path for the hot
// commands (PUB, MPUB, FIN, RDY) does not allocate.
package wire
