//go:build tools

// Package tools pins Prometheus and promtool, the testbed's independent
// oracle for alerting rules, recording rules and dashboard queries.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
