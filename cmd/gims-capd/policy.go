package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gimsproject/gims/deviceapi"
)

// maxPolicyFile bounds the size of a -policy file.
const maxPolicyFile = 1 << 16

// loadPolicy reads -policy: a JSON object with the members of
// deviceapi.Policy, read strictly (an unknown member, a wrong type or
// anything after the object is refused) and checked. Absent members
// impose nothing.
func loadPolicy(path string) (deviceapi.Policy, error) {
	var p deviceapi.Policy
	f, err := os.Open(path)
	if err != nil {
		return p, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFile+1))
	if err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > maxPolicyFile {
		return p, fmt.Errorf("%s: larger than %d bytes", path, maxPolicyFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return p, fmt.Errorf("%s: unexpected data after the JSON object", path)
	}
	if err := p.Normalize(); err != nil {
		return p, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}
