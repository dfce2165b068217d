package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// clockTicksPerSecond is the unit of utime and stime in /proc/PID/stat:
// USER_HZ, which is 100 on every mainstream Linux architecture.
const clockTicksPerSecond = 100

// processCPU returns the user plus system CPU time that process pid has
// used so far, or 0 when pid is 0.
func processCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}

	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}

	// The command name in parentheses may contain spaces, so the fields
	// are counted from the last closing parenthesis: state is the first
	// after it, utime the 12th and stime the 13th.
	end := strings.LastIndexByte(string(raw), ')')
	if end < 0 {
		return 0, fmt.Errorf("read CPU time of process %d: %w", pid, errMalformedStat)
	}

	fields := strings.Fields(string(raw[end+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("read CPU time of process %d: /proc stat has %d fields", pid, len(fields))
	}

	var ticks int64

	for _, field := range fields[11:13] {
		value, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read CPU time of process %d: %w", pid, err)
		}

		ticks += value
	}

	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// statementCount returns the committed and rolled-back transactions of
// the database at databaseURL. Every statement that pgx sends outside a
// transaction is one transaction of its own, so the difference over a run
// counts the gateway's statements, once PostgreSQL has flushed its
// backends' counters. It returns 0 when databaseURL is empty.
func statementCount(ctx context.Context, databaseURL string) (int64, error) {
	if databaseURL == "" {
		return 0, nil
	}

	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return 0, fmt.Errorf("connect to read statistics: %w", err)
	}
	defer conn.Close(ctx)

	var count int64

	err = conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database
		WHERE datname = current_database()`).Scan(&count)
	if err != nil {
		return 0, fmt.Errorf("read transaction count: %w", err)
	}

	return count, nil
}
