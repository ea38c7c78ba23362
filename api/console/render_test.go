package console

import (
	"testing"
	"time"
)

func TestSafeNextKeepsRedirectsInsideTheConsole(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                 licensesPath,
		"/console/licenses/new":            "/console/licenses/new",
		"/console/licenses?status=ACTIVE":  "/console/licenses?status=ACTIVE",
		"https://evil.example/console/":    licensesPath,
		"//evil.example/console/":          licensesPath,
		"/console\\evil":                   licensesPath,
		"/api/licenses":                    licensesPath,
		"/console/signin?next=/x":          licensesPath,
		"/console/x\r\nSet-Cookie: a=b":    licensesPath,
		"javascript:alert(1)":              licensesPath,
		"/consolex/licenses":               licensesPath,
		"/console/licenses/../../api/keys": licensesPath,
		"/console/licenses/./new":          "/console/licenses/new",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChangesListsWhatAnEventChanged(t *testing.T) {
	t.Parallel()
	got := changes(Event{
		Before: map[string]any{"max_apps": 2.0, "tenant_id": "acme", "valid_to": "2030-01-01T00:00:00Z"},
		After:  map[string]any{"max_apps": 5.0, "tenant_id": "acme", "valid_to": "2031-01-01T00:00:00Z"},
	})
	want := []change{
		{Field: "max_apps", Before: "2", After: "5", Changed: true},
		{Field: "valid_to", Before: "2030-01-01 00:00 UTC", After: "2031-01-01 00:00 UTC", Changed: true},
	}
	if len(got) != len(want) {
		t.Fatalf("changes %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// A CREATE (no before) lists every field it set.
	created := changes(Event{After: map[string]any{"tenant_id": "acme", "max_apps": 2.0}})
	if len(created) != 2 || created[0].Before != "" || created[0].After != "2" || created[0].Changed {
		t.Errorf("create changes %+v", created)
	}
}

func TestFieldNameMapsAPINames(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"maxApps": "max_apps", "body.valid_to": "valid_to", "validTo": "valid_to", "reason": "reason"} {
		if got := fieldName(in); got != want {
			t.Errorf("fieldName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Now()
	for d, want := range map[time.Duration]string{
		20 * time.Second:             "now",
		-5*time.Minute - time.Second: "5m ago",
		3*time.Hour + 21*time.Minute: "in 3h 21m",
		72*time.Hour + time.Minute:   "in 3d",
	} {
		if got := ago(now.Add(d)); got != want {
			t.Errorf("ago(%v) = %q, want %q", d, got, want)
		}
	}
}
