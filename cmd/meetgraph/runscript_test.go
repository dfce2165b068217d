package main

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meetgraph/meetgraph/internal/testenv"
)

// scripts/run is the README's first command: the URL it prints has to
// work when the user opens it.
func TestRunScriptPrintsURLWhenServing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the whole system")
	}

	root, err := filepath.Abs("../..")
	require.NoError(t, err)

	bucket := testenv.Bucket(t)
	addr := testenv.FreeAddr(t)

	script := exec.Command("bash", filepath.Join(root, "scripts", "run"))
	script.Dir = root
	script.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	script.Stderr = lineLogger{t}
	script.Env = append(os.Environ(),
		"MEETGRAPH_DATABASE_URL="+testenv.DatabaseURL(t),
		"MEETGRAPH_AMQP_URL="+testenv.VHost(t),
		"MEETGRAPH_S3_ENDPOINT="+bucket.Endpoint,
		"MEETGRAPH_S3_ACCESS_KEY="+bucket.AccessKey,
		"MEETGRAPH_S3_SECRET_KEY="+bucket.SecretKey,
		"MEETGRAPH_S3_BUCKET="+bucket.Bucket,
		"MEETGRAPH_HTTP_ADDR="+addr,
	)

	stdout, err := script.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, script.Start())

	exited := make(chan error, 1)

	t.Cleanup(func() {
		// The script and the meetgraph process it started share a process group.
		_ = syscall.Kill(-script.Process.Pid, syscall.SIGKILL)
	})

	url := make(chan string, 1)

	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			t.Log("scripts/run: " + lines.Text())

			if rest, ok := strings.CutPrefix(lines.Text(), "Playground: "); ok {
				url <- rest
			}
		}

		exited <- script.Wait()
	}()

	var playground string

	select {
	case playground = <-url:
	case err := <-exited:
		t.Fatalf("scripts/run exited before printing the Playground URL: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("scripts/run printed no Playground URL within 5 minutes")
	}

	require.Equal(t, "http://"+addr+"/", playground)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	request, err := http.NewRequestWithContext(ctx, http.MethodGet, playground, nil)
	require.NoError(t, err)

	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err, "the Playground URL should answer as soon as it is printed")
	require.NoError(t, response.Body.Close())
	require.Equal(t, http.StatusOK, response.StatusCode)

	// Ctrl-C in a terminal signals the whole foreground process group.
	require.NoError(t, syscall.Kill(-script.Process.Pid, syscall.SIGINT))

	select {
	case err := <-exited:
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			t.Fatalf("scripts/run exited with %d after SIGINT", exitErr.ExitCode())
		}

		require.NoError(t, err)
	case <-time.After(60 * time.Second):
		t.Fatal("scripts/run did not stop within 60s of SIGINT")
	}
}

// lineLogger writes what a child process prints to the test log.
type lineLogger struct{ t *testing.T }

func (l lineLogger) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))

	return len(p), nil
}

func TestRunScriptHelpStartsNothing(t *testing.T) {
	t.Parallel()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	script := exec.CommandContext(ctx, "bash", "../../scripts/run", "--help")
	// Whatever the script would start stays on a port nothing listens on.
	script.Env = append(os.Environ(), "MEETGRAPH_HTTP_ADDR="+testenv.FreeAddr(t))

	output, err := script.CombinedOutput()
	require.NoError(t, err, string(output))
	require.Contains(t, string(output), "Usage: scripts/run")
}

func TestRunScriptRejectsBusyAddress(t *testing.T) {
	t.Parallel()

	listener, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = listener.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	script := exec.CommandContext(ctx, "bash", "../../scripts/run")
	script.Env = append(os.Environ(), "MEETGRAPH_HTTP_ADDR="+listener.Addr().String())

	output, err := script.CombinedOutput()
	require.Error(t, err, string(output))
	require.Contains(t, string(output), listener.Addr().String()+" is already in use")
	require.NotContains(t, string(output), "Playground:")
}
