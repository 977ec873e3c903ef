package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// command is one subcommand: its names, its flags and positional
// arguments, how they become XML-RPC parameters and how the reply is shown.
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
	// the flags are parsed. Nil means no flags and the positional
	// arguments as they are.
	setup func(fs *flag.FlagSet, getenv func(string) string) builder
	// render prints the reply as tables. Nil means the generic renderer.
	render func(w io.Writer, reply any) error
}

// builder builds the invocation of a command from its positional
// arguments. A usageError means a bad command line.
type builder func(pos []string) (invocation, error)

// invocation is one XML-RPC call to make, with what to do after it.
type invocation struct {
	method string
	args   []any
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
		method := c.method
		b = func(pos []string) (invocation, error) {
			args := make([]any, len(pos))
			for i, p := range pos {
				args[i] = p
			}
			return invocation{method: method, args: args}, nil
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
	reply, err := cl.call(inv.method, inv.args)
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
			render:  renderSettings,
		},
		idCommand("start-experiment", "StartExperiment", "start or resume an experiment on all its devices", renderStatus),
		idCommand("pause-experiment", "PauseExperiment", "pause a running experiment", renderStatus),
		idCommand("stop-experiment", "StopExperiment", "stop an experiment (running or paused) for good", renderStatus),
		{
			name: "get-device-capabilities", method: "GetDeviceCapabilities", args: "DEVICE", nargs: 1,
			summary: "show a device's interfaces, transforms and storage",
			render:  renderCapabilities,
		},
		idCommand("get-experiment-settings", "GetExperimentSettings", "show an experiment's settings and transitions", renderSettings),
		idCommand("get-experiment-status", "GetExperimentStatus", "show an experiment's counters, overall and per device", renderStatus),
		{
			name: "get-experiment-results", method: "GetExperimentResults", args: "ID", nargs: 1,
			summary: "show counters, flows (largest first, paged) or result files",
			setup:   setupGetExperimentResults,
		},
		{
			name: "list-experiments", method: "ListExperiments", nargs: 0,
			summary: "list the experiments one may see",
			render:  renderExperiments,
		},
		{
			name: "add-device", method: "AddDevice", nargs: 0,
			summary: "add a capture device (admin)",
			setup:   setupAddDevice,
			render:  renderDevice,
		},
		{
			name: "edit-device", method: "EditDevice", args: "NAME", nargs: 1,
			summary: "change fields of a device or approve a registered one (admin)",
			setup:   setupEditDevice,
			render:  renderDevice,
		},
		{
			name: "delete-device", method: "DeleteDevice", args: "NAME", nargs: 1,
			summary: "delete a device; prints the deleted record (admin)",
			render:  renderDevice,
		},
		{
			name: "list-devices", method: "ListDevices", nargs: 0,
			summary: "list devices with reachability and capabilities (admin)",
			render:  renderDevices,
		},
		{
			name: "add-user", method: "AddUser", nargs: 0,
			summary: "add a user; the password comes from an environment variable (admin)",
			setup:   setupAddUser,
		},
		{
			name: "delete-user", method: "DeleteUser", args: "NAME", nargs: 1,
			summary: "delete a user (admin)",
		},
		{
			name: "list-users", method: "ListUsers", nargs: 0,
			summary: "list users (admin)",
			render:  renderUsers,
		},
		{
			name: "register-device", method: "RegisterDevice", nargs: 0,
			summary: "announce a capture daemon; it stays pending until approved",
			setup:   setupRegisterDevice,
		},
		{
			name: "list-methods", method: "system.listMethods", nargs: 0,
			summary: "list the XML-RPC methods of the server",
			render:  renderLines,
		},
		{
			name: "method-help", method: "system.methodHelp", args: "METHOD", nargs: 1,
			summary: "show the server's help text of a method",
			render:  renderLines,
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

// idCommand is a command whose only parameter is an experiment id.
func idCommand(name, method, summary string, render func(io.Writer, any) error) *command {
	return &command{
		name: name, method: method, args: "ID", nargs: 1, summary: summary, render: render,
		setup: func(_ *flag.FlagSet, _ func(string) string) builder {
			return func(pos []string) (invocation, error) {
				id, err := parseID(pos[0])
				if err != nil {
					return invocation{}, err
				}
				return invocation{method: method, args: []any{id}}, nil
			}
		},
	}
}

// parseID parses an experiment id.
func parseID(s string) (int, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || id > math.MaxInt32 {
		return 0, usagef("experiment id %q: want a positive integer", s)
	}
	return int(id), nil
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []any {
	out := []any{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// secret returns the secret given by value or read from file (trailing
// newline removed), or from the environment variable env when neither is
// given. Both value and file is a usage error.
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
		req := map[string]any{"name": *name, "devices": devs}
		if setFlags(fs)["description"] {
			req["description"] = *desc
		}
		return invocation{method: "CreateExperiment", args: []any{req}}, nil
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
	pcap := fs.Bool("pcap", false, "keep the (anonymized) packets as a pcap file")
	storage := fs.String("storage", "remote", "where results are kept: local (on the device) or remote (pulled by the AM)")
	duration := fs.Int("duration-s", 0, "stop the experiment after this many `seconds` of running time")
	replay := fs.Float64("replay-speed", 0, "for file: interfaces, replay at this multiple of the recorded speed (default as fast as possible)")
	return func(pos []string) (invocation, error) {
		id, err := parseID(pos[0])
		if err != nil {
			return invocation{}, err
		}
		set := setFlags(fs)
		cfg := map[string]any{}
		if set["filter"] {
			cfg["filter"] = *filter
		}
		if set["snaplen"] {
			if *snaplen <= 0 {
				return invocation{}, usagef("-snaplen %d: must be positive", *snaplen)
			}
			cfg["snaplen"] = *snaplen
		}
		if set["promiscuous"] {
			cfg["promiscuous"] = *promisc
		}
		sub, err := subConfig(set, "counters", *counters, map[string]func() (string, any, error){
			"counter-interval-ms": positive("interval_ms", "counter-interval-ms", *interval),
		})
		if err != nil {
			return invocation{}, err
		}
		if sub != nil {
			cfg["counters"] = sub
		}
		sub, err = subConfig(set, "flows", *flows, map[string]func() (string, any, error){
			"active-timeout-s": positive("active_timeout_s", "active-timeout-s", *active),
			"idle-timeout-s":   positive("idle_timeout_s", "idle-timeout-s", *idle),
			"biflow":           func() (string, any, error) { return "biflow", *biflow, nil },
			"collector":        func() (string, any, error) { return "collector", *collector, nil },
		})
		if err != nil {
			return invocation{}, err
		}
		if sub != nil {
			cfg["flows"] = sub
		}
		if *anonymize || set["anonymize-secret"] || set["anonymize-secret-file"] {
			if set["anonymize"] && !*anonymize {
				return invocation{}, usagef("-anonymize=false contradicts -anonymize-secret and -anonymize-secret-file")
			}
			s, err := secret(getenv, *anonSecret, "anonymize-secret", *anonFile, "anonymize-secret-file", envAnonSecret)
			if err != nil {
				return invocation{}, err
			}
			if s == "" {
				return invocation{}, usagef("-anonymize needs a secret: -anonymize-secret, -anonymize-secret-file or %s", envAnonSecret)
			}
			cfg["anonymize"] = map[string]any{"secret": s}
		}
		if set["pcap"] {
			cfg["pcap"] = *pcap
		}
		if set["storage"] {
			if *storage != "local" && *storage != "remote" {
				return invocation{}, usagef("-storage %q: want local or remote", *storage)
			}
			cfg["storage"] = *storage
		}
		if set["duration-s"] {
			if *duration <= 0 {
				return invocation{}, usagef("-duration-s %d: must be positive", *duration)
			}
			cfg["duration_s"] = *duration
		}
		if set["replay-speed"] {
			if !(*replay > 0) || math.IsInf(*replay, 0) {
				return invocation{}, usagef("-replay-speed %v: must be positive", *replay)
			}
			cfg["replay_speed"] = *replay
		}
		return invocation{method: "ConfigureExperiment", args: []any{id, cfg}}, nil
	}
}

// positive returns a member builder for subConfig checking that n > 0.
func positive(member, flagName string, n int) func() (string, any, error) {
	return func() (string, any, error) {
		if n <= 0 {
			return "", nil, usagef("-%s %d: must be positive", flagName, n)
		}
		return member, n, nil
	}
}

// subConfig builds an optional sub-structure of the configuration
// ("counters", "flows"): present when its enabling flag is true or any of
// its own flags is given, with only the given members. members maps a
// flag name to a function returning the member name and value. Nil means
// absent.
func subConfig(set map[string]bool, enable string, enabled bool, members map[string]func() (string, any, error)) (map[string]any, error) {
	m := map[string]any{}
	given := false
	for flagName, member := range members {
		if !set[flagName] {
			continue
		}
		given = true
		name, v, err := member()
		if err != nil {
			return nil, err
		}
		m[name] = v
	}
	if set[enable] && !enabled {
		if given {
			return nil, usagef("-%s=false contradicts the -%s… flags given", enable, enable)
		}
		return nil, nil
	}
	if !enabled && !given {
		return nil, nil
	}
	return m, nil
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
		req := map[string]any{"kind": *kind}
		if set["offset"] {
			if *offset < 0 {
				return invocation{}, usagef("-offset %d: must not be negative", *offset)
			}
			req["offset"] = *offset
		}
		if set["limit"] {
			if *limit <= 0 {
				return invocation{}, usagef("-limit %d: must be positive", *limit)
			}
			req["limit"] = *limit
		}
		inv := invocation{method: "GetExperimentResults", args: []any{id, req}, render: resultsRenderer(*kind)}
		if set["download"] {
			if *kind != "files" {
				return invocation{}, usagef("-download needs -kind files")
			}
			if *download == "" {
				return invocation{}, usagef("-download: empty directory")
			}
			dir := *download
			inv.after = func(c *client, reply any) error { return c.downloadFiles(reply, dir) }
		}
		return inv, nil
	}
}

// deviceFlags are the flags of a device record shared by add-device and
// edit-device.
type deviceFlags struct {
	location, typ, hostname, description, token, tokenFile, interfaces *string
	port                                                               *int
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
	}
}

// fields returns the members for the flags given (all of them with all).
func (d deviceFlags) fields(fs *flag.FlagSet, getenv func(string) string, all bool) (map[string]any, error) {
	set := setFlags(fs)
	m := map[string]any{}
	str := map[string]*string{"location": d.location, "type": d.typ, "hostname": d.hostname, "description": d.description}
	for name, v := range str {
		if all || set[name] {
			m[name] = *v
		}
	}
	if all || set["port"] {
		if *d.port <= 0 || *d.port > 65535 {
			return nil, usagef("-port %d: want 1 to 65535", *d.port)
		}
		m["port"] = *d.port
	}
	if set["interfaces"] {
		m["interfaces"] = splitList(*d.interfaces)
	}
	env := ""
	if all {
		env = envDeviceToken
	}
	tok, err := secret(getenv, *d.token, "token", *d.tokenFile, "token-file", env)
	if err != nil {
		return nil, err
	}
	if tok != "" || all {
		m["token"] = tok
	}
	return m, nil
}

// setupAddDevice: AddDevice(struct{name, location, type, hostname, port,
// description, token, interfaces?}).
func setupAddDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "device name (required)")
	df := addDeviceFlags(fs)
	return func([]string) (invocation, error) {
		if *name == "" {
			return invocation{}, usagef("-name is required")
		}
		if *df.hostname == "" {
			return invocation{}, usagef("-hostname is required")
		}
		m, err := df.fields(fs, getenv, true)
		if err != nil {
			return invocation{}, err
		}
		if m["token"] == "" {
			return invocation{}, usagef("a device token is required: -token, -token-file or %s", envDeviceToken)
		}
		m["name"] = *name
		return invocation{method: "AddDevice", args: []any{m}}, nil
	}
}

