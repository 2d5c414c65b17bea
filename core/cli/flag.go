package cli

import (
	"flag"
	"strings"
	"time"

	"github.com/nsqkit/nsqkit/core/logger"
)

// Flag is one option of a binary: a command-line flag (-name and --name)
// bound to a Value, which may also be set from a config-file key and an
// environment variable. It implements urfave/cli/v2's Flag interface.
type Flag struct {
	// Name is the flag name without dashes.
	Name string
	// Usage is the help text.
	Usage string
	// Placeholder names the argument in help ("int", "host:port"); empty
	// for boolean flags.
	Placeholder string
	// Repeatable marks flags that accumulate one value per occurrence.
	Repeatable bool
	// Key is the config-file key, also the stem of the environment
	// variable (EnvPrefix + upper-case Key). Empty: neither.
	Key string
	// Value receives the parsed value.
	Value Value

	def     string // default text, captured when parsing starts
	cmdline bool   // given on the command line
}

// Var makes a flag for any Value; Key defaults to Name with - replaced by _.
func Var(name string, v Value, placeholder, usage string) *Flag {
	return &Flag{Name: name, Usage: usage, Placeholder: placeholder, Key: KeyFor(name), Value: v}
}

// KeyFor is the default config key of a flag name: - replaced by _.
func KeyFor(name string) string { return strings.ReplaceAll(name, "-", "_") }

// String is a string flag.
func String(name string, p *string, usage string) *Flag {
	return Var(name, NewStringValue(p), "string", usage)
}

// Int is an int flag (Go integer syntax).
func Int(name string, p *int, usage string) *Flag {
	return Var(name, NewIntValue(p), "int", usage)
}

// Int64 is an int64 flag (Go integer syntax).
func Int64(name string, p *int64, usage string) *Flag {
	return Var(name, NewInt64Value(p), "int", usage)
}

// Bool is a boolean flag.
func Bool(name string, p *bool, usage string) *Flag {
	return Var(name, NewBoolValue(p), "", usage)
}

// Duration is a time.Duration flag (Go duration syntax).
func Duration(name string, p *time.Duration, usage string) *Flag {
	return Var(name, NewDurationValue(p), "duration", usage)
}

// Strings is a repeatable string flag.
func Strings(name string, p *[]string, usage string) *Flag {
	f := Var(name, NewStringsValue(p), "string", usage)
	f.Repeatable = true
	return f
}

// Floats is a repeatable float list flag (also comma-separated, sorted
// descending).
func Floats(name string, p *[]float64, usage string) *Flag {
	f := Var(name, NewFloatsValue(p), "float[,float...]", usage)
	f.Repeatable = true
	return f
}

// Level is a log level flag.
func Level(name string, p *logger.Level, usage string) *Flag {
	return Var(name, NewLevelValue(p), "level", usage)
}

// TLSRequired is nsqd's boolean-style --tls-required flag.
func TLSRequired(name string, p *int, usage string) *Flag {
	return Var(name, NewTLSRequiredValue(p), "", usage)
}

// TLSMinVersion is a minimum TLS version flag.
func TLSMinVersion(name string, p *uint16, usage string) *Flag {
	return Var(name, NewTLSVersionValue(p), "version", usage)
}

// WithKey sets the config key (and so the environment variable stem);
// "" means the flag can only be given on the command line.
func (f *Flag) WithKey(key string) *Flag { f.Key = key; return f }

// WithPlaceholder sets the argument name shown in help.
func (f *Flag) WithPlaceholder(p string) *Flag { f.Placeholder = p; return f }

// Names implements urfave/cli's Flag.
func (f *Flag) Names() []string { return []string{f.Name} }

// IsSet reports whether the flag was given on the command line.
func (f *Flag) IsSet() bool { return f.cmdline }

// String is the flag's help entry (urfave/cli's Flag is a fmt.Stringer).
func (f *Flag) String() string { return f.help("") }

// Apply registers the flag with a Go flag set (urfave/cli's Flag).
func (f *Flag) Apply(set *flag.FlagSet) error {
	set.Var(&tracked{f}, f.Name, f.Usage)
	return nil
}

// isBool reports whether the flag may stand alone.
func (f *Flag) isBool() bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// tracked forwards to the flag's Value and records that the command line
// set it.
type tracked struct{ f *Flag }

func (t *tracked) Set(s string) error {
	if err := t.f.Value.Set(s); err != nil {
		return err
	}
	t.f.cmdline = true
	return nil
}

func (t *tracked) String() string {
	if t == nil || t.f == nil {
		return ""
	}
	return t.f.Value.String()
}

func (t *tracked) IsBoolFlag() bool { return t.f.isBool() }

// help renders the flag's entry; envPrefix "" omits the env variable.
func (f *Flag) help(envPrefix string) string {
	var b strings.Builder
	b.WriteString("  --")
	b.WriteString(f.Name)
	if f.Placeholder != "" {
		b.WriteString(" ")
		b.WriteString(f.Placeholder)
	}
	if f.Repeatable {
		b.WriteString("  (repeatable)")
	}
	b.WriteString("\n        ")
	b.WriteString(strings.ReplaceAll(f.Usage, "\n", "\n        "))
	if f.def != "" && f.def != "0" && f.def != "0s" && !(f.isBool() && f.def == "false") {
		if f.Placeholder == "string" {
			b.WriteString(" (default \"" + f.def + "\")")
		} else {
			b.WriteString(" (default " + f.def + ")")
		}
	}
	if f.Key != "" {
		b.WriteString("\n        [config: " + f.Key)
		if envPrefix != "" {
			b.WriteString(", env: " + EnvName(envPrefix, f.Key))
		}
		b.WriteString("]")
	}
	return b.String()
}

// EnvName is the environment variable for a config key: prefix + upper-case
// key (e.g. "NSQD_" + "mem_queue_size" → NSQD_MEM_QUEUE_SIZE).
func EnvName(prefix, key string) string { return prefix + strings.ToUpper(key) }
