// Package readme holds the test that runs every Go program printed in the
// repository's README.md, so that what a newcomer copies runs as printed.
package readme
