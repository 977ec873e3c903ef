// Package check holds the helpers the components' Validate methods share,
// so that every invalid configuration is refused the same way: the field,
// the rule it breaks and the value given, in one line a person can act on
// ("PollInterval must be positive, got -5s"). Nothing is silently replaced
// by a default: defaults come only from each DefaultConfiguration.
package check

import (
	"cmp"
	"errors"
	"fmt"
)

// FieldError is one invalid field of a configuration. The daemons find it
// with errors.As and name their flag instead of the field (see For).
type FieldError struct {
	// Field is the Go name of the field, "PollInterval" or
	// "Codes.ParseError".
	Field string
	// Rule is what the value must be: "positive", "between 4 and 31".
	Rule string
	// Value is the value given; nil for a required field left unset.
	Value any
}

// Error implements error.
func (e *FieldError) Error() string { return e.For(e.Field) }

// For is the message with name in place of the field, for a daemon that
// calls the field by its flag ("-poll-interval").
func (e *FieldError) For(name string) string {
	switch v := e.Value.(type) {
	case nil:
		return fmt.Sprintf("%s must be %s", name, e.Rule)
	case string:
		return fmt.Sprintf("%s must be %s, got %q", name, e.Rule, v)
	default:
		return fmt.Sprintf("%s must be %s, got %v", name, e.Rule, v)
	}
}

// First returns the first non-nil error of errs: Validate methods list
// their checks in field order and report the first that fails.
func First(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Positive checks that v > 0.
func Positive[T cmp.Ordered](field string, v T) error {
	var zero T
	if v > zero {
		return nil
	}
	return &FieldError{Field: field, Rule: "positive", Value: v}
}

// NotNegative checks that v >= 0.
func NotNegative[T cmp.Ordered](field string, v T) error {
	var zero T
	if v >= zero {
		return nil
	}
	return &FieldError{Field: field, Rule: "zero or more", Value: v}
}

// Between checks that lo <= v <= hi.
func Between[T cmp.Ordered](field string, v, lo, hi T) error {
	if v >= lo && v <= hi {
		return nil
	}
	return &FieldError{Field: field, Rule: fmt.Sprintf("between %v and %v", lo, hi), Value: v}
}

// Set checks that a required field is set: ok is false for an empty
// string or a nil logger, clock or function. rule says what to give
// ("set", "a folder").
func Set(field string, ok bool, rule string) error {
	if ok {
		return nil
	}
	return &FieldError{Field: field, Rule: rule}
}

// Flags rewrites err in the terms of a command line: when err holds a
// FieldError whose field names lists, the result is the FieldError's
// message with "-" and the flag name in place of the field, alone (the
// component's prefix is of no use to the person typing the flags);
// otherwise err is returned as is.
func Flags(err error, names map[string]string) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		if name, ok := names[fe.Field]; ok {
			return errors.New(fe.For("-" + name))
		}
	}
	return err
}

// Nested returns err with the field of its FieldError prefixed by prefix
// and a dot: the Validate of a configuration that holds another one
// reports "Filters.MaxTerms", not "MaxTerms".
func Nested(prefix string, err error) error {
	var fe *FieldError
	if errors.As(err, &fe) {
		return &FieldError{Field: prefix + "." + fe.Field, Rule: fe.Rule, Value: fe.Value}
	}
	return err
}
