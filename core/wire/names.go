package wire

import "strings"

// EphemeralSuffix marks topics and channels that never touch disk.
const EphemeralSuffix = "#ephemeral"

// MaxNameLength is the longest valid topic or channel name, suffix included.
const MaxNameLength = 64

// IsValidTopicName reports whether name is a valid topic name:
// 1..64 bytes of [.a-zA-Z0-9_-], optionally ending in "#ephemeral".
func IsValidTopicName(name string) bool { return isValidName(name) }

// IsValidChannelName reports whether name is a valid channel name (same rule
// as topics).
func IsValidChannelName(name string) bool { return isValidName(name) }

// IsEphemeral reports whether a topic or channel name ends in "#ephemeral".
func IsEphemeral(name string) bool { return strings.HasSuffix(name, EphemeralSuffix) }

func isValidName(name string) bool {
	if len(name) > MaxNameLength || len(name) < 1 {
		return false
	}
	base := strings.TrimSuffix(name, EphemeralSuffix)
	if len(base) == 0 {
		return false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}
