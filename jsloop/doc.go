// Package jsloop runs JavaScript (goja) on a Vela event loop, with spawn()
// over Go functions on a worker pool and spawnJS() over JavaScript modules
// run in parallel.
package jsloop
