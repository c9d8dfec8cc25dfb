package playground_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/herotasks/api/internal/apitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromium finds the browser: $CHROMIUM, else Debian's /usr/bin/chromium
// (make test installs it: see the Makefile's browser target).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("Debian's chromium is not installed: run `make browser` (apt-get install chromium) or set CHROMIUM")
	}
	return p
}

// offHostProxy is the browser's proxy for every non-loopback address: it
// records the host of each request it is asked to make and refuses it, so
// nothing leaves the machine. Loopback addresses bypass it.
type offHostProxy struct {
	mu   sync.Mutex
	seen []string
}

func (p *offHostProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.Host+r.URL.Path)
	p.mu.Unlock()
	http.Error(w, "off-host request refused by the test", http.StatusForbidden)
}

// chromiumService reports whether host is one of Google's, which Chromium
// itself calls (component updates, the account check, the connectivity
// probe, Android client services...) even with background networking off,
// on a blank page too, and under names that change between versions. The
// page's own requests are checked through DevTools.
func chromiumService(host string) bool {
	host, _, _ = strings.Cut(host, ":")
	for _, domain := range []string{"google.com", "googleapis.com", "gstatic.com"} {
		if host == domain || strings.HasSuffix(host, "."+domain) {
			return true
		}
	}
	return false
}

