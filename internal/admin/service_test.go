package admin_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/licensing-service/licensing/internal/admin"
	"github.com/licensing-service/licensing/internal/licensing"
	"github.com/licensing-service/licensing/internal/pgtest"
	"github.com/licensing-service/licensing/internal/tokens"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func newService(t *testing.T) (*admin.Service, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.NewPool(t)
	tok := tokens.New(pool, tokens.Config{Issuer: "test", Audience: "test"}, nil)
	return admin.New(pool, admin.Config{AdminToken: "env-token"}, tok, nil), pool
}

func ptr[T any](v T) *T { return &v }

func create(t *testing.T, svc *admin.Service, tenant string) admin.Created {
	t.Helper()
	c, err := svc.Create(context.Background(), "tester", admin.CreateInput{
		TenantID: tenant, TenantName: tenant, MaxApps: ptr[int64](1), MaxExecutionsPer24h: ptr[int64](1),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestChangeAndAuditRowCommitTogether makes the audit insert fail (a trigger
// that refuses SUSPEND rows): the suspension must roll back with it.
func TestChangeAndAuditRowCommitTogether(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	ctx := context.Background()
	lic := create(t, svc, "atomic").License
	if _, err := pool.Exec(ctx, `
		CREATE FUNCTION refuse_suspend_rows() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.action = 'SUSPEND' THEN
				RAISE EXCEPTION 'audit store refuses SUSPEND';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_suspend BEFORE INSERT ON license_events
			FOR EACH ROW EXECUTE FUNCTION refuse_suspend_rows();`); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Suspend(ctx, "tester", lic.ID, "no audit, no change"); licensing.ErrorCode(err) != licensing.CodeInternal {
		t.Fatalf("suspend with a failing audit insert: %v", err)
	}
	got, err := svc.Get(ctx, lic.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != licensing.StatusActive || !got.UpdatedAt.Equal(lic.UpdatedAt) {
		t.Fatalf("the license changed without its audit row: %+v", got)
	}
	// Other changes still commit with their rows.
	if _, err := svc.Revoke(ctx, "tester", lic.ID, ""); err != nil {
		t.Fatal(err)
	}
	page, err := svc.Events(ctx, lic.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range page.Events {
		actions = append(actions, e.Action)
	}
	if len(actions) != 3 || actions[2] != admin.ActionRevoke {
		t.Fatalf("events %v", actions)
	}
}

// TestConcurrentCreatesOfOneTenant: the unique constraint, translated at
// the store boundary, admits exactly one and answers TENANT_ID_TAKEN to
// the rest; the losers leave neither a license nor an audit row. The pool
// (4 connections here) is smaller than the crowd: the losers wait on the
// winner's index entry holding their connections, so the winner must sign
// its token on its own transaction's connection or nobody finishes.
func TestConcurrentCreatesOfOneTenant(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = svc.Create(context.Background(), "tester", admin.CreateInput{
				TenantID: "contended", TenantName: "Contended", MaxApps: ptr[int64](1), MaxExecutionsPer24h: ptr[int64](1),
			})
		})
	}
	close(start)
	wg.Wait()
	created, taken := 0, 0
	for _, err := range errs {
		switch licensing.ErrorCode(err) {
		case "":
			created++
		case licensing.CodeTenantTaken:
			taken++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if created != 1 || taken != n-1 {
		t.Fatalf("%d created, %d taken", created, taken)
	}
	var licenses, events int
	if err := pool.QueryRow(context.Background(), "SELECT (SELECT count(*) FROM licenses), (SELECT count(*) FROM license_events)").Scan(&licenses, &events); err != nil {
		t.Fatal(err)
	}
	if licenses != 1 || events != 2 {
		t.Fatalf("%d licenses, %d events", licenses, events)
	}
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	if a, err := svc.Authenticate(ctx, "env-token"); err != nil || a != admin.EnvActor {
		t.Fatalf("env token: %q %v", a, err)
	}
	key, _, err := svc.CreateKey(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if a, err := svc.Authenticate(ctx, key); err != nil || a != "ci" {
		t.Fatalf("stored key: %q %v", a, err)
	}
	for _, bad := range []string{"", "env-token ", "ENV-TOKEN", key[:len(key)-1], key + "x"} {
		if _, err := svc.Authenticate(ctx, bad); licensing.ErrorCode(err) != licensing.CodeUnauthorized {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}

func TestIssueTokenForAnExpiredLicense(t *testing.T) {
	t.Parallel()
	svc, pool := newService(t)
	ctx := context.Background()
	lic := create(t, svc, "lapsed").License
	// Move the dates into the past behind the service's back.
	if _, err := pool.Exec(ctx, "UPDATE licenses SET valid_from = $2, valid_to = $3 WHERE id = $1",
		lic.ID, time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := svc.IssueToken(ctx, "tester", lic.ID, admin.IssueTokenInput{})
	if e := licensing.AsError(err); e.Code != licensing.CodeInvalidTransition || e.Extra["license_status"] != licensing.StatusExpired {
		t.Fatalf("%v", err)
	}
	// Extending valid_to makes it issuable again.
	if _, err := svc.Update(ctx, "tester", lic.ID, admin.UpdateInput{ValidTo: ptr(time.Now().Add(24 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.IssueToken(ctx, "tester", lic.ID, admin.IssueTokenInput{}); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentTokenIssues: issuing with revoke_previous under the row
// lock serialises; every call gets its token, the version rises once per
// call, and each writes its TOKEN_ISSUE row.
func TestConcurrentTokenIssues(t *testing.T) {
	t.Parallel()
	svc, _ := newService(t)
	ctx := context.Background()
	lic := create(t, svc, "busy").License
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = svc.IssueToken(ctx, "tester", lic.ID, admin.IssueTokenInput{RevokePrevious: true})
		})
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := svc.Get(ctx, lic.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.TokenVersion != 1+n {
		t.Fatalf("token_version %d, want %d", got.TokenVersion, 1+n)
	}
	page, err := svc.Events(ctx, lic.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2+n {
		t.Fatalf("%d events", len(page.Events))
	}
}
