package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gimsproject/gims/amapi"
	"github.com/gimsproject/gims/internal/secretfile"
)

// command is one subcommand: its names, its flags and positional
// arguments, how they become a call of the typed client and how the reply
// is shown.
type command struct {
	name    string // kebab-case subcommand name
	method  string // XML-RPC method; also accepted as the subcommand name
	args    string // synopsis of the positional arguments
	nargs   int    // exact number of positional arguments, or -1-n for "at least n"
	summary string // one line for the command list
	// noIntersperse ends the flags at the first positional argument
	// (for "call", whose JSON arguments may start with '-').
	noIntersperse bool
	// setup registers the subcommand's flags on fs and returns the
	// function that builds the call from the positional arguments once
	// the flags are parsed. Nil means no flags and call.
	setup func(fs *flag.FlagSet, getenv func(string) string) builder
	// call makes the call of a command without setup, from its
	// positional arguments.
	call func(ctx context.Context, api *amapi.Client, pos []string) (any, error)
	// render prints the (typed) reply as tables. Nil means the generic
	// renderer.
	render func(w io.Writer, reply any) error
}

// builder builds the invocation of a command from its positional
// arguments. A usageError means a bad command line.
type builder func(pos []string) (invocation, error)

// invocation is one call to make, with what to do after it.
type invocation struct {
	// method names the XML-RPC method in messages.
	method string
	// call makes the call and returns the typed reply.
	call func(ctx context.Context, api *amapi.Client) (any, error)
	// render overrides the command's renderer (for "call").
	render func(w io.Writer, reply any) error
	// after runs once the reply is printed, such as downloading files.
	after func(c *client, reply any) error
	// direct, when set, replaces the call (for "download").
	direct func(c *client, stdout io.Writer) error
}

// Environment variables that subcommands read.
const (
	envAnonSecret  = "GIMS_ANON_SECRET"
	envDeviceToken = "GIMS_DEVICE_TOKEN"
	envActivation  = "GIMS_ACTIVATION"
	envNewPassword = "GIMS_NEW_PASSWORD"
)

// synopsis is the command's usage line after "gimsctl".
func (c *command) synopsis() string {
	s := c.name + " [flags]"
	if c.args != "" {
		s += " " + c.args
	}
	return s
}

// flagSet returns the command's flag set, with -json bound to opts, and
// its builder.
func (c *command) flagSet(opts *options, getenv func(string) string) (*flag.FlagSet, builder) {
	fs := flag.NewFlagSet("gimsctl "+c.name, flag.ContinueOnError)
	fs.BoolVar(&opts.json, "json", opts.json, "print the decoded reply as indented JSON (also a global flag)")
	var b builder
	if c.setup != nil {
		b = c.setup(fs, getenv)
	} else {
		method, call := c.method, c.call
		b = func(pos []string) (invocation, error) {
			return invocation{method: method, call: func(ctx context.Context, api *amapi.Client) (any, error) {
				return call(ctx, api, pos)
			}}, nil
		}
	}
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: gimsctl [global flags] %s\n\n%s\n", c.synopsis(), c.summary)
		if c.method != "" && !strings.Contains(c.method, ".") {
			fmt.Fprintf(w, "XML-RPC method %s (also accepted as the subcommand name).\n", c.method)
		}
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
	return fs, b
}

// execute makes the call and prints the reply.
func (c *command) execute(cl *client, inv invocation, stdout io.Writer) error {
	if inv.direct != nil {
		return inv.direct(cl, stdout)
	}
	reply, err := cl.do(inv.method, inv.call)
	if err != nil {
		return err
	}
	render := c.render
	if inv.render != nil {
		render = inv.render
	}
	if render == nil {
		render = renderGeneric
	}
	if cl.opts.json {
		err = writeJSON(stdout, reply)
	} else {
		err = render(stdout, reply)
	}
	if err != nil {
		return fmt.Errorf("unable to print the reply: %w", err)
	}
	if inv.after != nil {
		return inv.after(cl, reply)
	}
	return nil
}

// findCommand finds a command by its kebab-case name or its method name.
func findCommand(cmds []*command, name string) *command {
	for _, c := range cmds {
		if c.name == name || c.method == name && !strings.Contains(name, ".") {
			return c
		}
	}
	return nil
}

// printUsage prints the global usage: synopsis, global flags, commands.
func printUsage(w io.Writer, cmds []*command) {
	fmt.Fprintf(w, `usage: gimsctl [global flags] SUBCOMMAND [flags] [args]

gimsctl calls the XML-RPC API of the GIMS aggregate manager (gims-am).
The password is read from %s (or from the -url user information).
Replies are printed as tables, or as indented JSON with -json.
Exit status: 0 success, 1 fault or network error, 2 bad command line.

global flags:
`, envPassword)
	fs := flag.NewFlagSet("gimsctl", flag.ContinueOnError)
	fs.SetOutput(w)
	addGlobalFlags(fs, &options{url: defaultURL, user: defaultUser, timeout: defaultTimeout})
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nsubcommands (also accepted under their XML-RPC method name):")
	width := 0
	for _, c := range cmds {
		width = max(width, len(c.name)+1+len(c.args))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-*s  %s\n", width, strings.TrimSpace(c.name+" "+c.args), c.summary)
	}
	fmt.Fprintf(w, "  %-*s  %s\n", width, "help [SUBCOMMAND]", "this text, or the flags of a subcommand")
	fmt.Fprintln(w, "\n'gimsctl SUBCOMMAND -h' lists the flags of a subcommand.")
}

