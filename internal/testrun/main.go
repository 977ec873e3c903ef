// Command testrun runs a `go test` command with -json and prints what the
// plain command prints (package lines and the output of failing tests), plus
// every skipped test with its reason. In CI (the CI environment variable
// set), a skipped test fails the run: there make deps installs every tool
// the tests need, so no test may go missing silently.
//
// Usage, from the Makefile:
//
//	go run ./internal/testrun go test -race -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("CI") != "", os.Stdout, os.Stderr))
}

// run runs the go test command args and returns the exit code: go test's,
// or 1 when tests were skipped and ci is set.
func run(args []string, ci bool, stdout, stderr io.Writer) int {
	i := slices.Index(args, "test")
	if len(args) < 2 || i != 1 {
		fmt.Fprintln(stderr, "usage: testrun go test [flags] [packages]")
		return 2
	}
	cmdArgs := append(slices.Clone(args[1:i+1]), "-json")
	cmdArgs = append(cmdArgs, args[i+1:]...)
	cmd := exec.Command(args[0], cmdArgs...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintf(stderr, "testrun: unable to run %s: %v\n", args[0], err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "testrun: unable to run %s: %v\n", args[0], err)
		return 2
	}
	f := newFilter(stdout)
	readErr := f.read(out)
	err = cmd.Wait()
	if readErr != nil {
		fmt.Fprintf(stderr, "testrun: unable to read go test's output: %v\n", readErr)
		return 2
	}
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		fmt.Fprintf(stderr, "testrun: %v\n", err)
		return 2
	}
	return f.finish(ci, code)
}

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output events
	Test       string
	Output     string
}

// testOutput is what one test printed, kept until it ends.
type testOutput struct {
	result string   // its "--- FAIL: name (1.00s)" line
	lines  []string // the rest of its own output
	tail   []string // its failed subtests' output, printed after it
}

// text is the test's output as the plain command prints it: the result line
// first, then the logs, then the failed subtests.
func (o *testOutput) text() []string {
	var text []string
	if o.result != "" {
		text = append(text, o.result)
	}
	return append(append(text, o.lines...), o.tail...)
}

// filter turns the event stream into plain go test output.
type filter struct {
	w       io.Writer
	running map[string]*testOutput // key: package + " " + test
	skipped []string               // package: test
}

func newFilter(w io.Writer) *filter {
	return &filter{w: w, running: map[string]*testOutput{}}
}

// read consumes the event stream until EOF. Lines that are not JSON
// events are printed as they are.
func (f *filter) read(r io.Reader) error {
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			var e event
			if json.Unmarshal([]byte(line), &e) != nil || e.Action == "" {
				fmt.Fprint(f.w, line)
			} else {
				f.event(e)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// event handles one event.
func (f *filter) event(e event) {
	if e.Test == "" {
		if e.Action == "output" || e.Action == "build-output" {
			// The plain command prints no PASS line for a package.
			if e.Output != "PASS\n" {
				f.flushPackage(e.Package)
				fmt.Fprint(f.w, e.Output)
			}
		}
		return
	}
	key := e.Package + " " + e.Test
	switch e.Action {
	case "output":
		if strings.HasPrefix(strings.TrimLeft(e.Output, " "), "=== ") {
			return // === RUN, PAUSE, CONT, NAME: -v only
		}
		o := f.running[key]
		if o == nil {
			o = &testOutput{}
			f.running[key] = o
		}
		if isResult(e.Output, e.Test) {
			o.result = e.Output
		} else {
			o.lines = append(o.lines, e.Output)
		}
	case "skip":
		f.skipped = append(f.skipped, e.Package+": "+e.Test)
		if o := f.running[key]; o != nil {
			f.print(o)
		}
		delete(f.running, key)
	case "pass":
		delete(f.running, key)
	case "fail":
		o := f.running[key]
		delete(f.running, key)
		if o == nil {
			return
		}
		parent, sub := parentOf(e.Test)
		if !sub {
			f.print(o)
			return
		}
		// The plain command prints a failed subtest under its parent,
		// indented.
		pkey := e.Package + " " + parent
		p := f.running[pkey]
		if p == nil {
			p = &testOutput{}
			f.running[pkey] = p
		}
		for _, l := range o.text() {
			p.tail = append(p.tail, "    "+l)
		}
	}
}

// flushPackage prints what unfinished tests of a package printed, before
// package-level output: a panic or a timeout ends them without a result.
func (f *filter) flushPackage(pkg string) {
	var keys []string
	for k := range f.running {
		if strings.HasPrefix(k, pkg+" ") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		f.print(f.running[k])
		delete(f.running, k)
	}
}

func (f *filter) print(o *testOutput) {
	for _, l := range o.text() {
		fmt.Fprint(f.w, l)
	}
}

// isResult tells whether line is test's closing "--- PASS/FAIL/SKIP" line.
func isResult(line, test string) bool {
	for _, r := range []string{"--- PASS: ", "--- FAIL: ", "--- SKIP: "} {
		if strings.HasPrefix(strings.TrimLeft(line, " "), r+test+" (") {
			return true
		}
	}
	return false
}

// finish lists the skipped tests and returns the exit code.
func (f *filter) finish(ci bool, code int) int {
	if len(f.skipped) == 0 {
		if code != 0 {
			fmt.Fprintln(f.w, "FAIL") // as the plain command ends
		}
		return code
	}
	fmt.Fprintf(f.w, "skipped %d tests:\n", len(f.skipped))
	for _, s := range f.skipped {
		fmt.Fprintf(f.w, "\t%s\n", s)
	}
	if ci {
		fmt.Fprintf(f.w, "FAIL\t%d tests skipped in CI, where every test must run (make deps installs the tools they need)\n", len(f.skipped))
		if code == 0 {
			code = 1
		}
	} else if code != 0 {
		fmt.Fprintln(f.w, "FAIL")
	}
	return code
}

// parentOf returns the parent of a subtest (the name up to its last slash)
// and whether test is a subtest at all.
func parentOf(test string) (parent string, ok bool) {
	i := strings.LastIndexByte(test, '/')
	if i < 0 {
		return "", false
	}
	return test[:i], true
}
