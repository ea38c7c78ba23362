package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/licensing-service/licensing/internal/apitest"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/quota"
)

// chromium finds the browser: $CHROMIUM_PATH, else chromium on the PATH.
func chromium() string {
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
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

// TestConsoleInChromium drives the console in headless Chromium the way an
// admin would: sign in, create a license, find it in the list, upgrade it,
// suspend it (its token is then refused), reactivate it, revoke it. It
// saves a screenshot of each step under .data/screenshots/.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	chrome := chromium()
	if chrome == "" {
		if os.Geteuid() == 0 {
			t.Fatal("chromium is not installed; `make test` installs it through .ci/deps when run as root")
		}
		t.Skip("chromium is not installed (and not root to install it): skipping the browser test; " +
			"install it with `sudo apt-get install -y --no-install-recommends chromium fonts-liberation` or set CHROMIUM_PATH")
	}
	env := apitest.New(t)
	shots := filepath.Join(repoRoot(t), ".data", "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	// Neighbours for the list, one with some usage.
	createLicense(t, env, "globex", map[string]any{"tenant_name": "Globex Ltd", "max_apps": 10, "max_executions_per_24h": 5000})
	createLicense(t, env, "hooli", map[string]any{"tenant_name": "Hooli", "max_apps": 3, "max_executions_per_24h": 300,
		"valid_from": time.Now().AddDate(0, 1, 0).UTC().Format(time.RFC3339), "valid_to": time.Now().AddDate(1, 1, 0).UTC().Format(time.RFC3339)})
	umbrella := createLicense(t, env, "umbrella", map[string]any{"tenant_name": "Umbrella plc", "max_apps": 4, "max_executions_per_24h": 12})
	startJobs(t, env, umbrella.ID, registerApp(t, env, umbrella.ID, "reports"), 9)
	registerApp(t, env, umbrella.ID, "exports")
	initech := createLicense(t, env, "initech", map[string]any{"tenant_name": "Initech", "max_apps": 2, "max_executions_per_24h": 20})
	if r := env.Do(http.MethodPost, "/api/licenses/"+initech.ID+"/suspend", env.AdminToken, map[string]any{"reason": "unpaid invoice"}); r.Status != http.StatusOK {
		t.Fatalf("suspend initech: %d %s", r.Status, r.Body)
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The first action starts the browser; it must not run under a timeout
	// (that would stop the browser with it).
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	// Accept the confirmation dialogs of suspend and revoke, like an admin
	// who means it.
	var mu sync.Mutex
	var dialogs []string
	go func() {
		for ev, err := range chromedp.Events(browser, cdppage.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			mu.Lock()
			dialogs = append(dialogs, ev.Message)
			mu.Unlock()
			_, _ = chromedp.Call(browser, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	step := 0
	// run runs one step under a timeout and saves a screenshot of its end.
	run := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		step++
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(browser, chromedp.Location())
			t.Fatalf("step %d %s (at %s): %v", step, name, loc, err)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("step %d %s: screenshot: %v", step, name, err)
		}
		file := filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, strings.ReplaceAll(name, " ", "-")))
		if err := os.WriteFile(file, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// read evaluates one value on the page.
	read := func(a chromedp.Action[string]) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatalf("step %d: read: %v", step, err)
		}
		return v
	}
	// flash checks the flash message of the page just loaded (wait for an
	// element of the new page first: a poll on the old one dies with it).
	flash := func(text string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](`(document.querySelector(".flash") || {}).textContent?.includes(`+strconv.Quote(text)+`)`,
			chromedp.WithPollingTimeout(20*time.Second))
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	base := env.Server.URL
	run("sign in page",
		chromedp.Navigate(base+"/console/licenses"),
		chromedp.WaitVisible(css(`#key`)),
	)
	run("signed in",
		chromedp.SendKeys(css(`#key`), env.AdminToken),
		chromedp.Click(css(`form[action="/console/signin"] button[type=submit]`)),
		chromedp.WaitVisible(css(`table.licenses`)),
	)
	if loc := read(chromedp.Location()); !strings.HasSuffix(loc, "/console/licenses") {
		t.Fatalf("after sign-in at %s", loc)
	}

	// Create with a mistake first: the message shows next to the field.
	run("create form error",
		chromedp.Click(css(`a.button.primary[href="/console/licenses/new"]`)),
		chromedp.WaitVisible(css(`#tenant_id`)),
		chromedp.SendKeys(css(`#tenant_id`), "acme corp"),
		chromedp.SendKeys(css(`#tenant_name`), "Acme Corporation"),
		chromedp.SetValue(css(`#max_apps`), "2"),
		chromedp.SetValue(css(`#max_executions_per_24h`), "100"),
		chromedp.Click(css(`form.form button[type=submit]`)),
		chromedp.WaitVisible(css(`#tenant_id-error`)),
	)
	if msg := read(chromedp.Text(css(`#tenant_id-error`))); msg == "" {
		t.Fatal("no message next to the tenant id")
	}
	run("license created",
		chromedp.SetValue(css(`#tenant_id`), "acme"),
		chromedp.Click(css(`form.form button[type=submit]`)),
		chromedp.WaitVisible(css(`#token`)),
		chromedp.Click(css(`button[data-copy="token"]`)),
	)
	token := read(chromedp.Value(css(`#token`)))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("the token page shows %q", token)
	}
	if code := tokenRefusal(t, env, token); code != "" {
		t.Fatalf("the new token is refused: %s", code)
	}
	acmeID := licenseIDFrom(t, read(chromedp.OuterHTML(css(`main`))))
	appID := seedUsage(t, env, acmeID)

	run("list",
		chromedp.Navigate(base+"/console/licenses"),
		chromedp.WaitVisible(css(`a[href="/console/licenses/`+acmeID+`"]`)),
	)
	run("search",
		chromedp.SendKeys(css(`#tenant`), "acme"),
		chromedp.Click(css(`form.filters button[type=submit]`)),
		chromedp.WaitVisible(css(`form.filters a[href="/console/licenses"]`)),
	)
	if rows := read(chromedp.Evaluate[string](`String(document.querySelectorAll("table.licenses tbody tr").length)`)); rows != "1" {
		t.Fatalf("the search for acme shows %s rows", rows)
	}
	run("detail",
		chromedp.Click(css(`table.licenses tbody a`)),
		chromedp.WaitVisible(css(`svg.chart`)),
	)

	run("upgraded",
		chromedp.Click(css(`a[href$="/edit"]`)),
		chromedp.WaitVisible(css(`#reason`)),
		chromedp.SetValue(css(`#max_apps`), "5"),
		chromedp.SetValue(css(`#max_executions_per_24h`), "1000"),
		chromedp.SendKeys(css(`#reason`), "upgrade to the pro plan"),
		chromedp.Click(css(`form.form button[type=submit]`)),
		chromedp.WaitVisible(css(`.flash`)),
		flash("Limits and dates saved."),
	)
	if got := getLicense(t, env, acmeID).MaxApps; got != 5 {
		t.Fatalf("max_apps %d after the upgrade", got)
	}

	run("suspended",
		chromedp.SendKeys(css(`#suspend-reason`), "unpaid invoice"),
		chromedp.Click(css(`form[action$="/suspend"] button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action$="/reactivate"]`)),
		flash("License suspended."),
	)
	if code := tokenRefusal(t, env, token); code != licensing.CodeLicenseSuspended {
		t.Fatalf("token of the suspended license: %q", code)
	}
	if _, err := env.App.Quota.StartJob(context.Background(), uuid.MustParse(acmeID), "", quota.StartRequest{ApplicationID: appID, Name: "refused"}); licensing.ErrorCode(err) != licensing.CodeLicenseSuspended {
		t.Fatalf("job start on the suspended license: %v", err)
	}

	run("reactivated",
		chromedp.SendKeys(css(`#reactivate-reason`), "invoice paid"),
		chromedp.Click(css(`form[action$="/reactivate"] button[type=submit]`)),
		chromedp.WaitVisible(css(`form[action$="/suspend"]`)),
		flash("License reactivated."),
	)
	if code := tokenRefusal(t, env, token); code != "" {
		t.Fatalf("token after reactivation: %s", code)
	}

	run("revoked",
		chromedp.SendKeys(css(`#revoke-reason`), "contract ended"),
		chromedp.Click(css(`form[action$="/revoke"] input[name=confirm]`)),
		chromedp.Click(css(`form[action$="/revoke"] button[type=submit]`)),
		chromedp.WaitVisible(css(`.sub .badge.revoked`)),
		flash("License revoked."),
	)
	if code := tokenRefusal(t, env, token); code != licensing.CodeLicenseRevoked {
		t.Fatalf("token of the revoked license: %q", code)
	}
	mu.Lock()
	if len(dialogs) != 2 || !strings.Contains(dialogs[0], "Suspend acme") || !strings.Contains(dialogs[1], "cannot be undone") {
		t.Errorf("confirmation dialogs %q", dialogs)
	}
	mu.Unlock()

	run("phone list",
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)),
		chromedp.Navigate(base+"/console/licenses"),
		chromedp.WaitVisible(css(`table.licenses`)),
	)
	run("signed out",
		chromedp.EmulateViewport(1280, 900),
		chromedp.Click(css(`form.signout button`)),
		chromedp.WaitVisible(css(`#key`)),
		flash("You are signed out."),
	)
	t.Logf("screenshots in %s", shots)
}