func (p *offHostProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// TestPlaygroundInBrowser loads the Playground in headless Chromium with
// every off-host address sent to a refusing proxy, runs a query through the
// UI with the pre-filled development token, checks the result pane, opens
// the explorer, then runs a subscription from the UI and sees a change made
// elsewhere arrive. Screenshots: testdata/output/playground*.png (ignored
// by git).
func TestPlaygroundInBrowser(t *testing.T) {
	bin := chromium(t)
	// As `make run` serves in development: no JWT_SECRET, so the server
	// makes up a secret and an admin token, which the Playground pre-fills.
	api := apitest.New(t, "JWT_SECRET", "")
	base, token := api.URL, api.DevToken
	require.NotEmpty(t, token, "development without JWT_SECRET makes an admin token")

	// A task only an admin can see: the result proves the pre-filled
	// Authorization header was sent.
	title := "Playground smoke " + time.Now().Format("150405.000")
	d := api.OK(t, token, apitest.CreateTask, map[string]any{"in": map[string]any{"title": title, "visibility": "PRIVATE",
		"priority": "CRITICAL", "tags": []string{"playground"}}})
	taskID := apitest.Str(d, "createTask", "id")
	d = api.OK(t, "", `{ tasks(first: 1, filter: {tag: "playground"}) { totalCount } }`, nil)
	require.Equal(t, 0, apitest.Num(d, "tasks", "totalCount"), "anonymous callers cannot see the private task")

	proxy := &offHostProxy{}
	ps := httptest.NewServer(proxy)
	defer ps.Close()

	// chromedp's defaults (Puppeteer's) and the flags this machine's
	// headless Chromium needs; the browser's own services (time, autofill,
	// sign-in, updates) are off so that the proxy below hears only the page.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1440, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-features", "Translate,AutofillServerCommunication,NetworkTimeServiceQuerying,"+
			"OptimizationHints,MediaRouter,DialMediaRouteProvider,CertificateTransparencyComponentUpdater"),
		chromedp.Flag("no-pings", true),
		chromedp.ProxyServer(ps.URL),
		// Loopback bypasses the proxy (Chromium's implicit rule); say so
		// explicitly so the rule does not depend on a default.
		chromedp.Flag("proxy-bypass-list", "127.0.0.1;localhost;[::1]"),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var requests, problems []string
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.Method+" "+e.Request.URL)
		case *network.EventLoadingFailed:
			if !e.Canceled {
				problems = append(problems, "loading failed: "+e.ErrorText+" "+string(e.BlockedReason))
			}
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			problems = append(problems, "exception: "+msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				problems = append(problems, "console.error: "+strings.Join(parts, " "))
			}
		}
	}))

	query := "query PlaygroundSmoke {\n  me { email role }\n  tasks(first: 5, filter: {tag: \"playground\"}) {\n    totalCount\n    nodes { number title priority }\n  }\n}\n"
	const resultPane = `(document.querySelector('.result-window')?.innerText || '').replace(/\u00a0/g, ' ')`
	const headersPane = `(document.querySelector('.graphiql-editor-tool .graphiql-editor:not(.hidden)')?.innerText || '').replace(/\u00a0/g, ' ')`
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(100*time.Millisecond))(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	err := chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			// CSP violations never reach the network: count them in the page.
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));`})
			return err
		}),
		chromedp.Navigate(base+"/?query="+url.QueryEscape(query)),
		chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)),
		// Monaco has rendered the operation from the URL into the editor,
		// and the headers editor shows the pre-filled development token.
		poll(`(document.querySelector('.graphiql-query-editor')?.innerText || '').includes('PlaygroundSmoke')`),
		poll(headersPane+`.includes('Bearer')`),
		chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
		poll(resultPane+`.includes('"totalCount": 1')`),
	)
	var response, headersText string
	var shot []byte
	if err == nil {
		headersText, err = chromedp.Run(ctx, chromedp.Evaluate[string](headersPane))
	}
	if err == nil {
		response, err = chromedp.Run(ctx, chromedp.Evaluate[string](resultPane))
	}
	if err == nil {
		// The explorer plugin lists the schema's root fields and ticks
		// those of the operation in the editor.
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`button[aria-label="Show GraphiQL Explorer"]`)),
			poll(`(document.querySelector('.graphiql-plugin')?.innerText || '').includes('searchTasks')`))
	}
	if err == nil {
		shot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	// A subscription from the UI, over the websocket with the pre-filled
	// token as its connection parameter: a change made elsewhere appears.
	var subShot []byte
	if err == nil {
		sub := "subscription PlaygroundWatch($id: ID!) {\n  taskChanged(id: $id) { kind task { title status } }\n}\n"
		err = chromedp.Do(ctx,
			chromedp.Navigate(base+"/?query="+url.QueryEscape(sub)+"&variables="+url.QueryEscape(`{"id": "`+taskID+`"}`)),
			chromedp.WaitVisible(chromedp.CSS(`.graphiql-execute-button`)),
			poll(`(document.querySelector('.graphiql-query-editor')?.innerText || '').includes('PlaygroundWatch')`),
			poll(headersPane+`.includes('Bearer')`),
			chromedp.Click(chromedp.CSS(`.graphiql-execute-button`)),
			chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				// Transition until the event shows: the first may land
				// before the server has read the subscribe message.
				for _, status := range []string{"READY", "IN_PROGRESS", "BLOCKED", "READY", "IN_PROGRESS"} {
					api.OK(t, token, `mutation($id: ID!, $s: TaskStatus) { transitionTask(id: $id, status: $s) { id } }`,
						map[string]any{"id": taskID, "s": status})
					found, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](resultPane+`.includes('TRANSITIONED')`))
					if found {
						return nil
					}
					time.Sleep(time.Second)
				}
				return nil
			}),
			poll(resultPane+`.includes('"kind": "TRANSITIONED"')`),
		)
		if err == nil {
			subShot, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		}
	}
	mu.Lock()
	t.Logf("browser requests: %d; problems: %q", len(requests), problems)
	mu.Unlock()
	require.NoError(t, err, "drive the Playground")

	out := filepath.Join("testdata", "output")
	require.NoError(t, os.MkdirAll(out, 0o755))
	shotPath := filepath.Join(out, "playground.png")
	require.NoError(t, os.WriteFile(shotPath, shot, 0o644))
	t.Logf("screenshot: %s (%d bytes)", shotPath, len(shot))
	require.NoError(t, os.WriteFile(filepath.Join(out, "playground-subscription.png"), subShot, 0o644))

	assert.Contains(t, headersText, `"Authorization": "Bearer `+token+`"`, "headers editor pre-filled with the development token")
	for _, want := range []string{`"email": "admin@herotasks.local"`, `"role": "ADMIN"`, `"totalCount": 1`, `"title": "` + title + `"`, `"priority": "CRITICAL"`} {
		assert.Contains(t, response, want, "result pane")
	}
	assert.NotContains(t, response, `"errors"`)

	csp, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__csp`))
	require.NoError(t, err)
	assert.Empty(t, csp, "content-security-policy violations")

	mu.Lock()
	defer mu.Unlock()
	var sawGraphQL bool
	for _, r := range requests {
		method, raw, _ := strings.Cut(r, " ")
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		if u.Scheme == "data" || u.Scheme == "blob" {
			continue
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		assert.True(t, host == "localhost" || (ip != nil && ip.IsLoopback()), "request %s leaves localhost", r)
		sawGraphQL = sawGraphQL || (method == http.MethodPost && u.Path == "/graphql")
	}
	assert.True(t, sawGraphQL, "the UI posted to /graphql: %q", requests)
	for _, r := range proxy.requests() {
		_, target, _ := strings.Cut(r, " ")
		host, _, _ := strings.Cut(target, "/")
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		assert.True(t, chromiumService(host), "%s tried to leave localhost (refused by the proxy)", r)
	}
	assert.Empty(t, problems, "browser errors")
}

// TestPlaygroundNoTokenWithSecret: with JWT_SECRET set the server makes no
// token, and the page pre-fills none.
func TestPlaygroundNoTokenWithSecret(t *testing.T) {
	t.Parallel()
	api := apitest.New(t)
	res, err := http.Get(api.URL + "/")
	require.NoError(t, err)
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(nil, 1<<20)
	var cfg string
	for sc.Scan() {
		if strings.Contains(sc.Text(), `id="playground-config"`) {
			cfg = sc.Text()
		}
	}
	require.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, cfg, `{"endpoint":"/graphql"}`)
	assert.NotContains(t, cfg, "Authorization")
}
