package graph_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// root is the module's root, where the scripts and schema files are: the
// tests run in graph/.
const root = ".."

// npmTools returns the bin folder of the pinned schema tools, installing
// them into the cache folder first when missing (scripts/npm-tools.sh).
var npmTools = sync.OnceValues(func() (string, error) {
	var stderr bytes.Buffer
	cmd := exec.Command("scripts/npm-tools.sh", "bin")
	cmd.Dir = root
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &exec.ExitError{ProcessState: cmd.ProcessState, Stderr: stderr.Bytes()}
	}
	return strings.TrimSpace(string(out)), nil
})

func toolsBin(t *testing.T) string {
	t.Helper()
	bin, err := npmTools()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("scripts/npm-tools.sh bin: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	return bin
}

// tool runs one of the schema tools and returns its combined output and
// whether it exited 0.
func tool(t *testing.T, name string, env []string, args ...string) (string, bool) {
	t.Helper()
	bin := toolsBin(t)
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Dir = root // codegen.yml names its files from the module's root
	// Plugins named in codegen.yml resolve from the tools' node_modules.
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+filepath.Dir(bin)), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "%s could not start: %s", name, out)
		return string(out), false
	}
	return string(out), true
}

// TestSchemaSDLIsTheFile: /schema.graphql serves schema.graphqls byte for
// byte, so codegen from the file and from the endpoint agree.
func TestSchemaSDLIsTheFile(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	file, err := os.ReadFile(filepath.Join(root, "schema.graphqls"))
	require.NoError(t, err)
	res, err := http.Get(api.URL + "/schema.graphql")
	require.NoError(t, err)
	defer res.Body.Close()
	served, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, string(file), string(served))
}

// TestCodegen (make codegen-check): GraphQL Code Generator introspects a
// live server and generates TypeScript for the operations in examples/,
// which tsc then compiles in strict mode. An operation the schema does not
// allow makes it fail. Not parallel: node and tsc take both cores for
// seconds, which would starve the timing-sensitive tests running beside it.
func TestCodegen(t *testing.T) {
	api := apitest.New(t)
	out := t.TempDir()
	env := []string{"SCHEMA_URL=" + api.URL + "/graphql", "CODEGEN_OUT=" + out}

	log, ok := tool(t, "graphql-codegen", env, "--config", "codegen.yml")
	require.True(t, ok, "graphql-codegen: %s", log)
	for file, wants := range map[string][]string{
		"schema.ts": {"export type Task = ", "export type Query = ", "export type Mutation = ", "export type Subscription = ",
			"export type CreateTaskInput = ", "export type TaskStatus =", "Time: { input: string; output: string; }"},
		"operations.ts": {"export type ListTasksQuery = ", "export type ListTasksQueryVariables = ",
			"export type TaskDetailQuery = ", "export type CreateTaskMutation = ", "export type TransitionTaskMutation = ",
			"export type SearchTasksQuery = ", "export type SubscribeTaskSubscription = ", "export type CreateTaskInput = "},
	} {
		ts, err := os.ReadFile(filepath.Join(out, file))
		require.NoError(t, err, log)
		for _, want := range wants {
			assert.Contains(t, string(ts), want, file)
		}
		log, ok := tool(t, "tsc", nil, "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", filepath.Join(out, file))
		assert.True(t, ok, "tsc on the generated %s: %s", file, log)
	}

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "bad.graphql"),
		[]byte("query Bad { tasks(first: 5) { nodes { title colour } } }\n"), 0o644))
	log, ok = tool(t, "graphql-codegen", append(env, "CODEGEN_DOCUMENTS="+filepath.Join(bad, "*.graphql")), "--config", "codegen.yml")
	assert.False(t, ok, "an invalid operation fails codegen")
	assert.Contains(t, log, `Cannot query field "colour" on type "Task"`)
}

// TestSchemaDiff (make schema-diff): graphql-inspector passes an additive
// change and fails a breaking one, against the released schema. Not
// parallel, for the same reason as TestCodegen.
func TestSchemaDiff(t *testing.T) {
	toolsBin(t) // install once, before the script runs
	released, err := os.ReadFile(filepath.Join(root, "schema", "released.graphqls"))
	require.NoError(t, err)
	dir := t.TempDir()
	write := func(name, sdl string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(sdl), 0o644))
		return p
	}
	require.Contains(t, string(released), "type Query {\n")
	require.Contains(t, string(released), "  title: String!\n")
	added := write("added.graphqls", strings.Replace(string(released), "type Query {\n", "type Query {\n  hello: String\n", 1))
	broken := write("broken.graphqls", strings.Replace(string(released), "  title: String!\n", "  title: String\n", 1))

	for _, c := range []struct {
		name, schema string
		ok           bool
		says         string
	}{
		{"additive", added, true, "No breaking changes detected"},
		{"breaking", broken, false, "changed type from String! to String"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("scripts/npm-tools.sh", "schema-diff", "schema/released.graphqls", c.schema)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			assert.Equal(t, c.ok, err == nil, "exit status: %v\n%s", err, out)
			assert.Contains(t, string(out), c.says)
		})
	}
}
