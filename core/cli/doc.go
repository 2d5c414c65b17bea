// Package cli is the command-line plumbing shared by the nsqkit binaries:
// flags bound to typed destinations (both -name and --name spellings, Go
// flag syntax), repeatable list values, NSQ's special values (log level,
// --tls-required, --tls-min-version), a TOML config file and environment
// variables resolved with the precedence
// command line > environment > config file > built-in default,
// --help / --version handling and the exit-code convention (0 ok,
// 1 runtime failure, 2 bad usage).
//
// A binary describes itself with a Command and calls Parse:
//
//	opts := nsqd.NewOptions()
//	cmd := &cli.Command{Name: "nsqd", Version: version.String("nsqd"),
//		ConfigFlag: "config", EnvPrefix: "NSQD_", Flags: []*cli.Flag{
//			cli.Int64("mem-queue-size", &opts.MemQueueSize, "..."),
//			cli.Strings("lookupd-tcp-address", &opts.NSQLookupdTCPAddresses, "...").
//				WithKey("nsqlookupd_tcp_addresses"),
//		}}
//	if _, err := cmd.Parse(os.Args[1:]); err != nil {
//		os.Exit(cli.ExitCode(err)) // after logging err when the code is 1
//	}
//
// Parsing itself is urfave/cli/v2 over Go's flag package; the Value types
// also work on their own with urfave's GenericFlag or flag.Var.
package cli
