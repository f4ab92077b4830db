package main

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(workerEnv); url != "" {
		os.Exit(serve(url)) // a worker process started by run
	}
	goleak.VerifyTestMain(m)
}

// The demo, small: every result arrives and is checked although a worker
// process is killed a third of the way through.
func TestDemoSurvivesAKilledWorker(t *testing.T) {
	var out strings.Builder
	if err := run(&out, 40, 2, 2000, 0.3); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	for _, want := range []string{"killed worker", "all 40 results arrived and are correct", "local pool"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestDemoRefusesBadFlags(t *testing.T) {
	if err := run(&strings.Builder{}, 0, 1, 1, 0); err == nil {
		t.Fatal("no error for -tasks 0")
	}
}
