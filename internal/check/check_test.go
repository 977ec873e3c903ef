package check

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestMessages(t *testing.T) {
	for i, tc := range []struct {
		err  error
		want string
	}{
		{Positive("PollInterval", -5*time.Second), "PollInterval must be positive, got -5s"},
		{Positive("MaxJobs", 0), "MaxJobs must be positive, got 0"},
		{NotNegative("TemplateRefresh", -time.Second), "TemplateRefresh must be zero or more, got -1s"},
		{Between("BcryptCost", 3, 4, 31), "BcryptCost must be between 4 and 31, got 3"},
		{Between("Version", "", "a", "z"), `Version must be between a and z, got ""`},
		{Set("Logger", false, "set"), "Logger must be set"},
		{First(nil, Positive("A", 1), Positive("B", 0), Positive("C", 0)), "B must be positive, got 0"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("#%d: error %v, want %q", i, tc.err, tc.want)
		}
	}
	for i, err := range []error{Positive("A", 1), NotNegative("A", 0), Between("A", 4, 4, 31), Set("A", true, "set"), First()} {
		if err != nil {
			t.Errorf("#%d: error %v, want none", i, err)
		}
	}
}

func TestFor(t *testing.T) {
	err := fmt.Errorf("invalid aggregate manager configuration: %w", Positive("PollInterval", -5*time.Second))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("errors.As(%v) found no FieldError", err)
	}
	if got, want := fe.For("-poll-interval"), "-poll-interval must be positive, got -5s"; got != want {
		t.Errorf("For() = %q, want %q", got, want)
	}
}

func TestFlags(t *testing.T) {
	names := map[string]string{"PollInterval": "poll-interval"}
	wrapped := fmt.Errorf("invalid aggregate manager configuration: %w", Positive("PollInterval", -5*time.Second))
	for i, tc := range []struct {
		err  error
		want string
	}{
		{wrapped, "-poll-interval must be positive, got -5s"},
		{fmt.Errorf("invalid: %w", Positive("Other", 0)), "invalid: Other must be positive, got 0"},
		{errors.New("plain"), "plain"},
	} {
		if got := Flags(tc.err, names); got.Error() != tc.want {
			t.Errorf("#%d: Flags() = %q, want %q", i, got, tc.want)
		}
	}
	if Flags(nil, names) != nil {
		t.Error("Flags(nil) is not nil")
	}
}
