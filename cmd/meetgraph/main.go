// Command meetgraph runs the meetgraph GraphQL gateway, its workers, and the
// tools that operate them. Run `meetgraph --help` for the subcommands and
// settings.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)

	stop()

	if err != nil {
		fmt.Fprintln(os.Stderr, "meetgraph:", err)
		os.Exit(1)
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
