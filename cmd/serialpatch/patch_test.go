package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/generated.go.golden from testdata/generated.go.in")

const (
	inputFile  = "testdata/generated.go.in"
	goldenFile = "testdata/generated.go.golden"
)

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPatchGolden: a small executor as gqlgen generates it is rewritten
// exactly as testdata/generated.go.golden shows (go test -update rewrites
// the golden file): every list, resolver field and @defer group goes
// through its helper, the root fields and the scalar list stay as they are.
func TestPatchGolden(t *testing.T) {
	out, err := patch([]byte(read(t, inputFile)))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(goldenFile, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := string(out), read(t, goldenFile); got != want {
		t.Errorf("patch(%s) differs from %s:\n%s", inputFile, goldenFile, got)
	}
	for _, s := range []string{"MarshalSliceConcurrently", ".ResolveConcurrently", "NewDeferredGroup"} {
		if strings.Contains(string(out), s) {
			t.Errorf("%s remains in the patched code", s)
		}
	}
	for s, n := range map[string]int{
		"marshalSlice(ctx, len(v), 0, false, func(ctx context.Context, i int) graphql.Marshaler {": 1,
		"resolveConcurrently(ctx, out, ec.OperationContext, &deferred, i,\n":                       2,
		"deferred := newDeferredGroup(ctx)\n":                                                      2,
		"out.ResolveRootConcurrently(innerCtx, ":                                                   1,
	} {
		if got := strings.Count(string(out), s); got != n {
			t.Errorf("%q %d times in the patched code, want %d", s, got, n)
		}
	}
}

// TestPatchIdempotent: patching patched code, or code patched in part,
// gives the fully patched code, after the same checks.
func TestPatchIdempotent(t *testing.T) {
	golden := read(t, goldenFile)
	for name, src := range map[string]string{
		"patched": golden,
		"partly patched": strings.Replace(read(t, inputFile),
			"out.ResolveConcurrently(ec.OperationContext, &deferred, i,", "resolveConcurrently(ctx, out, ec.OperationContext, &deferred, i,", 1),
	} {
		out, err := patch([]byte(src))
		if err != nil {
			t.Errorf("%s: %v", name, err)
		} else if string(out) != golden {
			t.Errorf("%s: patch changed it:\n%s", name, out)
		}
	}
}

// TestPatchCommittedExecutor: the committed graph/generated.go is patched
// (patching it changes nothing and passes every check), and undoing the
// three rewrites as text and patching again gives it back byte for byte.
func TestPatchCommittedExecutor(t *testing.T) {
	path := filepath.Join(moduleRoot(t), "graph", "generated.go")
	committed := read(t, path)
	out, err := patch([]byte(committed))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if string(out) != committed {
		t.Fatalf("patching %s changes it: run go generate", path)
	}
	original := strings.NewReplacer(
		"marshalSlice(ctx, ", "graphql.MarshalSliceConcurrently(ctx, ",
		"resolveConcurrently(ctx, out, ", "out.ResolveConcurrently(",
		"newDeferredGroup(ctx)", "graphql.NewDeferredGroup(ctx)",
	).Replace(committed)
	if original == committed {
		t.Fatal("nothing to undo")
	}
	out, err = patch([]byte(original))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != committed {
		t.Error("patching the unpatched executor does not give the committed graph/generated.go")
	}
}

// moduleRoot is the directory of the go.mod above the test's directory
// (wherever the command lives in the module).
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// TestPatchFails: every change of gqlgen's output that the helpers were
// not written for stops the patch with an error naming it, and no output.
func TestPatchFails(t *testing.T) {
	in, golden := read(t, inputFile), read(t, goldenFile)
	// replace replaces each old (of pairs old, new) everywhere in src.
	replace := func(src string, pairs ...string) func(t *testing.T) string {
		return func(t *testing.T) string {
			t.Helper()
			for i := 0; i < len(pairs); i += 2 {
				if !strings.Contains(src, pairs[i]) {
					t.Fatalf("%q not in the fixture", pairs[i])
				}
				src = strings.ReplaceAll(src, pairs[i], pairs[i+1])
			}
			return src
		}
	}
	const (
		sliceCall  = "func(ctx context.Context, i int) graphql.Marshaler {\n\t\tfc := graphql.GetFieldContext(ctx)\n"
		sliceEnd   = "(ctx, sel, v[i])\n\t})\n"
		tasksField = "out.ResolveConcurrently(ec.OperationContext, &deferred, i,\n\t\t\t\ttrue, true,\n"
		tasksEnd   = "return ec._Tag_tasks(ctx, field, obj)\n\t\t\t\t})\n"
	)
	cases := []struct {
		name string
		src  func(t *testing.T) string
		want []string
	}{
		{"MarshalSliceConcurrently renamed", replace(in, "graphql.MarshalSliceConcurrently(", "graphql.MarshalSliceParallel("),
			[]string{"graphql.MarshalSliceConcurrently found 0 times"}},
		{"ResolveConcurrently renamed", replace(in, "out.ResolveConcurrently(", "out.ResolveField("),
			[]string{"(*graphql.FieldSet).ResolveConcurrently found 0 times"}},
		{"NewDeferredGroup renamed", replace(in, "graphql.NewDeferredGroup(", "graphql.NewDeferred("),
			[]string{"graphql.NewDeferredGroup found 0 times"}},
		{"MarshalSliceConcurrently gains an argument", replace(in, "len(v), 0, false,", "len(v), 0, false, nil,"),
			[]string{"line 123: graphql.MarshalSliceConcurrently has 6 arguments, marshalSlice expects 5"}},
		{"ResolveConcurrently loses an argument", replace(in, tasksField, "out.ResolveConcurrently(ec.OperationContext, &deferred, i,\n\t\t\t\ttrue,\n"),
			[]string{"line 79: (*graphql.FieldSet).ResolveConcurrently has 5 arguments, resolveConcurrently expects 6"}},
		{"NewDeferredGroup gains an argument", replace(in, "graphql.NewDeferredGroup(ctx)", "graphql.NewDeferredGroup(ctx, sel)"),
			[]string{"line 29: graphql.NewDeferredGroup has 2 arguments", "line 68: graphql.NewDeferredGroup has 2 arguments"}},
		{"variadic call", replace(in, "graphql.NewDeferredGroup(ctx)", "graphql.NewDeferredGroup(ctx...)"),
			[]string{"graphql.NewDeferredGroup is called with ..."}},
		{"an element marshaled by a method value", replace(in, sliceCall, "ec.marshalTagAt)\n\tmarshal := func(ctx context.Context, i int) graphql.Marshaler {\n\t\tfc := graphql.GetFieldContext(ctx)\n",
			sliceEnd, "(ctx, sel, v[i])\n\t}\n"),
			[]string{"argument 5 is not a func(ctx, i) literal"}},
		{"workerLimit computed", replace(in, "len(v), 0, false,", "len(v), ec.workers, false,"),
			[]string{"argument 3 (workerLimit) is not an integer literal"}},
		{"nonNull computed", replace(in, tasksField, "out.ResolveConcurrently(ec.OperationContext, &deferred, i,\n\t\t\t\ttrue, field.NonNull,\n"),
			[]string{"arguments 4 and 5 (recoverFromPanic, nonNull) are not true or false"}},
		{"deferred group passed by value", replace(in, "ec.OperationContext, &deferred, i,", "ec.OperationContext, deferred, i,"),
			[]string{"argument 2 is not &deferred"}},
		{"a receiver other than a variable", replace(in, "out.ResolveConcurrently(", "ec.fields().ResolveConcurrently("),
			[]string{"its receiver is not a variable"}},
		{"the field set dispatched elsewhere", replace(in, "\tout.Dispatch(ctx)\n", "\tec.dispatch(ctx, out)\n"),
			[]string{"_Tag does not call out.Dispatch(ctx)"}},
		{"the object's context renamed", replace(in, "_Tag(ctx context.Context,", "_Tag(octx context.Context,"),
			[]string{"_Tag has no parameter ctx context.Context"}},
		{"a field scheduled in a function literal", replace(in, tasksField, "func() {\n"+tasksField, tasksEnd, tasksEnd+"}()\n"),
			[]string{"called inside a function literal"}},
		{"an original remains as a method value", replace(in, "\tout.Dispatch(ctx)\n\tif out.Invalids > 0 {\n\t\treturn graphql.Null\n\t}\n\n\tif n",
			"\tschedule := out.ResolveConcurrently\n\t_ = schedule\n\tout.Dispatch(ctx)\n\tif out.Invalids > 0 {\n\t\treturn graphql.Null\n\t}\n\n\tif n"),
			[]string{"(*graphql.FieldSet).ResolveConcurrently is referred to other than by a call"}},
		{"an original remains as a function value", func(*testing.T) string { return in + "\nvar marshalAll = graphql.MarshalSliceConcurrently\n" },
			[]string{"graphql.MarshalSliceConcurrently is referred to other than by a call"}},
		{"zero occurrences", func(*testing.T) string {
			return "package graph\n\nimport \"github.com/99designs/gqlgen/graphql\"\n\nvar _ graphql.Marshaler\n"
		}, []string{"graphql.MarshalSliceConcurrently found 0 times", "(*graphql.FieldSet).ResolveConcurrently found 0 times", "graphql.NewDeferredGroup found 0 times"}},
		{"graphql not imported", func(*testing.T) string { return "package graph\n" },
			[]string{"does not import github.com/99designs/gqlgen/graphql"}},
		{"does not parse", func(*testing.T) string { return in + "\nfunc {" },
			[]string{"does not parse"}},
		{"a new concurrent call", replace(in, "\tret := make(graphql.Array, len(v))\n\tfor i := range v {\n\t\tret[i] = ec.marshalNString2string(ctx, sel, v[i])\n\t}\n",
			"\tret := graphql.MarshalScalarsConcurrently(ctx, len(v), func(i int) graphql.Marshaler { return ec.marshalNString2string(ctx, sel, v[i]) })\n"),
			[]string{"MarshalScalarsConcurrently: a call serialpatch does not know starts goroutines"}},
		{"a go statement", replace(in, "\tout.Dispatch(ctx)\n", "\tgo ec.prefetch(ctx)\n\tout.Dispatch(ctx)\n"),
			[]string{"a go statement"}},
		{"patched code changed: a helper lost ctx", replace(golden, "resolveConcurrently(ctx, out, ", "resolveConcurrently(out, "),
			[]string{"resolveConcurrently has 7 arguments, resolveConcurrently expects 8"}},
		{"patched code changed: a helper's context is not ctx", replace(golden, "resolveConcurrently(ctx, out, ", "resolveConcurrently(context.Background(), out, "),
			[]string{"resolveConcurrently: argument 1 is not ctx"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := patch([]byte(c.src(t)))
			if err == nil {
				t.Fatalf("patch succeeded:\n%s", out)
			}
			if out != nil {
				t.Error("patch gave output with its error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), hint) && !strings.Contains(err.Error(), "does not parse") {
				t.Errorf("error does not say what to do:\n%v", err)
			}
		})
	}
}

// TestVerify: the check of the rewritten code fails when an original call
// remains or a helper is called another number of times, which patch's
// own rewriting cannot produce.
func TestVerify(t *testing.T) {
	before, err := scan([]byte(read(t, inputFile)))
	if err != nil {
		t.Fatal(err)
	}
	patched, err := scan([]byte(read(t, goldenFile)))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(before, patched); err != nil {
		t.Fatalf("the golden file fails: %v", err)
	}
	err = verify(before, before)
	for _, w := range []string{
		"1 graphql.MarshalSliceConcurrently remain after rewriting",
		"2 (*graphql.FieldSet).ResolveConcurrently remain after rewriting",
		"2 graphql.NewDeferredGroup remain after rewriting",
		"0 calls of resolveConcurrently after rewriting, want 2",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("verify(unpatched) does not say %q: %v", w, err)
		}
	}
	short, err := scan([]byte(strings.Replace(read(t, goldenFile), "deferred := newDeferredGroup(ctx)", "deferred := graphql.DeferredGroup{}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(before, short); err == nil || !strings.Contains(err.Error(), "1 calls of newDeferredGroup after rewriting, want 2") {
		t.Errorf("verify(a helper call short) = %v", err)
	}
}

// TestMain lets TestCommand run the command itself: the test binary acts
// as `serialpatch $SERIALPATCH_RUN_MAIN` when that is set.
func TestMain(m *testing.M) {
	if path := os.Getenv("SERIALPATCH_RUN_MAIN"); path != "" {
		os.Args = []string{"serialpatch", path}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestCommand: the command rewrites the file in place and exits 0; on a
// change it does not know it exits 1, names the file and the change, and
// leaves the file as it was.
func TestCommand(t *testing.T) {
	run := func(path string) (string, error) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "SERIALPATCH_RUN_MAIN="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		return stderr.String(), err
	}
	dir := t.TempDir()

	good := filepath.Join(dir, "generated.go")
	if err := os.WriteFile(good, []byte(read(t, inputFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if stderr, err := run(good); err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		if read(t, good) != read(t, goldenFile) {
			t.Fatal("the command did not write the patched code")
		}
	}

	bad := filepath.Join(dir, "renamed.go")
	renamed := strings.ReplaceAll(read(t, inputFile), "MarshalSliceConcurrently", "MarshalSliceParallel")
	if err := os.WriteFile(bad, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr, err := run(bad)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want status 1", err)
	}
	if want := "serialpatch: " + bad + ": graphql.MarshalSliceConcurrently found 0 times"; !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q, want it to start %q", stderr, want)
	}
	if read(t, bad) != renamed {
		t.Error("the command changed a file it failed on")
	}
}
