package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"

	"github.com/KimMachineGun/automemlimit/memlimit"

	"bitgate/internal/settings"
)

// proc is what a command gets from its process: the environment and the
// standard streams.
type proc struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one of bitgate's subcommands.
type command struct {
	name  string
	args  string // what follows the name in a synopsis
	about string // one line for the list of commands
	// settings says the command takes the server's settings (parseConfig).
	settings bool
	env      string // help on the environment variables only the command reads
	run      func(p proc, args []string) error
}

// commands are bitgate's subcommands, in the order help lists them; serve
// is the default.
var commands = []command{
	{name: "serve", args: "[flags]", about: "serve the API (the default command)", settings: true, run: serveCommand},
	{
		name: "create-admin", args: "-email E [-promote] [flags]", about: "create an ADMIN; with -promote, make an existing account ADMIN with a new password",
		settings: true, env: "  ADMIN_PASSWORD\tthe admin's password; without it, the first line of standard input\n",
		run: createAdmin,
	},
	{name: "keys", args: "list|rotate [flags]", about: "list the EdDSA signing keys, or add one that signs after 10 minutes", settings: true, run: keysCommand},
	{name: "mail", args: "test -to ADDRESS [flags]", about: "send one test mail through the configured path (SMTP_URL, or a file in development) and say what happened", settings: true, run: mailCommand},
	{name: "hash-password", args: "< password", about: "print the argon2id hash of the password on standard input", run: hashPassword},
	{name: "check-hash", args: "< hashes", about: "check password hashes to import, one a line on standard input; exit 1 if sign-in would refuse any", run: checkHash},
	{name: "version", about: "print the build's version and the versions of its modules", run: version},
}

// usageError is a command line bitgate cannot run: an unknown command or
// flag, a malformed flag value, or a stray argument. It exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// helpRequest is returned by parseFlags when the command line asks for
// help (-h, -help or --help); run prints the command's help.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// run runs the command that args name (serve when the first argument is a
// flag or there is none) and prints help when it is asked for. Returns a
// usageError for an unknown command and for flags the command does not
// take, or the command's error.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" { // "help" or "help COMMAND": that command's -h
		name = "serve"
		if len(args) > 0 {
			name = args[0]
		}
		args = []string{"-h"}
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(proc{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}, args)
		var help helpRequest
		if errors.As(err, &help) {
			printHelp(stdout, c, help.fs)
			return nil
		}
		return err
	}
	return usageError{fmt.Errorf("unknown command %q", name)}
}

// exitStatus reports err on w and returns the exit status it calls for: 0
// for none, 2 for a usageError, 1 for any other.
func exitStatus(err error, w io.Writer) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(w, "bitgate:", err)
	if errors.As(err, new(usageError)) {
		fmt.Fprintln(w, `Run "bitgate -h" for help.`)
		return 2
	}
	return 1
}