// commands returns the subcommand table.
func commands() []*command {
	return []*command{
		{
			name: "create-experiment", method: "CreateExperiment", nargs: 0,
			summary: "create an experiment on capture devices; prints its id",
			setup:   setupCreateExperiment,
			render:  renderScalar,
		},
		{
			name: "configure-experiment", method: "ConfigureExperiment", args: "ID", nargs: 1,
			summary: "set the capture configuration of an experiment (only the given fields are sent)",
			setup:   setupConfigureExperiment,
			render:  typed(renderSettings),
		},
		idCommand("start-experiment", "StartExperiment", "start or resume an experiment on all its devices",
			(*amapi.Client).StartExperiment, typed(renderStatus)),
		idCommand("pause-experiment", "PauseExperiment", "pause a running experiment",
			(*amapi.Client).PauseExperiment, typed(renderStatus)),
		idCommand("stop-experiment", "StopExperiment", "stop an experiment (running or paused) for good",
			(*amapi.Client).StopExperiment, typed(renderStatus)),
		{
			name: "get-device-capabilities", method: "GetDeviceCapabilities", args: "DEVICE", nargs: 1,
			summary: "show a device's interfaces, transforms and storage",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return reply(api.GetDeviceCapabilities(ctx, pos[0]))
			},
			render: typed(renderCapabilities),
		},
		{
			name: "delete-experiment", method: "DeleteExperiment", args: "ID", nargs: 1,
			summary: "delete a stopped experiment with its results on the AM and the devices",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				id, err := parseID(pos[0])
				if err != nil {
					return nil, err
				}
				return reply(api.DeleteExperiment(ctx, id))
			},
		},
		idCommand("get-experiment-settings", "GetExperimentSettings", "show an experiment's settings and transitions",
			(*amapi.Client).GetExperimentSettings, typed(renderSettings)),
		idCommand("get-experiment-status", "GetExperimentStatus", "show an experiment's counters, overall and per device",
			(*amapi.Client).GetExperimentStatus, typed(renderStatus)),
		{
			name: "get-experiment-results", method: "GetExperimentResults", args: "ID", nargs: 1,
			summary: "show counters, flows (largest first, paged) or result files",
			setup:   setupGetExperimentResults,
		},
		{
			name: "query", method: "QueryFlows", args: "ID", nargs: 1,
			summary: "query an experiment's flows: filter, time bounds, group by, order, page",
			setup:   setupQuery,
			render:  typed(renderQuery),
		},
		{
			name: "list-experiments", method: "ListExperiments", nargs: 0,
			summary: "list the experiments one may see",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return reply(api.ListExperiments(ctx))
			},
			render: typed(renderExperiments),
		},
		{
			name: "add-device", method: "AddDevice", nargs: 0,
			summary: "add a capture device (admin)",
			setup:   setupAddDevice,
			render:  typed(renderDevice),
		},
		{
			name: "edit-device", method: "EditDevice", args: "NAME", nargs: 1,
			summary: "change fields of a device or approve a registered one (admin)",
			setup:   setupEditDevice,
			render:  typed(renderDevice),
		},
		{
			name: "delete-device", method: "DeleteDevice", args: "NAME", nargs: 1,
			summary: "delete a device; prints the deleted record (admin)",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return reply(api.DeleteDevice(ctx, pos[0]))
			},
			render: typed(renderDevice),
		},
		{
			name: "list-devices", method: "ListDevices", nargs: 0,
			summary: "list devices with reachability and capabilities (admin)",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return reply(api.ListDevices(ctx))
			},
			render: typed(renderDevices),
		},
		{
			name: "add-user", method: "AddUser", nargs: 0,
			summary: "add a user; the password comes from an environment variable (admin)",
			setup:   setupAddUser,
		},
		{
			name: "delete-user", method: "DeleteUser", args: "NAME", nargs: 1,
			summary: "delete a user (admin)",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return reply(api.DeleteUser(ctx, pos[0]))
			},
		},
		{
			name: "set-user-role", method: "SetUserRole", args: "NAME admin|experimenter", nargs: 2,
			summary: "change a user's role (admin)",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return reply(api.SetUserRole(ctx, pos[0], pos[1]))
			},
		},
		{
			name: "list-users", method: "ListUsers", nargs: 0,
			summary: "list users (admin)",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return reply(api.ListUsers(ctx))
			},
			render: typed(renderUsers),
		},
		{
			name: "register-device", method: "RegisterDevice", nargs: 0,
			summary: "announce a capture daemon; it stays pending until approved",
			setup:   setupRegisterDevice,
		},
		{
			name: "create-activation", method: "CreateActivation", nargs: 0,
			summary: "make an activation code for register-device and gims-capd -register; shown only now (admin)",
			setup:   setupCreateActivation,
			render:  typed(renderActivation),
		},
		{
			name: "list-activations", method: "ListActivations", nargs: 0,
			summary: "list the usable activations, without their codes (admin)",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return reply(api.ListActivations(ctx))
			},
			render: typed(renderActivations),
		},
		{
			name: "delete-activation", method: "DeleteActivation", args: "ID", nargs: 1,
			summary: "revoke an activation (admin)",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				id, err := parseID(pos[0])
				if err != nil {
					return nil, err
				}
				return reply(api.DeleteActivation(ctx, id))
			},
		},
		{
			name: "create-key", method: "CreateKey", nargs: 0,
			summary: "make an operator-held Crypto-PAn key at the AM for -users; only its fingerprint is ever shown (admin)",
			setup:   setupCreateKey,
			render:  typed(renderKey),
		},
		{
			name: "list-keys", method: "ListKeys", nargs: 0,
			summary: "list the operator-held keys (admin: all, with users; experimenter: those it may use)",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return reply(api.ListKeys(ctx))
			},
			render: typed(renderKeys),
		},
		{
			name: "delete-key", method: "DeleteKey", args: "NAME", nargs: 1,
			summary: "delete an operator-held key no configured, running or paused experiment uses (admin)",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return reply(api.DeleteKey(ctx, pos[0]))
			},
			render: typed(renderKey),
		},
		{
			name: "audit", method: "GetAuditLog", nargs: 0,
			summary: "show the audit log, newest first: who changed what, from where, with which result (admin)",
			setup:   setupAudit,
			render:  typed(renderAudit),
		},
		{
			name: "schedule", method: "GetScheduleTimeline", nargs: 0,
			summary: "show when experiments hold each device interface: scheduled runs and running experiments (next 24 h unless -from/-to)",
			setup:   setupTimeline,
			render:  typed(renderTimeline),
		},
		{
			name: "list-methods", method: "system.listMethods", nargs: 0,
			summary: "list the XML-RPC methods of the server",
			call: func(ctx context.Context, api *amapi.Client, _ []string) (any, error) {
				return generic(ctx, api, "system.listMethods")
			},
			render: renderLines,
		},
		{
			name: "method-help", method: "system.methodHelp", args: "METHOD", nargs: 1,
			summary: "show the server's help text of a method",
			call: func(ctx context.Context, api *amapi.Client, pos []string) (any, error) {
				return generic(ctx, api, "system.methodHelp", pos[0])
			},
			render: renderLines,
		},
		{
			name: "call", args: "METHOD [JSON-ARG ...]", nargs: -2, noIntersperse: true,
			summary: "call any method; each argument is a JSON value (objects become structs)",
			setup:   setupCall,
		},
		{
			name: "download", args: "URL", nargs: 1,
			summary: "fetch a result file (URL from get-experiment-results -kind files) with the same credentials",
			setup:   setupDownload,
		},
		{
			name: "version", nargs: 0,
			summary: "print gimsctl's version",
			setup: func(*flag.FlagSet, func(string) string) builder {
				return func([]string) (invocation, error) {
					return invocation{direct: func(_ *client, stdout io.Writer) error {
						_, err := fmt.Fprintf(stdout, "gimsctl %s\n", version)
						return err
					}}, nil
				}
			},
		},
	}
}

