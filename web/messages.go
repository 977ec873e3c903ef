package web

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/gimsproject/gims/am"
	"github.com/gimsproject/gims/amapi"
)

// The GUI speaks to people, not to API clients: the manager's messages
// that name API methods ("ListDevices is for admins", "PauseExperiment is
// not allowed from done") are said again in words, and the manager's own
// text is kept as the technical detail (folded under the message).

// adminActions says what each admin-only API method does, for "Only
// admins can …".
var adminActions = map[string]string{
	"AddDevice":        "add devices",
	"AddUser":          "add users",
	"CreateActivation": "make activation codes",
	"CreateKey":        "make keys",
	"DeleteActivation": "revoke activation codes",
	"DeleteDevice":     "delete devices",
	"DeleteKey":        "delete keys",
	"DeleteUser":       "delete users",
	"EditDevice":       "change devices",
	"EditUser":         "change users",
	"GetAuditLog":      "read the audit log",
	"ListActivations":  "list activation codes",
	"ListDevices":      "list devices",
	"ListKeys":         "list keys",
	"ListUsers":        "list users",
}

// stateVerbs says what each lifecycle method does to an experiment, for
// "An experiment that is done cannot be paused".
var stateVerbs = map[string]string{
	"StartExperiment":     "started",
	"PauseExperiment":     "paused",
	"StopExperiment":      "stopped",
	"ConfigureExperiment": "configured",
	"DeleteExperiment":    "deleted",
}

var (
	adminRE = regexp.MustCompile(`(\w+) is for admins; \S+ is an? \w+`)
	stateRE = regexp.MustCompile(`experiment \d+ is (\w+); (\w+) is not allowed from \w+`)
	inUseRE = regexp.MustCompile(`device "([^"]+)"`)
)

// words turns "ListDevices" into "list devices".
func words(method string) string {
	var b strings.Builder
	for i, r := range method {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte(' ')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// humanize returns the sentence a person reads for a manager error and,
// when it differs, the manager's own text as the technical detail.
func humanize(err error) (msg, detail string) {
	raw := message(err)
	msg = raw
	switch f := am.FaultOf(err); f.Code {
	case amapi.FaultAuth:
		if m := adminRE.FindStringSubmatch(raw); m != nil {
			what, ok := adminActions[m[1]]
			if !ok {
				what = words(m[1])
			}
			msg = "Only admins can " + what + "."
		} else {
			msg = strings.TrimPrefix(raw, am.ErrAuth.Error()+": ")
		}
	case amapi.FaultState:
		if m := stateRE.FindStringSubmatch(raw); m != nil {
			verb, ok := stateVerbs[m[2]]
			if !ok {
				verb = "changed by " + words(m[2])
			}
			msg = fmt.Sprintf("An experiment that is %s cannot be %s.", m[1], verb)
		}
	case amapi.FaultConflict:
		if strings.Contains(raw, "in use") {
			what := "This device"
			if m := inUseRE.FindStringSubmatch(raw); m != nil && m[1] != "" {
				what = "Device " + m[1]
			}
			msg = what + " is used by a running or paused experiment: stop that experiment (or wait until it ends), then try again."
		}
	case amapi.FaultDevice:
		msg = deviceSentence(raw)
	}
	if msg == raw {
		return capitalize(msg), ""
	}
	return capitalize(msg), raw
}

// deviceSentence says what a failed call to a capture device means.
func deviceSentence(raw string) string {
	switch {
	case strings.Contains(raw, "context deadline exceeded"), strings.Contains(raw, "Client.Timeout"),
		strings.Contains(raw, "i/o timeout"):
		return "The capture device did not answer in time: is gims-capd running, and is the address right? " +
			"(It accepted the connection, or the network dropped it, but sent no answer.)"
	case strings.Contains(raw, "connection refused"):
		return "The capture device refused the connection: is gims-capd running on that host and port?"
	case strings.Contains(raw, "no such host"), strings.Contains(raw, "lookup "):
		return "The capture device's host name could not be resolved: check the host name."
	case strings.Contains(raw, "certificate"):
		return "The capture device's certificate does not match: compare its SHA-256 with the pin."
	case strings.Contains(raw, "refused:"):
		return "The capture device refused the request."
	}
	return "The capture device could not be reached."
}

// capitalize starts a sentence with a capital letter.
func capitalize(s string) string {
	for i, r := range s {
		return string(unicode.ToUpper(r)) + s[i+len(string(r)):]
	}
	return s
}

// plural writes "1 transition", "2 transitions".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