// setupEditDevice: EditDevice(string name, struct changes) with only the
// fields given; -approve sends approved: true.
func setupEditDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	df := addDeviceFlags(fs)
	rename := fs.String("rename", "", "give the device a new `name`")
	approve := fs.Bool("approve", false, "approve a device that registered itself (sends approved: true; -approve=false withdraws)")
	return func(pos []string) (invocation, error) {
		m, err := df.fields(fs, getenv, false)
		if err != nil {
			return invocation{}, err
		}
		set := setFlags(fs)
		if set["approve"] {
			m["approved"] = *approve
		}
		if set["rename"] {
			if *rename == "" {
				return invocation{}, usagef("-rename: empty name")
			}
			m["name"] = *rename
		}
		if len(m) == 0 {
			return invocation{}, usagef("nothing to change: give at least one flag")
		}
		return invocation{method: "EditDevice", args: []any{pos[0], m}}, nil
	}
}

// setupAddUser: AddUser(struct{name, password, role}).
func setupAddUser(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "user name (required)")
	role := fs.String("role", "experimenter", "role: admin or experimenter")
	pwEnv := fs.String("password-env", envNewPassword, "environment `variable` holding the new user's password")
	pwFile := fs.String("password-file", "", "read the new user's password from `file` instead")
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
		return invocation{method: "AddUser", args: []any{map[string]any{"name": *name, "password": pw, "role": *role}}}, nil
	}
}

// setupRegisterDevice: RegisterDevice(struct{name, hostname, port, token}).
func setupRegisterDevice(fs *flag.FlagSet, getenv func(string) string) builder {
	name := fs.String("name", "", "device name (required)")
	hostname := fs.String("hostname", "", "host name or address of the capture daemon (required)")
	port := fs.Int("port", 8081, "port of the capture daemon's XML-RPC API")
	token := fs.String("token", "", "secret the AM will present to the daemon (visible in ps: prefer -token-file or "+envDeviceToken+")")
	tokenFile := fs.String("token-file", "", "read the device token from `file`")
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
		return invocation{method: "RegisterDevice", args: []any{map[string]any{
			"name": *name, "hostname": *hostname, "port": *port, "token": tok,
		}}}, nil
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
		return invocation{method: pos[0], args: args, render: renderGeneric}, nil
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
