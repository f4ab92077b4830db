package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Give-backs. A worker that returns a task it never started (at Shutdown,
// or a task beyond its window) does so with a NAK, and the server counts
// the next delivery as a redelivery. For a NotIdempotent function that
// count alone cannot tell "its worker was lost" from "its worker gave it
// back unstarted", so before the NAK the worker records the give-back in
// the queue's small key-value bucket VELA_GIVEN_<queue>, under the task's
// key, "<user>.<client>.<n>" (not its id alone, which another user could
// give one of its own tasks: see taskHead). A worker that receives such a task with delivery count d runs it
// only if all d-1 earlier deliveries were give-backs. Only NotIdempotent
// tasks that are given back or redelivered cost these calls; nothing else
// touches the bucket.

// givenTTL is how long a give-back is remembered: a NotIdempotent task
// given back and still queued after this long fails with ErrWorkerLost
// when it is delivered, as if its worker had been lost.
const givenTTL = 24 * time.Hour

func (l *link) bucketConfig(s *settings) jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket:   s.bucket,
		TTL:      givenTTL,
		Storage:  l.storage(),
		Replicas: s.replicas(),
	}
}

// ensureBucket creates the give-back bucket if it is missing.
func (l *link) ensureBucket(ctx context.Context, s *settings) (jetstream.KeyValue, error) {
	kv, err := l.js.CreateKeyValue(ctx, l.bucketConfig(s))
	if errors.Is(err, jetstream.ErrBucketExists) {
		kv, err = l.js.KeyValue(ctx, s.bucket)
	}
	if err != nil {
		return nil, fmt.Errorf("remote: give-back bucket of %s: %w", s.stream, err)
	}
	return kv, nil
}

// givenBack returns how many times the task key was given back unstarted.
func givenBack(ctx context.Context, kv jetstream.KeyValue, key string) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(e.Value()), 10, 64)
}

// noteGiveBack adds one give-back to the task key's count.
func noteGiveBack(ctx context.Context, kv jetstream.KeyValue, key string) error {
	n, err := givenBack(ctx, kv, key)
	if err != nil {
		return err
	}
	_, err = kv.Put(ctx, key, strconv.AppendUint(nil, n+1, 10))
	return err
}

// forgetGiveBacks drops the task key's record once it is answered.
func forgetGiveBacks(ctx context.Context, kv jetstream.KeyValue, key string) {
	_ = kv.Purge(ctx, key)
}