// reply widens a typed reply for the commands' table.
func reply[T any](v T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// generic calls a method the client does not type; the reply is the
// natural Go value of what the server sent.
func generic(ctx context.Context, api *amapi.Client, method string, args ...any) (any, error) {
	var v any
	err := api.Call(ctx, method, args, &v)
	return v, err
}

// idCommand is a command whose only parameter is an experiment id.
func idCommand[T any](name, method, summary string, call func(*amapi.Client, context.Context, int64) (T, error),
	render func(io.Writer, any) error) *command {
	return &command{
		name: name, method: method, args: "ID", nargs: 1, summary: summary, render: render,
		setup: func(_ *flag.FlagSet, _ func(string) string) builder {
			return func(pos []string) (invocation, error) {
				id, err := parseID(pos[0])
				if err != nil {
					return invocation{}, err
				}
				return invocation{method: method, call: func(ctx context.Context, api *amapi.Client) (any, error) {
					return reply(call(api, ctx, id))
				}}, nil
			}
		},
	}
}

// parseID parses an experiment id.
func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || id > math.MaxInt32 {
		return 0, usagef("experiment id %q: want a positive integer", s)
	}
	return id, nil
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// secret returns the secret given by value or read from file (trailing
// newline removed), or from the environment variable env when neither is
// given. Both value and file is a usage error, and so is a file the
// group or others may read.
func secret(getenv func(string) string, value, valueFlag, file, fileFlag, env string) (string, error) {
	switch {
	case value != "" && file != "":
		return "", usagef("-%s and -%s are exclusive", valueFlag, fileFlag)
	case value != "":
		return value, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("-%s: %v", fileFlag, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", usagef("-%s: %s is empty", fileFlag, file)
		}
		// A secret in a file others can read is refused, as ssh does.
		if err := secretfile.Check(file); err != nil {
			return "", usagef("-%s: %v", fileFlag, err)
		}
		return s, nil
	case env != "":
		return getenv(env), nil
	}
	return "", nil
}

// setupCreateExperiment: CreateExperiment(struct{name, description?, devices}).
func setupCreateExperiment(fs *flag.FlagSet, _ func(string) string) builder {
	name := fs.String("name", "", "experiment name (required)")
	desc := fs.String("description", "", "free text description")
	devices := fs.String("devices", "", "comma-separated capture devices, each `name` or name:interface (required)")
	return func([]string) (invocation, error) {
		if *name == "" {
			return invocation{}, usagef("-name is required")
		}
		devs := splitList(*devices)
		if len(devs) == 0 {
			return invocation{}, usagef("-devices is required")
		}
		req := amapi.CreateRequest{Name: *name, Description: *desc, Devices: devs}
		return invocation{method: "CreateExperiment", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.CreateExperiment(ctx, req))
		}}, nil
	}
}

