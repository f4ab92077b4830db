// Package observe exports what the Worker API's pools and remote queues
// are doing: Prometheus metrics, OpenTelemetry metrics and traces, and a
// live dashboard. It plugs into the core through the hooks of
// workers.Config and remote.Config (OnTaskStart, OnTaskDone, and the
// remote caller's hooks), which cost nothing when unset.
package observe
