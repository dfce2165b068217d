// Command meetgraph-load measures the gateway's query path: it seeds a
// benchmark database, serves a bare gqlgen server for comparison, and
// sends GraphQL queries at a fixed concurrency or a fixed arrival rate,
// reporting throughput, latency percentiles, the server's CPU time per
// request and SQL statements per request. bench/sync.sh runs the whole
// comparison; see docs/benchmarks.md.
//
// It sends traffic only to the URL it is given, which should be a gateway
// on this machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "meetgraph-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("missing subcommand: use seed, bare or run (each takes -h)")
	}

	switch args[0] {
	case "seed":
		return runSeed(ctx, args[1:])
	case "bare":
		return runBare(ctx, args[1:])
	case "run":
		return runLoad(ctx, args[1:])
	default:
		return fmt.Errorf("unknown subcommand %q: use seed, bare or run", args[0])
	}
}