// setupConfigureExperiment: ConfigureExperiment(int id, struct config),
// with only the fields given on the command line; -counters, -flows and
// -anonymize (or any of their own flags) add their sub-structure.
func setupConfigureExperiment(fs *flag.FlagSet, getenv func(string) string) builder {
	filter := fs.String("filter", "", "libpcap/BPF filter `expression`")
	snaplen := fs.Int("snaplen", 65535, "bytes kept of each packet")
	promisc := fs.Bool("promiscuous", true, "capture in promiscuous mode")
	counters := fs.Bool("counters", false, "aggregate counters per interval")
	interval := fs.Int("counter-interval-ms", 1000, "counter interval in milliseconds (implies -counters)")
	flows := fs.Bool("flows", false, "aggregate bidirectional flows")
	active := fs.Int("active-timeout-s", 1800, "flow active timeout in seconds (implies -flows)")
	idle := fs.Int("idle-timeout-s", 300, "flow idle timeout in seconds (implies -flows)")
	biflow := fs.Bool("biflow", true, "RFC 5103 bidirectional flows (implies -flows)")
	collector := fs.String("collector", "", "IPFIX collector `URL`, udp://host:port or tcp://host:port (implies -flows)")
	anonymize := fs.Bool("anonymize", false, "anonymize addresses with Crypto-PAn, secret from "+envAnonSecret+" unless given otherwise")
	anonSecret := fs.String("anonymize-secret", "", "Crypto-PAn secret: 64 hex digits or a passphrase (implies -anonymize; visible in ps, prefer the file or "+envAnonSecret+")")
	anonFile := fs.String("anonymize-secret-file", "", "read the Crypto-PAn secret from `file` (implies -anonymize)")
	anonKey := fs.String("anonymize-key", "", "use the operator-held key of this `name` (list-keys) instead of a secret (implies -anonymize)")
	payload := fs.String("payload", "strip", "with -anonymize: what sanitization does with payloads: strip, zero or keep (implies -anonymize)")
	mac := fs.String("mac", "keyed", "with -anonymize: what sanitization does with MAC addresses: keyed, zero or keep (implies -anonymize)")
	pcap := fs.Bool("pcap", false, "keep the (anonymized, sanitized) packets as a pcap file")
	storage := fs.String("storage", "remote", "where results are kept: local (on the device) or remote (pulled by the AM)")
	duration := fs.Int("duration-s", 0, "stop the experiment after this many `seconds` of running time")
	replay := fs.Float64("replay-speed", 0, "for file: interfaces, replay at this multiple of the recorded speed (default as fast as possible)")
	rotateMB := fs.Int("rotate-mb", 0, "split the pcap and IPFIX files into parts of this many `megabytes` (10^6 bytes) each")
	rotateS := fs.Int("rotate-s", 0, "split the pcap and IPFIX files into parts of this many `seconds` of capture each")
	startAt := fs.String("start-at", "", "schedule: start at `TIME` (RFC 3339, such as 2026-12-01T18:00:00Z, or +DURATION from now, such as +10m)")
	stopAt := fs.String("stop-at", "", "schedule: stop at `TIME` (RFC 3339 or +DURATION from now)")
	every := fs.Duration("every", 0, "schedule: start a run every `DURATION` (whole seconds; with -run, and -count or -stop-at)")
	run := fs.Duration("run", 0, "schedule: each run lasts `DURATION` (whole seconds)")
	count := fs.Int("count", 0, "schedule: the number of runs")
	return func(pos []string) (invocation, error) {
		id, err := parseID(pos[0])
		if err != nil {
			return invocation{}, err
		}
		set := setFlags(fs)
		var cfg amapi.ExperimentConfig
		if set["filter"] {
			cfg.Filter = *filter
		}
		if set["snaplen"] {
			if *snaplen <= 0 {
				return invocation{}, usagef("-snaplen %d: must be positive", *snaplen)
			}
			cfg.Snaplen = *snaplen
		}
		if set["promiscuous"] {
			cfg.Promiscuous = promisc
		}
		on, err := subConfig(set, "counters", *counters, "counter-interval-ms")
		if err != nil {
			return invocation{}, err
		}
		if on {
			cfg.Counters = &amapi.CountersConfig{}
			if cfg.Counters.IntervalMS, err = positive(set, "counter-interval-ms", *interval); err != nil {
				return invocation{}, err
			}
		}
		on, err = subConfig(set, "flows", *flows, "active-timeout-s", "idle-timeout-s", "biflow", "collector")
		if err != nil {
			return invocation{}, err
		}
		if on {
			f := &amapi.FlowsConfig{Collector: *collector}
			if f.ActiveTimeoutS, err = positive(set, "active-timeout-s", *active); err != nil {
				return invocation{}, err
			}
			if f.IdleTimeoutS, err = positive(set, "idle-timeout-s", *idle); err != nil {
				return invocation{}, err
			}
			if set["biflow"] {
				f.Biflow = biflow
			}
			cfg.Flows = f
		}
		if *anonymize || set["anonymize-secret"] || set["anonymize-secret-file"] || set["anonymize-key"] || set["payload"] || set["mac"] {
			if set["anonymize"] && !*anonymize {
				return invocation{}, usagef("-anonymize=false contradicts -anonymize-secret, -anonymize-secret-file, -anonymize-key, -payload and -mac")
			}
			if set["anonymize-key"] {
				if set["anonymize-secret"] || set["anonymize-secret-file"] {
					return invocation{}, usagef("-anonymize-key and -anonymize-secret or -anonymize-secret-file exclude each other")
				}
				if *anonKey == "" {
					return invocation{}, usagef("-anonymize-key: give the key's name (list-keys)")
				}
				cfg.Anonymize = &amapi.AnonymizeConfig{Key: *anonKey}
			} else {
				s, err := secret(getenv, *anonSecret, "anonymize-secret", *anonFile, "anonymize-secret-file", envAnonSecret)
				if err != nil {
					return invocation{}, err
				}
				if s == "" {
					return invocation{}, usagef("-anonymize needs a secret or a key: -anonymize-secret, -anonymize-secret-file, %s or -anonymize-key", envAnonSecret)
				}
				cfg.Anonymize = &amapi.AnonymizeConfig{Secret: s}
			}
			if set["payload"] {
				cfg.Anonymize.Payload = *payload
			}
			if set["mac"] {
				cfg.Anonymize.MAC = *mac
			}
		}
		cfg.Pcap = *pcap
		if set["storage"] {
			if *storage != "local" && *storage != "remote" {
				return invocation{}, usagef("-storage %q: want local or remote", *storage)
			}
			cfg.Storage = *storage
		}
		if set["duration-s"] {
			if *duration <= 0 {
				return invocation{}, usagef("-duration-s %d: must be positive", *duration)
			}
			cfg.DurationS = *duration
		}
		if set["replay-speed"] {
			if !(*replay > 0) || math.IsInf(*replay, 0) {
				return invocation{}, usagef("-replay-speed %v: must be positive", *replay)
			}
			cfg.ReplaySpeed = *replay
		}
		if cfg.RotateMB, err = positive(set, "rotate-mb", *rotateMB); err != nil {
			return invocation{}, err
		}
		if cfg.RotateS, err = positive(set, "rotate-s", *rotateS); err != nil {
			return invocation{}, err
		}
		if cfg.Schedule, err = scheduleFlags(set, time.Now(), *startAt, *stopAt, *every, *run, *count); err != nil {
			return invocation{}, err
		}
		return invocation{method: "ConfigureExperiment", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.ConfigureExperiment(ctx, id, cfg))
		}}, nil
	}
}

