// Command hashtree hashes every regular file under a directory tree with
// SHA-256 and reports the time and the peak resident set size of the
// process, to compare the memory of three ways of bounding the work:
//
//	-mode map       workers.Map over channel.FromSeq(ctx, walk, 64)
//	-mode errgroup  errgroup.Group with SetLimit(GOMAXPROCS), one Go per file
//	-mode spawn     workers.Spawn per file, every future kept until the end
//
// Run each mode in its own process (the peak RSS is the process's):
//
//	go run ./cmd/hashtree -root /usr -mode map
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/velalang/runtime/async"
	"github.com/velalang/runtime/channel"
	"github.com/velalang/runtime/workers"
)

func main() {
	root := flag.String("root", "/usr", "the tree to hash")
	mode := flag.String("mode", "map", "map, errgroup or spawn")
	memprofile := flag.String("memprofile", "", "write an allocation profile to this file")
	flag.Parse()
	start := time.Now()
	files, sum, err := run(*mode, *root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hashtree:", err)
		os.Exit(1)
	}
	if *memprofile != "" {
		if f, err := os.Create(*memprofile); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	fmt.Printf("mode=%s files=%d xor=%02x elapsed=%v peak-rss=%s\n", *mode, files, sum, time.Since(start).Round(time.Millisecond), peakRSS())
}

func run(mode, root string) (files int, sum byte, err error) {
	ctx := context.Background()
	switch mode {
	case "map":
		out := workers.Map(ctx, channel.FromSeq(ctx, walk(root), 64), hashFile)
		for h, err := range out.All(ctx) {
			if err != nil {
				return files, sum, err
			}
			files++
			sum ^= h[0]
		}
	case "errgroup":
		var g errgroup.Group
		g.SetLimit(runtime.GOMAXPROCS(0))
		var mu sync.Mutex
		for path := range walk(root) {
			g.Go(func() error {
				h, err := hashFile(ctx, path)
				if err != nil {
					return err
				}
				mu.Lock()
				files++
				sum ^= h[0]
				mu.Unlock()
				return nil
			})
		}
		err = g.Wait()
	case "spawn":
		var futures []*async.Future[[32]byte]
		for path := range walk(root) {
			futures = append(futures, workers.Spawn(ctx, func(ctx context.Context) ([32]byte, error) { return hashFile(ctx, path) }))
		}
		for _, f := range futures {
			h, err := f.Await(ctx)
			if err != nil {
				return files, sum, err
			}
			files++
			sum ^= h[0]
		}
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	return files, sum, err
}

// walk yields the path of every regular file under root; it skips what it
// cannot read.
func walk(root string) iter.Seq[string] {
	return func(yield func(string) bool) {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.Type().IsRegular() && !yield(path) {
				return filepath.SkipAll
			}
			return nil
		})
	}
}

// buffers are the read buffers of hashFile, reused so that the garbage of
// the hashing itself does not decide the peak RSS (every mode uses them).
var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func hashFile(_ context.Context, path string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, nil // unreadable: counted, hashed as nothing
	}
	defer f.Close()
	h := sha256.New()
	buf := buffers.Get().(*[32 << 10]byte)
	defer buffers.Put(buf)
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf[:]); err != nil { // the struct hides File.WriteTo, which would allocate its own buffer
		return sum, nil
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// peakRSS returns the process's peak resident set size (VmHWM).
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), "")
		}
	}
	return "n/a"
}
