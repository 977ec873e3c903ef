// Package secretfile keeps files that hold secrets (device tokens, keys,
// the AM's database) readable by their owner only. The daemons create
// such files with mode 0600 and, at start, tighten the ones they own that
// an older version or an operator left open to the group or others
// (Tighten: fix and let the caller warn); a secret an operator hands over
// (a token file) is refused instead (Check), as ssh refuses an open key:
// changing the mode of someone else's file behind their back would hide
// the mistake.
package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Mode is the mode of every file holding a secret.
const Mode fs.FileMode = 0o600

// open tells whether perm gives the group or others any access.
func open(perm fs.FileMode) bool { return perm&0o077 != 0 }

// Create makes path empty with Mode if it does not exist (an existing file
// is left alone), so that a library that creates it later with its own
// default mode (SQLite's 0644) finds it made.
func Create(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Mode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("unable to create %s: %w", path, err)
	}
	return f.Close()
}

// Tighten sets path's mode to Mode when the group or others have any
// access to it, and returns the mode it had (0 when nothing changed or
// the file does not exist). Symbolic links are not followed: a link is
// an error, so that a link cannot make the daemon change another file.
func Tighten(path string) (fs.FileMode, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("unable to check the mode of %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s holds a secret but is not a regular file (%v)", path, fi.Mode().Type())
	}
	if !open(fi.Mode().Perm()) {
		return 0, nil
	}
	if err := os.Chmod(path, Mode); err != nil {
		return 0, fmt.Errorf("unable to make %s readable by its owner only: %w", path, err)
	}
	return fi.Mode().Perm(), nil
}

// Check refuses a secret file the group or others may access, with the
// command that fixes it.
func Check(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("unable to check the mode of %s: %w", path, err)
	}
	if open(fi.Mode().Perm()) {
		return fmt.Errorf("%s holds a secret but its mode %04o lets the group or others read it: chmod 600 %s",
			path, fi.Mode().Perm(), path)
	}
	return nil
}