// scheduleFlags is the schedule of -start-at, -stop-at, -every, -run and
// -count (nil when none is given); the server checks how they combine.
func scheduleFlags(set map[string]bool, now time.Time, startAt, stopAt string, every, run time.Duration, count int) (*amapi.ScheduleConfig, error) {
	if !set["start-at"] && !set["stop-at"] && !set["every"] && !set["run"] && !set["count"] {
		return nil, nil
	}
	var (
		sc  amapi.ScheduleConfig
		err error
	)
	if set["start-at"] {
		if sc.StartAt, err = parseWhen("start-at", startAt, now); err != nil {
			return nil, err
		}
	}
	if set["stop-at"] {
		if sc.StopAt, err = parseWhen("stop-at", stopAt, now); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
		to   *int
	}{{"every", every, &sc.EveryS}, {"run", run, &sc.RunS}} {
		if !set[d.name] {
			continue
		}
		if d.v <= 0 || d.v%time.Second != 0 {
			return nil, usagef("-%s %s: must be a positive whole number of seconds", d.name, d.v)
		}
		*d.to = int(d.v / time.Second)
	}
	if set["count"] {
		if count < 1 {
			return nil, usagef("-count %d: must be at least 1", count)
		}
		sc.Count = count
	}
	return &sc, nil
}

// parseWhen reads a time flag: RFC 3339, or +DURATION from now (whole
// seconds, as XML-RPC times are).
func parseWhen(name, s string, now time.Time) (time.Time, error) {
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, usagef("-%s %q: want RFC 3339 (2026-12-01T18:00:00Z) or +DURATION (+10m)", name, s)
		}
		// Rounded up: a start "+0s" is not in the past.
		t := now.Add(d)
		if t.Nanosecond() != 0 {
			t = t.Truncate(time.Second).Add(time.Second)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usagef("-%s %q: want RFC 3339 (2026-12-01T18:00:00Z) or +DURATION (+10m)", name, s)
	}
	return t, nil
}

// positive returns the value of an int flag, checking that it is positive
// when given; 0 (the server's default) when not given.
func positive(set map[string]bool, flagName string, n int) (int, error) {
	if !set[flagName] {
		return 0, nil
	}
	if n <= 0 {
		return 0, usagef("-%s %d: must be positive", flagName, n)
	}
	return n, nil
}

// subConfig says whether an optional sub-structure of the configuration
// ("counters", "flows") is sent: when its enabling flag is true or any of
// its own flags is given. -X=false with its own flags is a usage error.
func subConfig(set map[string]bool, enable string, enabled bool, own ...string) (bool, error) {
	given := false
	for _, f := range own {
		given = given || set[f]
	}
	if set[enable] && !enabled {
		if given {
			return false, usagef("-%s=false contradicts the -%s… flags given", enable, enable)
		}
		return false, nil
	}
	return enabled || given, nil
}

// setupGetExperimentResults: GetExperimentResults(int id,
// struct{kind, offset?, limit?}), and with -download the files.
func setupGetExperimentResults(fs *flag.FlagSet, _ func(string) string) builder {
	kind := fs.String("kind", "flows", "what to get: counters, flows or files")
	offset := fs.Int("offset", 0, "flows to skip (largest first)")
	limit := fs.Int("limit", 100, "flows per page, at most 10000")
	download := fs.String("download", "", "with -kind files, fetch every file into `directory`")
	return func(pos []string) (invocation, error) {
		id, err := parseID(pos[0])
		if err != nil {
			return invocation{}, err
		}
		set := setFlags(fs)
		q := amapi.ResultsQuery{Kind: *kind}
		if set["offset"] {
			if *offset < 0 {
				return invocation{}, usagef("-offset %d: must not be negative", *offset)
			}
			q.Offset = *offset
		}
		if set["limit"] {
			if *limit <= 0 {
				return invocation{}, usagef("-limit %d: must be positive", *limit)
			}
			q.Limit = *limit
		}
		inv := invocation{method: "GetExperimentResults"}
		switch q.Kind {
		case amapi.KindCounters:
			inv.call = func(ctx context.Context, api *amapi.Client) (any, error) {
				return reply(api.GetExperimentCounters(ctx, id, q))
			}
			inv.render = typed(renderCounters)
		case amapi.KindFlows:
			inv.call = func(ctx context.Context, api *amapi.Client) (any, error) {
				return reply(api.GetExperimentFlows(ctx, id, q))
			}
			inv.render = typed(renderFlows)
		case amapi.KindFiles:
			inv.call = func(ctx context.Context, api *amapi.Client) (any, error) {
				return reply(api.GetExperimentFiles(ctx, id))
			}
			inv.render = typed(renderFiles)
		default:
			// The server names the kinds it knows in its fault.
			inv.call = func(ctx context.Context, api *amapi.Client) (any, error) {
				return generic(ctx, api, "GetExperimentResults", id, q)
			}
			inv.render = renderGeneric
		}
		if set["download"] {
			if *kind != amapi.KindFiles {
				return invocation{}, usagef("-download needs -kind files")
			}
			if *download == "" {
				return invocation{}, usagef("-download: empty directory")
			}
			dir := *download
			inv.after = func(c *client, reply any) error { return c.downloadFiles(reply.([]amapi.FileRow), dir) }
		}
		return inv, nil
	}
}

