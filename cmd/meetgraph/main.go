// Command meetgraph runs the meetgraph GraphQL gateway, its workers, and the
// tools that operate them. Run `meetgraph --help` for the subcommands and
// settings.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// The signals stay caught until the process exits, so that a second
	// SIGINT or SIGTERM during the last steps of shutdown cannot kill it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	os.Exit(exitCode(run(ctx, os.Args[1:], os.Stdout, os.Stderr), os.Stderr))
}

// exitCode returns the process status for run's error and prints the error
// unless kong has already printed it: 0 for nil, kong's status for --help and
// usage errors (2), and 1 for every other failure.
func exitCode(err error, stderr io.Writer) int {
	var request exitRequest

	switch {
	case err == nil:
		return 0
	case errors.As(err, &request):
		return request.code
	default:
		fmt.Fprintln(stderr, "meetgraph:", err)

		return 1
	}
}

// exitRequest carries the status that kong asks for after --help or a usage
// error, so that run returns instead of exiting the process.
type exitRequest struct{ code int }

func (e exitRequest) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run parses args and runs the chosen subcommand until it finishes or ctx
// is cancelled.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	var cli CLI

	defer func() {
		// kong reports --help and usage errors by calling Exit, which panics
		// with exitRequest here; those messages are already printed.
		if recovered := recover(); recovered != nil {
			request, ok := recovered.(exitRequest)
			if !ok {
				panic(recovered)
			}

			if request.code != 0 {
				err = request
			}
		}
	}()

	parser, err := newParser(&cli, stdout, stderr)
	if err != nil {
		return err
	}

	kctx, err := parser.Parse(args)
	if err != nil {
		parser.Errorf("%s", err)
		fmt.Fprintf(stderr, "Run %q for usage.\n", "meetgraph --help")

		return exitRequest{code: 2}
	}

	env := &environment{ctx: ctx, globals: &cli.Globals, stdout: stdout, stderr: stderr}
	env.logger = newLogger(cli.LogFormat, cli.LogLevel, stderr)

	return kctx.Run(env)
}
