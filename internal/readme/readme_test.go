package readme_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// snippet is one fenced Go block of the README.
type snippet struct {
	line int    // where its fence opens, 1-based
	code string // the program
	want string // the lines of its trailing "// Output:" comment
}

// goSnippets returns the README's ```go blocks in order.
func goSnippets(t *testing.T, readme []byte) []snippet {
	t.Helper()
	var out []snippet
	var cur *snippet
	var body strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(readme))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```go":
			cur = &snippet{line: n}
			body.Reset()
		case cur != nil && strings.TrimSpace(line) == "```":
			cur.code = body.String()
			cur.want = expected(cur.code)
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a ```go block is never closed", cur.line)
	}
	return out
}

// expected returns the text of the program's "// Output:" comment, one
// line per comment line, as Go's examples write it.
func expected(code string) string {
	_, after, ok := strings.Cut(code, "\n// Output:\n")
	if !ok {
		return ""
	}
	var b strings.Builder
	for l := range strings.SplitSeq(strings.TrimRight(after, "\n"), "\n") {
		b.WriteString(strings.TrimPrefix(strings.TrimPrefix(l, "//"), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// repoModules returns the absolute directories of the modules that the
// repository's go.work joins.
func repoModules(t *testing.T, root string) []string {
	t.Helper()
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	inUse := false
	for l := range strings.SplitSeq(string(work), "\n") {
		l = strings.TrimSpace(l)
		switch {
		case l == "use (":
			inUse = true
		case inUse && l == ")":
			inUse = false
		case inUse && l != "":
			dirs = append(dirs, filepath.Join(root, l))
		case strings.HasPrefix(l, "use ") && !strings.HasSuffix(l, "("):
			dirs = append(dirs, filepath.Join(root, strings.TrimSpace(strings.TrimPrefix(l, "use "))))
		}
	}
	if len(dirs) == 0 {
		t.Fatal("go.work lists no module")
	}
	return dirs
}

// TestREADMEProgramsRun builds and runs every Go block of the README as a
// program of a scratch module joined to the repository's workspace, and
// compares what it prints with its "// Output:" comment. A Go block that is
// not a whole program, or has no expected output, fails the test: snippets
// in the README are meant to be copied.
func TestREADMEProgramsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs programs with the go command")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	snips := goSnippets(t, readme)
	if len(snips) == 0 {
		t.Fatal("README.md has no Go program")
	}
	mods := repoModules(t, root)
	for _, s := range snips {
		t.Run(fmt.Sprintf("line%d", s.line), func(t *testing.T) {
			if !strings.HasPrefix(s.code, "package main\n") {
				t.Fatalf("README.md:%d: a Go block must be a whole program (package main ...)", s.line)
			}
			if s.want == "" {
				t.Fatalf("README.md:%d: the program must end with an // Output: comment", s.line)
			}
			dir := t.TempDir()
			write(t, filepath.Join(dir, "main.go"), s.code)
			write(t, filepath.Join(dir, "go.mod"), "module readmeprogram\n\ngo 1.26.0\n")
			work := "go 1.26.0\n\nuse (\n\t.\n"
			for _, m := range mods {
				work += "\t" + m + "\n"
			}
			work += ")\n"
			write(t, filepath.Join(dir, "go.work"), work)
			if sum, err := os.ReadFile(filepath.Join(root, "go.work.sum")); err == nil {
				write(t, filepath.Join(dir, "go.work.sum"), string(sum))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "go", "run", ".") // go test puts its own go first in PATH
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(dir, "go.work"), "GOFLAGS=-mod=readonly")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("README.md:%d: go run: %v\n%s%s", s.line, err, stdout.String(), stderr.String())
			}
			if got := stdout.String(); got != s.want {
				t.Fatalf("README.md:%d: the program printed\n%s\nwant (its // Output: comment)\n%s", s.line, got, s.want)
			}
		})
	}
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