// setupQuery: QueryFlows(int id, struct{filter?, from?, to?, group_by?,
// order_by?, offset?, limit?}).
func setupQuery(fs *flag.FlagSet, _ func(string) string) builder {
	filter := fs.String("filter", "", "nfdump-style filter, such as 'proto tcp and dst port 443 and src net 10.0.0.0/8 and bytes > 1000'")
	from := fs.String("from", "", "only flows starting at or after this time (RFC 3339)")
	to := fs.String("to", "", "only flows ending at or before this time (RFC 3339)")
	groupBy := fs.String("group-by", "", "comma-separated group keys among src, dst, sport, dport, proto, device")
	orderBy := fs.String("order-by", "", "field to order by, '-' first for descending (default -bytes)")
	offset := fs.Int("offset", 0, "rows to skip")
	limit := fs.Int("limit", 100, "rows per page, at most 10000")
	return func(pos []string) (invocation, error) {
		id, err := parseID(pos[0])
		if err != nil {
			return invocation{}, err
		}
		q := amapi.FlowQuery{Filter: *filter, OrderBy: *orderBy, Offset: *offset, Limit: *limit}
		for _, b := range []struct {
			name, v string
			t       *time.Time
		}{{"from", *from, &q.From}, {"to", *to, &q.To}} {
			if b.v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, b.v)
			if err != nil {
				return invocation{}, usagef("-%s %q: not a time like 2026-01-02T15:04:05Z", b.name, b.v)
			}
			*b.t = t
		}
		if *groupBy != "" {
			for _, k := range strings.Split(*groupBy, ",") {
				q.GroupBy = append(q.GroupBy, strings.TrimSpace(k))
			}
		}
		if *offset < 0 {
			return invocation{}, usagef("-offset %d: must not be negative", *offset)
		}
		if *limit <= 0 {
			return invocation{}, usagef("-limit %d: must be positive", *limit)
		}
		return invocation{method: "QueryFlows", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.QueryFlows(ctx, id, q))
		}}, nil
	}
}

// deviceFlags are the flags of a device record shared by add-device and
// edit-device.
type deviceFlags struct {
	location, typ, hostname, description, token, tokenFile, interfaces *string
	port                                                               *int
	// tls and certSHA256: the daemon serves HTTPS, with that pinned
	// certificate (SPEC §10).
	tls        *bool
	certSHA256 *string
}

// addDeviceFlags registers the device record flags.
func addDeviceFlags(fs *flag.FlagSet) deviceFlags {
	return deviceFlags{
		location:    fs.String("location", "", "where the device is (site, rack, link)"),
		typ:         fs.String("type", "", "kind of device (for example gims-capd)"),
		hostname:    fs.String("hostname", "", "host name or address of the capture daemon"),
		port:        fs.Int("port", 8081, "port of the capture daemon's XML-RPC API"),
		description: fs.String("description", "", "free text description"),
		token:       fs.String("token", "", "secret the AM presents to the daemon (visible in ps: prefer -token-file or "+envDeviceToken+")"),
		tokenFile:   fs.String("token-file", "", "read the device token from `file`"),
		interfaces:  fs.String("interfaces", "", "comma-separated interfaces offered for capture (default: all the device lists)"),
		tls:         fs.Bool("tls", false, "the daemon serves HTTPS (verified by the AM's -device-ca, or by -cert-sha256)"),
		certSHA256:  fs.String("cert-sha256", "", "pin: SHA-256 of the daemon's certificate, hex (gimsctl certs prints it; implies -tls)"),
	}
}

// secretToken returns the device token from -token, -token-file or, when env
// is not empty, the environment variable env.
func (d deviceFlags) secretToken(getenv func(string) string, env string) (string, error) {
	return secret(getenv, *d.token, "token", *d.tokenFile, "token-file", env)
}

// checkPort checks a -port value.
func checkPort(port int) error {
	if port <= 0 || port > 65535 {
		return usagef("-port %d: want 1 to 65535", port)
	}
	return nil
}

