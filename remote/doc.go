// Package remote runs Worker API tasks on other machines through NATS
// JetStream, and hands each result back as an async.Future.
package remote
