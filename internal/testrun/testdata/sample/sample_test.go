package sample

import (
	"os"
	"testing"
)

func TestPass(t *testing.T) {
	t.Log("passing log")
}

func TestSkip(t *testing.T) {
	t.Skip("no such tool")
}

func TestSub(t *testing.T) {
	t.Run("ok", func(t *testing.T) { t.Log("sub passing log") })
	t.Run("bad", func(t *testing.T) {
		if os.Getenv("SAMPLE_FAIL") != "" {
			t.Error("sub failure")
		}
	})
	t.Run("skipped", func(t *testing.T) { t.Skip("sub skip") })
}

func TestPanic(t *testing.T) {
	if os.Getenv("SAMPLE_PANIC") != "" {
		t.Log("before the panic")
		panic("sample panic")
	}
}