// newFlagSet returns an empty flag set for the command name. It prints
// nothing itself: run prints help and main prints errors.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args into fs. Returns a helpRequest for -h, or a
// usageError for an unknown flag, a malformed flag value or an argument
// left over.
func parseFlags(fs *flag.FlagSet, args []string) error {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return helpRequest{fs}
	case err != nil:
		return usageError{err}
	case fs.NArg() > 0:
		return usageError{fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// printHelp writes the help of command c, whose flags are fs: for serve,
// the list of commands too; for a command that takes the server's
// settings, those read from the environment only. Defaults shown are the
// built-in ones, never values from the environment.
func printHelp(w io.Writer, c command, fs *flag.FlagSet) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if c.name == "serve" {
		fmt.Fprint(tw, "bitgate serves a GraphQL API with sign-up, sign-in, sessions and permissions built in.\n\n")
		fmt.Fprint(tw, "Usage:\n  bitgate [command] [flags]\n\nCommands:\n")
		for _, c := range commands {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.about)
		}
		fmt.Fprint(tw, "  help [command]\tthis help, or a command's\n")
	} else {
		fmt.Fprintf(tw, "Usage:\n  bitgate %s\n\n%s.\n", strings.TrimSpace(c.name+" "+c.args), strings.ToUpper(c.about[:1])+c.about[1:])
	}
	env := c.env
	if c.settings {
		env = ""
		for _, s := range settings.New(new(config)).Settings {
			if s.Flag == "" {
				env += "  " + s.Env + "\t" + s.Help + "\n"
			}
		}
		env += c.env
	}
	if env != "" {
		fmt.Fprint(tw, "\nEnvironment only (secrets are never flags, so that ps does not show them):\n"+env)
	}
	tw.Flush()
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n == 0 {
		return
	}
	fmt.Fprint(w, "\nFlags (a setting's environment variable, in parentheses, applies when its flag is not given):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// serveCommand parses the server's settings and serves until a signal.
func serveCommand(p proc, args []string) error {
	cfg, err := parseConfig("serve", args, p.getenv, nil)
	if err != nil {
		return err
	}
	setGCPercent(p.getenv)
	return serve(cfg, p.stderr, setMemoryLimit(p.getenv, memlimit.FromCgroup))
}

// serverGCPercent is the server's GOGC unless the environment sets one.
const serverGCPercent = 400

// setGCPercent lets the heap grow by serverGCPercent (400%) between
// collections instead of Go's 100%, unless GOGC is set (the runtime has
// applied it). The server's live heap is a few MB, so at Go's default it
// collected some 25 times a second under load, and the collections
// (marking, assists, goroutine stacks shrunk and grown again) cost a third
// of the CPU of a request; the price is a heap up to five times the live
// one, which GOMEMLIMIT bounds.
func setGCPercent(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serverGCPercent)
	}
}

// defaultMemoryLimit is the server's soft memory limit unless GOMEMLIMIT
// is set or its container allows less: enough for 2,000 keep-alive
// connections, and a resident size under 200 MB under the load program's
// 64-connection scenarios.
const defaultMemoryLimit = 150 << 20

// containerMemoryShare is the share of its container's memory limit the
// server's soft limit takes at most, leaving room for what Go does not
// count (the binary's text, SQLite's mappings) below the container's OOM
// killer.
const containerMemoryShare = 0.9

// setMemoryLimit sets Go's soft memory limit, unless GOMEMLIMIT is set
// (the runtime has applied it), to defaultMemoryLimit, or to
// containerMemoryShare of the memory limit of the process's cgroup (as
// cgroupLimit reads it) when that is less, and returns the limit and where
// it comes from, for the log. Without a limit, GOGC=400 let the heap grow
// to 233 MB under the load program's books load, for a live heap of a few
// MB: the limit makes the collector work harder only near it.
func setMemoryLimit(getenv func(string) string, cgroupLimit func() (uint64, error)) memoryLimit {
	if getenv("GOMEMLIMIT") != "" {
		return memoryLimit{bytes: debug.SetMemoryLimit(-1), from: "GOMEMLIMIT"}
	}
	limit := memoryLimit{bytes: defaultMemoryLimit, from: "default"}
	if n, err := cgroupLimit(); err == nil && float64(n)*containerMemoryShare < defaultMemoryLimit {
		limit = memoryLimit{bytes: int64(float64(n) * containerMemoryShare), from: "container"}
	}
	debug.SetMemoryLimit(limit.bytes)
	return limit
}

// memoryLimit is the soft memory limit the server runs under.
type memoryLimit struct {
	bytes int64
	from  string // "GOMEMLIMIT", "default" or "container"
}

// version prints the build's version, Go version, platform and version
// control stamp, and the version of every module it was built from.
// Returns an error if the binary holds no build information.
func version(p proc, args []string) error {
	if err := parseFlags(newFlagSet("version"), args); err != nil {
		return err
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("version: the binary holds no build information")
	}
	tw := tabwriter.NewWriter(p.stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "bitgate\t%s\n", bi.Main.Version)
	fmt.Fprintf(tw, "go\t%s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
	for _, s := range bi.Settings {
		if strings.HasPrefix(s.Key, "vcs.") {
			fmt.Fprintf(tw, "%s\t%s\n", s.Key, s.Value)
		}
	}
	for _, d := range bi.Deps {
		v := d.Version
		if d.Replace != nil {
			v += " => " + strings.TrimSpace(d.Replace.Path+" "+d.Replace.Version)
		}
		fmt.Fprintf(tw, "%s\t%s\n", d.Path, v)
	}
	return tw.Flush()
}
