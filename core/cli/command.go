package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

// Exit codes shared by every nsqkit binary.
const (
	ExitOK      = 0 // success (also after --help and --version)
	ExitFailure = 1 // runtime failure, fatal configuration error
	ExitUsage   = 2 // unknown flag or unparsable value
)

var (
	// ErrHelp is returned by Parse after it printed the help text.
	ErrHelp = errors.New("help requested")
	// ErrVersion is returned by Parse after it printed the version line.
	ErrVersion = errors.New("version requested")
)

// UsageError is a command-line error (unknown flag, unparsable value);
// Parse has already printed it with the usage text.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// ExitCode maps a Parse (or run) error to the process exit status:
// nil, ErrHelp, ErrVersion → 0; *UsageError → 2; anything else → 1.
func ExitCode(err error) int {
	var ue *UsageError
	switch {
	case err == nil, errors.Is(err, ErrHelp), errors.Is(err, ErrVersion):
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailure
}

// Command describes one binary's command line. A Command (and its Flags,
// which hold parse state) is meant for a single Parse call.
type Command struct {
	// Name is the binary name used in help.
	Name string
	// Summary is one line saying what the binary does.
	Summary string
	// Description is optional extra help text shown before the flags.
	Description string
	// Version, when non-empty, adds a --version flag printing this line.
	Version string
	// ConfigFlag, when non-empty, adds a --<ConfigFlag> flag naming a TOML
	// file whose keys (the Flags' Keys) set options not given elsewhere.
	ConfigFlag string
	// EnvPrefix, when non-empty, lets every flag with a Key be set by the
	// environment variable EnvPrefix + upper-case Key.
	EnvPrefix string
	// Flags are the binary's flags, in help order.
	Flags []*Flag

	// BriefUsage makes usage errors one line and a hint to run --help
	// (the tools), instead of the error followed by the whole usage text
	// (the daemons, like NSQ's).
	BriefUsage bool

	// Stdout receives help and version output; Stderr usage errors.
	// Nil means os.Stdout / os.Stderr.
	Stdout, Stderr io.Writer
	// Getenv looks up environment variables; nil means os.Getenv.
	Getenv func(string) string
}

// Parse parses args (without the program name) into the flags'
// destinations, then fills every flag not given on the command line from
// its environment variable, else from the config file, else leaves the
// default: command line > environment > config file > default.
//
// It returns the positional arguments left after the flags. Errors:
// ErrHelp / ErrVersion after printing help / the version (exit 0);
// *UsageError after printing the error and the usage (exit 2); other
// errors are fatal configuration errors the caller logs (exit 1), e.g.
// "failed to load config file <path> - <err>" or
// "failed parsing log_level <v>". Use ExitCode to map them.
func (c *Command) Parse(args []string) ([]string, error) {
	stdout, stderr := c.Stdout, c.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	var configPath string
	var wantVersion bool
	flags := make([]*Flag, 0, len(c.Flags)+2)
	if c.ConfigFlag != "" {
		flags = append(flags, String(c.ConfigFlag, &configPath,
			"path to a TOML config file (see CONFIGURATION)").WithPlaceholder("path").WithKey(""))
	}
	if c.Version != "" {
		flags = append(flags, Bool("version", &wantVersion, "print the version and exit").WithKey(""))
	}
	flags = append(flags, c.Flags...)
	for _, f := range flags {
		f.def = f.Value.String()
		f.cmdline = false
	}
	usage := c.usage(flags)

	var rest []string
	ran := false
	app := &ucli.App{
		Name:            c.Name,
		HelpName:        c.Name,
		Usage:           c.Summary,
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Our own -h/--help (rather than urfave's shared global HelpFlag)
		// still triggers urfave's help, which prints our text.
		HideHelp:              true,
		CustomAppHelpTemplate: strings.ReplaceAll(usage, "{{", `{{"{{"}}`),
		CommandNotFound: func(cc *ucli.Context, _ string) {
			_ = ucli.ShowAppHelp(cc)
		},
		OnUsageError: func(_ *ucli.Context, err error, _ bool) error {
			return c.usageError(stderr, err, usage)
		},
		ExitErrHandler: func(*ucli.Context, error) {},
		Action: func(cc *ucli.Context) error {
			ran = true
			rest = cc.Args().Slice()
			return nil
		},
	}
	app.Flags = append(app.Flags, &ucli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help"})
	for _, f := range flags {
		app.Flags = append(app.Flags, f)
	}
	err := app.Run(append([]string{c.Name}, args...))
	if err != nil {
		var ue *UsageError
		if !errors.As(err, &ue) {
			// A flag's Apply or urfave itself failed: still bad usage.
			err = c.usageError(stderr, err, usage)
		}
		return nil, err
	}
	if !ran {
		return nil, ErrHelp
	}
	if wantVersion {
		fmt.Fprintln(stdout, c.Version)
		return nil, ErrVersion
	}
	if err := c.resolve(flags, configPath); err != nil {
		return nil, err
	}
	return rest, nil
}

// usageError prints a command-line error and returns it as a *UsageError.
func (c *Command) usageError(stderr io.Writer, err error, usage string) error {
	if c.BriefUsage {
		fmt.Fprintf(stderr, "%s: %s\nRun '%s --help' for usage.\n", c.Name, err, c.Name)
	} else {
		fmt.Fprintf(stderr, "%s\n\n%s", err, usage)
	}
	return &UsageError{Err: err}
}

// Usage reports err, found after Parse while checking the values given
// (a missing or contradictory flag), as a usage error: printed to Stderr
// like Parse's own (one line and a hint with BriefUsage) and returned as a
// *UsageError, so ExitCode gives 2.
func (c *Command) Usage(err error) error {
	stderr := c.Stderr
	if stderr == nil {
		stderr = os.Stderr
	}
	usage := ""
	if !c.BriefUsage {
		usage = c.usage(c.Flags)
	}
	return c.usageError(stderr, err, usage)
}

// resolve applies the environment and the config file to the flags not
// given on the command line.
func (c *Command) resolve(flags []*Flag, configPath string) error {
	getenv := c.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var cfg map[string]any
	if configPath != "" {
		var err error
		if cfg, err = LoadConfig(configPath); err != nil {
			return err
		}
		// The special keys are validated even when overridden.
		for _, f := range flags {
			if sv, ok := f.Value.(strictValue); ok && f.Key != "" {
				if v, ok := cfg[f.Key]; ok && sv.checkConfig(v) != nil {
					return fmt.Errorf("failed parsing %s %v", f.Key, v)
				}
			}
		}
	}
	for _, f := range flags {
		if f.cmdline || f.Key == "" {
			continue
		}
		if c.EnvPrefix != "" {
			name := EnvName(c.EnvPrefix, f.Key)
			if s := getenv(name); s != "" {
				if err := f.Value.SetConfig(s); err != nil {
					return fmt.Errorf("invalid value %q for environment variable %s: %v", s, name, err)
				}
				continue
			}
		}
		if v, ok := cfg[f.Key]; ok {
			if err := ApplyConfig(f, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// ApplyConfig sets f from a decoded config value, with the fatal messages
// of cli-flags.md §1: "failed parsing <key> <v>" for log_level,
// tls_required and tls_min_version, "failed parsing <key> <v> - <why>"
// for other keys.
func ApplyConfig(f *Flag, v any) error {
	if err := f.Value.SetConfig(v); err != nil {
		if _, ok := f.Value.(strictValue); ok {
			return fmt.Errorf("failed parsing %s %v", f.Key, v)
		}
		return fmt.Errorf("failed parsing %s %v - %v", f.Key, v, err)
	}
	return nil
}

// usage renders the help text.
func (c *Command) usage(flags []*Flag) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: %s [flags]\n", c.Name)
	if c.Summary != "" {
		fmt.Fprintf(&b, "\n%s\n", c.Summary)
	}
	if c.Description != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimRight(c.Description, "\n"))
	}
	b.WriteString("\nFlags may be written -name value, -name=value, --name value or --name=value.\n" +
		"A boolean flag alone means true; turn one off with --name=false.\n")
	if c.ConfigFlag != "" || c.EnvPrefix != "" {
		b.WriteString("\nCONFIGURATION\n")
		if c.ConfigFlag != "" {
			fmt.Fprintf(&b, "  --%s names a TOML file; its keys are shown as [config: key] below (the flag\n"+
				"  name with - replaced by _). Durations are strings (\"60s\") or integer\n"+
				"  milliseconds; lists are arrays or comma-separated strings; unknown keys are\n"+
				"  ignored.\n", c.ConfigFlag)
		}
		if c.EnvPrefix != "" {
			example := "key"
			for _, f := range flags {
				if f.Key != "" {
					example = f.Key
					break
				}
			}
			fmt.Fprintf(&b, "  Each keyed option can also be set by the environment variable %s + the\n"+
				"  key in upper case (e.g. %s), with the same syntax as in the file\n"+
				"  (lists comma-separated).\n", c.EnvPrefix, EnvName(c.EnvPrefix, example))
		}
		b.WriteString("  Precedence: command line > ")
		if c.EnvPrefix != "" {
			b.WriteString("environment > ")
		}
		if c.ConfigFlag != "" {
			b.WriteString("config file > ")
		}
		b.WriteString("built-in default.\n")
	}
	b.WriteString("\nFLAGS\n  -h, --help\n        show this help and exit\n")
	for _, f := range flags {
		b.WriteString(f.help(c.EnvPrefix))
		b.WriteString("\n")
	}
	return b.String()
}
