// Command licensectl is the admin CLI of the licensing service: it creates,
// lists, shows, changes, suspends, reactivates and revokes licenses and
// issues their tokens through the admin HTTP API (api/openapi.yaml).
//
//	licensectl [--url URL] [--token TOKEN] COMMAND [flags] [ID]
//
// The server is --url, else LICENSING_URL, else http://localhost:8080. The
// admin key is --token, else LICENSING_ADMIN_TOKEN, else the dev-mode token
// in $LICENSING_DATA_DIR/admin-token (.data/admin-token). A license may be
// named by its id or its tenant_id.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
)

const usage = `usage: licensectl [--url URL] [--token TOKEN] COMMAND [flags] [ID]

commands:
  create      --tenant-id ID --tenant-name NAME --max-apps N --max-executions N
              [--valid-from T] [--valid-to T] [--status ACTIVE|SUSPENDED] [--reason TEXT]
  list        [--status S] [--effective-status S] [--tenant-id ID] [--search TEXT]
              [--limit N] [--cursor C] [--all] [--json]
  show        ID
  upgrade     ID [--max-apps N] [--max-executions N] [--valid-from T] [--valid-to T]
              [--tenant-name NAME] [--reason TEXT]          (also: update, downgrade)
  suspend     ID [--reason TEXT]
  reactivate  ID [--reason TEXT]
  revoke      ID [--reason TEXT]
  token       ID [--revoke-previous] [--expires-at T] [--reason TEXT]
  events      ID [--limit N] [--cursor C]

ID is a license id or a tenant_id; T is an RFC 3339 time (2027-01-31T00:00:00Z).
Server: --url, LICENSING_URL, or http://localhost:8080. Admin key: --token,
LICENSING_ADMIN_TOKEN, or the dev-mode token in .data/admin-token.`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv, http.DefaultClient))
}

// exit codes: 0 done, 1 the server or the network refused, 2 bad usage.
const (
	exitFailed = 1
	exitUsage  = 2
)

// cli is one invocation.
type cli struct {
	base   string
	token  string
	client *http.Client
	stdout io.Writer
	stderr io.Writer
}

// run executes args and returns the exit code.
func run(args []string, stdout, stderr io.Writer, getenv func(string) string, client *http.Client) int {
	global := flag.NewFlagSet("licensectl", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	urlFlag := global.String("url", "", "server URL")
	tokenFlag := global.String("token", "", "admin key")
	if err := global.Parse(args); err != nil || global.NArg() == 0 {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, usage)
			return 0
		}
		if err != nil {
			fmt.Fprintln(stderr, "licensectl:", err)
		}
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	c := &cli{base: *urlFlag, token: *tokenFlag, client: client, stdout: stdout, stderr: stderr}
	if c.base == "" {
		c.base = getenv("LICENSING_URL")
	}
	if c.base == "" {
		c.base = "http://localhost:8080"
	}
	c.base = strings.TrimRight(c.base, "/")
	if c.token == "" {
		c.token = getenv("LICENSING_ADMIN_TOKEN")
	}
	if c.token == "" {
		dir := getenv("LICENSING_DATA_DIR")
		if dir == "" {
			dir = ".data"
		}
		if b, err := os.ReadFile(filepath.Join(dir, "admin-token")); err == nil {
			c.token = strings.TrimSpace(string(b))
		}
	}
	cmd, rest := global.Arg(0), global.Args()[1:]
	var err error
	switch cmd {
	case "create":
		err = c.create(rest)
	case "list":
		err = c.list(rest)
	case "show":
		err = c.show(rest)
	case "upgrade", "update", "downgrade":
		err = c.update(cmd, rest)
	case "suspend", "reactivate", "revoke":
		err = c.lifecycle(cmd, rest)
	case "token":
		err = c.issueToken(rest)
	case "events":
		err = c.events(rest)
	case "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		err = usageError(fmt.Sprintf("unknown command %q", cmd))
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "licensectl: %s\n\n%s\n", ue, usage)
		return exitUsage
	default:
		fmt.Fprintln(stderr, "licensectl:", err)
		return exitFailed
	}
}

// usageError is a mistake on the command line (exit 2, usage printed).
type usageError string

func (e usageError) Error() string { return string(e) }