// seedUsage registers an application and starts jobs for the license,
// spread over the last day (the rows are backdated in start order, so the
// per-license sequence stays monotone in started_at), so the list and the
// chart have something to show. It returns the application's id.
func seedUsage(t *testing.T, env *apitest.Env, licenseID string) string {
	t.Helper()
	appID := registerApp(t, env, licenseID, "billing")
	const jobs = 46
	startJobs(t, env, licenseID, appID, jobs)
	conn, err := pgx.Connect(context.Background(), env.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Job n of 46 moves back to position x = (n-1)/45 on a curve over the
	// last day that bunches starts into two busy periods; the curve only
	// rises, so the starts keep the order of their sequence numbers.
	_, err = conn.Exec(context.Background(), `
		WITH ordered AS (
		    SELECT id, (row_number() OVER (ORDER BY seq) - 1)::float8 / ($2::int - 1) AS x
		    FROM jobs
		    WHERE license_id = $1::uuid
		)
		UPDATE jobs AS j
		SET started_at = now() - interval '23 hours 30 minutes'
		                 + (o.x + 0.07 * sin(4 * pi() * o.x)) * interval '23 hours'
		FROM ordered AS o
		WHERE j.id = o.id`, licenseID, jobs)
	if err != nil {
		t.Fatalf("backdate jobs: %v", err)
	}
	return appID
}
