package wire

import (
	"strings"
	"testing"
)

// tcp-protocol.md 1.10: 1..64 bytes of [.a-zA-Z0-9_-], optionally followed by
// "#ephemeral"; the 64-byte limit includes the suffix.
func TestNameValidation(t *testing.T) {
	tests := []struct {
		name      string
		valid     bool
		ephemeral bool
	}{
		{"a", true, false},
		{"topic", true, false},
		{"Topic.Name_with-all.CHARS_0123456789", true, false},
		{".", true, false},
		{"-", true, false},
		{"_", true, false},
		{"...", true, false},
		{strings.Repeat("a", 63), true, false},
		{strings.Repeat("a", 64), true, false},
		{strings.Repeat("a", 65), false, false},
		{"a#ephemeral", true, true},
		{"chan.1_x-y#ephemeral", true, true},
		{strings.Repeat("a", 54) + "#ephemeral", true, true},  // exactly 64 with suffix
		{strings.Repeat("a", 55) + "#ephemeral", false, true}, // 65 with suffix
		{strings.Repeat("a", 64) + "#ephemeral", false, true}, // base alone at limit

		{"", false, false},
		{"#ephemeral", false, true},           // suffix alone
		{"#ephemeral#ephemeral", false, true}, // '#' in the base
		{"a#ephemeral#ephemeral", false, true},
		{"a#Ephemeral", false, false},
		{"a#EPHEMERAL", false, false},
		{"a#ephemera", false, false},
		{"a#ephemeralx", false, false},
		{"a#ephemeral ", false, false},
		{"a#", false, false},
		{"#", false, false},
		{"a#b", false, false},
		{"a b", false, false},
		{" a", false, false},
		{"a ", false, false},
		{"a\tb", false, false},
		{"a\n", false, false},
		{"a\x00", false, false},
		{"a/b", false, false},
		{"a:b", false, false},
		{"a*", false, false},
		{"a%", false, false},
		{"a+b", false, false},
		{"a@b", false, false},
		{"a,b", false, false},
		{"ä", false, false},
		{"topic\u00e9", false, false},
		{"a\xff", false, false},
	}
	for _, tt := range tests {
		if got := IsValidTopicName(tt.name); got != tt.valid {
			t.Errorf("IsValidTopicName(%q) = %v, want %v", tt.name, got, tt.valid)
		}
		if got := IsValidChannelName(tt.name); got != tt.valid {
			t.Errorf("IsValidChannelName(%q) = %v, want %v", tt.name, got, tt.valid)
		}
		if got := IsEphemeral(tt.name); got != tt.ephemeral {
			t.Errorf("IsEphemeral(%q) = %v, want %v", tt.name, got, tt.ephemeral)
		}
	}
}

// Every single byte is checked against the allowed set.
func TestNameValidationAllBytes(t *testing.T) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		want := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '.' || b == '_' || b == '-'
		for _, name := range []string{string([]byte{b}), "x" + string([]byte{b}) + "y", string([]byte{b}) + EphemeralSuffix} {
			if got := IsValidTopicName(name); got != want {
				t.Errorf("IsValidTopicName(%q) = %v, want %v", name, got, want)
			}
		}
	}
}

func TestNameConstants(t *testing.T) {
	if EphemeralSuffix != "#ephemeral" {
		t.Errorf("EphemeralSuffix = %q", EphemeralSuffix)
	}
	if MaxNameLength != 64 {
		t.Errorf("MaxNameLength = %d", MaxNameLength)
	}
}
