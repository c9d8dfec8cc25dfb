package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/herotasks/api/seed"
)

func seedCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flags("seed", "seed [--tasks N] [--seed S] [--reset] [--if-empty] | seed --repair", stdout)
	tasks := fs.Int("tasks", 1000, "number of tasks to create (each with 3 to 7 subtasks)")
	rngSeed := fs.Int64("seed", 1, "random seed: the same seed writes the same data")
	reset := fs.Bool("reset", false, "delete all existing data first")
	ifEmpty := fs.Bool("if-empty", false, "do nothing when the database already has tasks")
	repair := fs.Bool("repair", false, "only rebuild the indexes and constraints an interrupted bulk seed left dropped")
	if help, err := parse(fs, args); help || err != nil {
		return err
	}
	if *tasks < 0 || *tasks > 10_000_000 {
		return errors.New("--tasks must be between 0 and 10000000")
	}
	_, pool, err := openDB(ctx, getenv)
	if err != nil {
		return err
	}
	defer pool.Close()
	if *repair {
		n, err := seed.Repair(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rebuilt %d indexes and constraints\n", n)
		return nil
	}
	if *ifEmpty && !*reset {
		empty, err := seed.Empty(ctx, pool)
		if err != nil {
			return err
		}
		if !empty {
			fmt.Fprintln(stdout, "database already has tasks; not seeding")
			return nil
		}
	}
	res, err := seed.Run(ctx, pool, seed.Options{Tasks: *tasks, Seed: *rngSeed, Reset: *reset, Progress: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d users, %d tasks, %d subtasks, %d tags, %d task tags, %d subtask tags, %d dependencies, %d events in %s\n",
		res.Users, res.Tasks, res.Subtasks, res.Tags, res.TaskTags, res.SubtaskTags, res.Dependencies, res.Events, res.Elapsed.Round(time.Millisecond))
	var size string
	if err := pool.QueryRow(ctx, "SELECT pg_size_pretty(pg_database_size(current_database()))").Scan(&size); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database size: %s\n", size)
	return nil
}