// parse parses flags anywhere among the arguments and returns the
// positional ones, requiring exactly want of them.
func parse(fs *flag.FlagSet, args []string, want int, what string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError(fs.Name() + ": " + err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		if want == 0 {
			return nil, usageError(fmt.Sprintf("%s takes no arguments, got %q", fs.Name(), pos))
		}
		return nil, usageError(fmt.Sprintf("%s needs %s", fs.Name(), what))
	}
	return pos, nil
}

// body collects the flags that were set into a JSON body.
type body map[string]any

// set copies the string flags that were given on the command line.
func (b body) set(fs *flag.FlagSet, names map[string]string) {
	fs.Visit(func(f *flag.Flag) {
		if key, ok := names[f.Name]; ok {
			b[key] = f.Value.(flag.Getter).Get()
		}
	})
}

// Problem is the part of an RFC 9457 problem detail the CLI shows.
type Problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
	RequestID string `json:"request_id"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", p.Status, p.Code, p.Detail)
	for _, e := range p.Errors {
		fmt.Fprintf(&b, "\n  %s: %s", e.Field, e.Message)
	}
	if p.RequestID != "" {
		fmt.Fprintf(&b, "\n  (request id %s)", p.RequestID)
	}
	return b.String()
}

// do sends one request and returns the response body of a 2xx answer; any
// other answer becomes its problem detail as an error.
func (c *cli) do(method, path string, in any) ([]byte, error) {
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return data, nil
	}
	var p Problem
	if json.Unmarshal(data, &p) != nil || p.Code == "" {
		return nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	if p.Code == "UNAUTHORIZED" && c.token == "" {
		p.Detail += " (no admin key given: use --token, LICENSING_ADMIN_TOKEN or .data/admin-token)"
	}
	return nil, &p
}

// printJSON pretty-prints a response body.
func (c *cli) printJSON(data []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		_, err = c.stdout.Write(data)
		return err
	}
	out.WriteByte('\n')
	_, err := c.stdout.Write(out.Bytes())
	return err
}

// licenseID resolves a license id or tenant_id to a license id.
func (c *cli) licenseID(ref string) (string, error) {
	if _, err := uuid.Parse(ref); err == nil {
		return ref, nil
	}
	data, err := c.do(http.MethodGet, "/api/licenses?tenant_id="+url.QueryEscape(ref), nil)
	if err != nil {
		return "", err
	}
	var page struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return "", err
	}
	if len(page.Items) == 0 {
		return "", fmt.Errorf("no license has the id or tenant_id %q", ref)
	}
	return page.Items[0].ID, nil
}

// onLicense resolves ref (an id or a tenant_id), sends method to the
// license's path plus suffix with body in, and prints the answer.
func (c *cli) onLicense(method, ref, suffix string, in any) error {
	id, err := c.licenseID(ref)
	if err != nil {
		return err
	}
	data, err := c.do(method, "/api/licenses/"+url.PathEscape(id)+suffix, in)
	if err != nil {
		return err
	}
	return c.printJSON(data)
}

func (c *cli) create(args []string) error {
	fs := flag.NewFlagSet("create", flag.ContinueOnError)
	fs.String("tenant-id", "", "")
	fs.String("tenant-name", "", "")
	fs.Int64("max-apps", 0, "")
	fs.Int64("max-executions", 0, "")
	fs.String("valid-from", "", "")
	fs.String("valid-to", "", "")
	fs.String("status", "", "")
	fs.String("reason", "", "")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	b := body{}
	b.set(fs, map[string]string{
		"tenant-id": "tenant_id", "tenant-name": "tenant_name", "max-apps": "max_apps",
		"max-executions": "max_executions_per_24h", "valid-from": "valid_from", "valid-to": "valid_to",
		"status": "status", "reason": "reason",
	})
	data, err := c.do(http.MethodPost, "/api/licenses", b)
	if err != nil {
		return err
	}
	return c.printJSON(data)
}

// listedLicense is what the list table shows.
type listedLicense struct {
	ID                  string    `json:"id"`
	TenantID            string    `json:"tenant_id"`
	TenantName          string    `json:"tenant_name"`
	MaxApps             int       `json:"max_apps"`
	MaxExecutionsPer24h int       `json:"max_executions_per_24h"`
	ValidTo             time.Time `json:"valid_to"`
	Status              string    `json:"status"`
	EffectiveStatus     string    `json:"effective_status"`
}

func (c *cli) list(args []string) error {
	fs := flag.NewFlagSet("list", flag.ContinueOnError)
	for _, name := range []string{"status", "effective-status", "tenant-id", "search", "limit", "cursor"} {
		fs.String(name, "", "")
	}
	all := fs.Bool("all", false, "")
	asJSON := fs.Bool("json", false, "")
	if _, err := parse(fs, args, 0, ""); err != nil {
		return err
	}
	q := url.Values{}
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "all" && f.Name != "json" {
			q.Set(strings.ReplaceAll(f.Name, "-", "_"), f.Value.String())
		}
	})
	var items []json.RawMessage
	var next *string
	for {
		data, err := c.do(http.MethodGet, "/api/licenses?"+q.Encode(), nil)
		if err != nil {
			return err
		}
		var page struct {
			Items      []json.RawMessage `json:"items"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(data, &page); err != nil {
			return err
		}
		items, next = append(items, page.Items...), page.NextCursor
		if !*all || next == nil {
			break
		}
		q.Set("cursor", *next)
	}
	if *asJSON {
		out, err := json.Marshal(map[string]any{"items": items, "next_cursor": next})
		if err != nil {
			return err
		}
		return c.printJSON(out)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTENANT\tNAME\tSTATUS\tEFFECTIVE\tAPPS\tEXEC/24H\tVALID TO")
	for _, raw := range items {
		var l listedLicense
		if err := json.Unmarshal(raw, &l); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", l.ID, l.TenantID, l.TenantName, l.Status,
			l.EffectiveStatus, l.MaxApps, l.MaxExecutionsPer24h, l.ValidTo.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != nil {
		fmt.Fprintf(c.stderr, "more: licensectl list --cursor %s (or --all)\n", *next)
	}
	return nil
}

func (c *cli) show(args []string) error {
	fs := flag.NewFlagSet("show", flag.ContinueOnError)
	pos, err := parse(fs, args, 1, "a license id or tenant_id")
	if err != nil {
		return err
	}
	return c.onLicense(http.MethodGet, pos[0], "", nil)
}

func (c *cli) update(name string, args []string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.String("tenant-name", "", "")
	fs.Int64("max-apps", 0, "")
	fs.Int64("max-executions", 0, "")
	fs.String("valid-from", "", "")
	fs.String("valid-to", "", "")
	fs.String("reason", "", "")
	pos, err := parse(fs, args, 1, "a license id or tenant_id")
	if err != nil {
		return err
	}
	b := body{}
	b.set(fs, map[string]string{
		"tenant-name": "tenant_name", "max-apps": "max_apps", "max-executions": "max_executions_per_24h",
		"valid-from": "valid_from", "valid-to": "valid_to", "reason": "reason",
	})
	return c.onLicense(http.MethodPatch, pos[0], "", b)
}

func (c *cli) lifecycle(action string, args []string) error {
	fs := flag.NewFlagSet(action, flag.ContinueOnError)
	fs.String("reason", "", "")
	pos, err := parse(fs, args, 1, "a license id or tenant_id")
	if err != nil {
		return err
	}
	b := body{}
	b.set(fs, map[string]string{"reason": "reason"})
	return c.onLicense(http.MethodPost, pos[0], "/"+action, b)
}

func (c *cli) issueToken(args []string) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.Bool("revoke-previous", false, "")
	fs.String("expires-at", "", "")
	fs.String("reason", "", "")
	pos, err := parse(fs, args, 1, "a license id or tenant_id")
	if err != nil {
		return err
	}
	b := body{}
	b.set(fs, map[string]string{"revoke-previous": "revoke_previous", "expires-at": "expires_at", "reason": "reason"})
	return c.onLicense(http.MethodPost, pos[0], "/tokens", b)
}

func (c *cli) events(args []string) error {
	fs := flag.NewFlagSet("events", flag.ContinueOnError)
	fs.String("limit", "", "")
	fs.String("cursor", "", "")
	pos, err := parse(fs, args, 1, "a license id or tenant_id")
	if err != nil {
		return err
	}
	q := url.Values{}
	fs.Visit(func(f *flag.Flag) { q.Set(f.Name, f.Value.String()) })
	return c.onLicense(http.MethodGet, pos[0], "/events?"+q.Encode(), nil)
}