// setupAddDevice: AddDevice(struct{name, location, type, hostname, port,
// description, token, interfaces?, policy?}).
func setupAddDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "device name (required)")
	df := addDeviceFlags(fs)
	pf := addPolicyFlags(fs)
	return func([]string) (invocation, error) {
		if *name == "" {
			return invocation{}, usagef("-name is required")
		}
		if *df.hostname == "" {
			return invocation{}, usagef("-hostname is required")
		}
		if err := checkPort(*df.port); err != nil {
			return invocation{}, err
		}
		in := amapi.DeviceInput{Name: *name, Location: *df.location, Type: *df.typ, Hostname: *df.hostname,
			Port: *df.port, Description: *df.description, TLS: *df.tls || *df.certSHA256 != "", CertSHA256: *df.certSHA256}
		if setFlags(fs)["interfaces"] {
			in.Interfaces = splitList(*df.interfaces)
		}
		pol, err := pf.input(setFlags(fs))
		if err != nil {
			return invocation{}, err
		}
		in.Policy = pol
		tok, err := df.secretToken(getenv, envDeviceToken)
		if err != nil {
			return invocation{}, err
		}
		if tok == "" {
			return invocation{}, usagef("a device token is required: -token, -token-file or %s", envDeviceToken)
		}
		in.Token = tok
		return invocation{method: "AddDevice", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.AddDevice(ctx, in))
		}}, nil
	}
}

// setupEditDevice: EditDevice(string name, struct changes) with only the
// fields given; -approve sends approved: true.
func setupEditDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	df := addDeviceFlags(fs)
	pf := addPolicyFlags(fs)
	rename := fs.String("rename", "", "give the device a new `name`")
	approve := fs.Bool("approve", false, "approve a device that registered itself (sends approved: true; -approve=false withdraws)")
	return func(pos []string) (invocation, error) {
		set := setFlags(fs)
		given := func(flagName string, v *string) *string {
			if set[flagName] {
				return v
			}
			return nil
		}
		ch := amapi.DeviceChanges{Location: given("location", df.location), Type: given("type", df.typ),
			Hostname: given("hostname", df.hostname), Description: given("description", df.description)}
		if set["port"] {
			if err := checkPort(*df.port); err != nil {
				return invocation{}, err
			}
			ch.Port = df.port
		}
		if set["interfaces"] {
			l := splitList(*df.interfaces)
			ch.Interfaces = &l
		}
		tok, err := df.secretToken(getenv, "")
		if err != nil {
			return invocation{}, err
		}
		if tok != "" {
			ch.Token = &tok
		}
		if set["approve"] {
			ch.Approved = approve
		}
		if set["tls"] {
			ch.TLS = df.tls
		}
		if set["cert-sha256"] {
			ch.CertSHA256 = df.certSHA256
			if *df.certSHA256 != "" && !set["tls"] {
				on := true
				ch.TLS = &on
			}
		}
		if set["rename"] {
			if *rename == "" {
				return invocation{}, usagef("-rename: empty name")
			}
			ch.Name = rename
		}
		if ch.Policy, err = pf.input(set); err != nil {
			return invocation{}, err
		}
		if ch == (amapi.DeviceChanges{}) {
			return invocation{}, usagef("nothing to change: give at least one flag")
		}
		name := pos[0]
		return invocation{method: "EditDevice", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.EditDevice(ctx, name, ch))
		}}, nil
	}
}

// setupAddUser: AddUser(struct{name, password, role}).
func setupAddUser(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "user name (required)")
	role := fs.String("role", "experimenter", "role: admin or experimenter")
	pwEnv := fs.String("password-env", envNewPassword, "environment `variable` holding the new user's password")
	pwFile := fs.String("password-file", "", "read the new user's password from `file` instead")
	certURI := fs.String("cert-uri", "", "SAN `URI` (such as a GENI URN) of a client certificate that logs this user in")
	return func([]string) (invocation, error) {
		if *name == "" {
			return invocation{}, usagef("-name is required")
		}
		if *role != "admin" && *role != "experimenter" {
			return invocation{}, usagef("-role %q: want admin or experimenter", *role)
		}
		pw, err := secret(getenv, "", "", *pwFile, "password-file", *pwEnv)
		if err != nil {
			return invocation{}, err
		}
		if pw == "" {
			return invocation{}, usagef("no password: set %s or give -password-file", *pwEnv)
		}
		in := amapi.UserInput{Name: *name, Password: pw, Role: *role, CertURI: *certURI}
		return invocation{method: "AddUser", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.AddUser(ctx, in))
		}}, nil
	}
}

// setupRegisterDevice: RegisterDevice(struct{name, hostname, port, token,
// activation}).
func setupRegisterDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "device name (required)")
	hostname := fs.String("hostname", "", "host name or address of the capture daemon (required)")
	port := fs.Int("port", 8081, "port of the capture daemon's XML-RPC API")
	token := fs.String("token", "", "secret the AM will present to the daemon (visible in ps: prefer -token-file or "+envDeviceToken+")")
	tokenFile := fs.String("token-file", "", "read the device token from `file`")
	useTLS := fs.Bool("tls", false, "the daemon serves HTTPS")
	pin := fs.String("cert-sha256", "", "SHA-256 of the daemon's certificate, hex (implies -tls)")
	activation := fs.String("activation", "", "activation `code` from create-activation (or "+envActivation+")")
	return func([]string) (invocation, error) {
		if *name == "" || *hostname == "" {
			return invocation{}, usagef("-name and -hostname are required")
		}
		if *port <= 0 || *port > 65535 {
			return invocation{}, usagef("-port %d: want 1 to 65535", *port)
		}
		tok, err := secret(getenv, *token, "token", *tokenFile, "token-file", envDeviceToken)
		if err != nil {
			return invocation{}, err
		}
		if tok == "" {
			return invocation{}, usagef("a device token is required: -token, -token-file or %s", envDeviceToken)
		}
		code := strings.TrimSpace(*activation)
		if code == "" {
			code = strings.TrimSpace(getenv(envActivation))
		}
		if code == "" {
			return invocation{}, usagef("an activation code is required: -activation or %s (an admin makes one with create-activation)", envActivation)
		}
		r := amapi.Registration{Name: *name, Hostname: *hostname, Port: *port, Token: tok, Activation: code,
			TLS: *useTLS || *pin != "", CertSHA256: *pin}
		return invocation{method: "RegisterDevice", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.RegisterDevice(ctx, r))
		}}, nil
	}
}

// setupCreateActivation: CreateActivation(struct{expires_s, uses}).
func setupCreateActivation(fs *flag.FlagSet, _ func(string) string) builder {
	expires := fs.Duration("expires", time.Duration(amapi.DefaultActivationExpiresS)*time.Second,
		"how long the code works (whole seconds, at most 720h)")
	uses := fs.Int("uses", amapi.DefaultActivationUses, "how many registrations the code allows")
	return func([]string) (invocation, error) {
		if *expires < time.Second || *expires%time.Second != 0 {
			return invocation{}, usagef("-expires %v: want whole seconds, at least 1s", *expires)
		}
		r := amapi.ActivationRequest{ExpiresS: int(*expires / time.Second), Uses: *uses}
		return invocation{method: "CreateActivation", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.CreateActivation(ctx, r))
		}}, nil
	}
}

// setupCreateKey: CreateKey(struct{name, users}).
func setupCreateKey(fs *flag.FlagSet, _ func(string) string) builder {
	name := fs.String("name", "", "the key's `name` (letters, digits, '.', '_', '-')")
	users := fs.String("users", "*", "comma-separated users who may use the key, or * for everyone")
	return func([]string) (invocation, error) {
		if *name == "" {
			return invocation{}, usagef("-name is required")
		}
		r := amapi.KeyRequest{Name: *name, Users: splitList(*users)}
		if len(r.Users) == 0 {
			return invocation{}, usagef("-users %q: name at least one user, or *", *users)
		}
		return invocation{method: "CreateKey", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.CreateKey(ctx, r))
		}}, nil
	}
}

// setupTimeline: GetScheduleTimeline's -from and -to.
func setupTimeline(fs *flag.FlagSet, _ func(string) string) builder {
	from := fs.String("from", "", "from `TIME` (RFC 3339 or +DURATION from now; default now)")
	to := fs.String("to", "", "to `TIME` (RFC 3339 or +DURATION from now; default 24 h after -from, at most 7 days)")
	return func([]string) (invocation, error) {
		set := setFlags(fs)
		var (
			q   amapi.TimelineQuery
			err error
		)
		now := time.Now()
		if set["from"] {
			if q.From, err = parseWhen("from", *from, now); err != nil {
				return invocation{}, err
			}
		}
		if set["to"] {
			if q.To, err = parseWhen("to", *to, now); err != nil {
				return invocation{}, err
			}
		}
		return invocation{method: "GetScheduleTimeline", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.GetScheduleTimeline(ctx, q))
		}}, nil
	}
}

// setupAudit: GetAuditLog's -user, -since and -limit.
func setupAudit(fs *flag.FlagSet, _ func(string) string) builder {
	user := fs.String("user", "", "only this user's calls")
	since := fs.String("since", "", "only calls at or after this time (RFC 3339, such as 2026-01-02T15:04:05Z) or this long ago (such as 24h)")
	limit := fs.Int("limit", 0, "at most this many entries (default 100, at most 10000)")
	return func([]string) (invocation, error) {
		q := amapi.AuditQuery{User: *user, Limit: *limit}
		if *since != "" {
			if d, err := time.ParseDuration(*since); err == nil {
				q.Since = time.Now().Add(-d).UTC().Truncate(time.Second)
			} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
				q.Since = t
			} else {
				return invocation{}, usagef("-since %q: want an RFC 3339 time or a duration", *since)
			}
		}
		return invocation{method: "GetAuditLog", call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return reply(api.GetAuditLog(ctx, q))
		}}, nil
	}
}

// setupCall: any method with JSON arguments.
func setupCall(_ *flag.FlagSet, _ func(string) string) builder {
	return func(pos []string) (invocation, error) {
		args := make([]any, 0, len(pos)-1)
		for i, s := range pos[1:] {
			v, err := parseJSONArg(s)
			if err != nil {
				return invocation{}, usagef("argument %d: %v (strings need JSON quotes: '\"name\"')", i+1, err)
			}
			args = append(args, v)
		}
		method := pos[0]
		return invocation{method: method, render: renderGeneric, call: func(ctx context.Context, api *amapi.Client) (any, error) {
			return generic(ctx, api, method, args...)
		}}, nil
	}
}

// parseJSONArg parses one JSON value into what the XML-RPC encoder sends:
// objects become structs, arrays arrays, integers int, other numbers
// double, null nil.
func parseJSONArg(s string) (any, error) {
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid JSON: more than one value")
	}
	return fromJSON(v)
}

// fromJSON converts json.Number values to int or float64, recursively.
func fromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			if int64(int(n)) == n {
				return int(n), nil
			}
			return n, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", x, err)
		}
		return f, nil
	case []any:
		for i := range x {
			e, err := fromJSON(x[i])
			if err != nil {
				return nil, err
			}
			x[i] = e
		}
		return x, nil
	case map[string]any:
		for k := range x {
			e, err := fromJSON(x[k])
			if err != nil {
				return nil, err
			}
			x[k] = e
		}
		return x, nil
	}
	return v, nil
}

// setupDownload: HTTP GET of one result file, no XML-RPC call.
func setupDownload(fs *flag.FlagSet, _ func(string) string) builder {
	out := fs.String("o", "", "write to `file` (default: the file's name in the current directory; - for stdout)")
	return func(pos []string) (invocation, error) {
		u, o := pos[0], *out
		return invocation{direct: func(c *client, stdout io.Writer) error {
			return c.downloadOne(u, o, stdout)
		}}, nil
	}
}
