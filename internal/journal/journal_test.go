package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	testSkill = "northwind.weather"
	operator  = "operator:alice"
	daemon    = "system:daemon"
)

var (
	digestA = strings.Repeat("a", 64)
	digestB = strings.Repeat("b", 64)
)

func openTest(t *testing.T) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "skills", "journal.sqlite3")
	j, err := Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j, path
}

func install(skillID, version string) Install {
	return Install{
		SkillID: skillID, Version: version, Publisher: "northwind", KeyID: "ed25519:0123456789abcdef",
		ArtifactSHA256: digestA, PayloadSHA256: digestB, TrustDecision: "tofu_newly_pinned",
		Reason: "palyra skills install", Principal: operator,
		Details: json.RawMessage(`{"source":"test"}`),
	}
}

func mustRecord(t *testing.T, j *Journal, skillID, version string) Status {
	t.Helper()
	st, err := j.Record(context.Background(), install(skillID, version))
	if err != nil {
		t.Fatalf("Record(%s@%s): %v", skillID, version, err)
	}
	return st
}

func mustTransition(t *testing.T, j *Journal, skillID, version string, c Change) Status {
	t.Helper()
	if c.Principal == "" {
		c.Principal = daemon
	}
	st, err := j.Transition(context.Background(), skillID, version, c)
	if err != nil {
		t.Fatalf("Transition(%s@%s → %s): %v", skillID, version, c.To, err)
	}
	return st
}

// checkChains asserts that, per version, the events form one unbroken
// chain of states (each From is the previous To) ending in the row's
// current state: no decision was lost or applied twice.
func checkChains(t *testing.T, j *Journal, skillID string) []Event {
	t.Helper()
	ctx := context.Background()
	evs, err := j.Events(ctx, skillID)
	if err != nil {
		t.Fatalf("Events: %v", err)
	}
	last := map[string]State{}
	seen := map[string]bool{}
	for i, e := range evs {
		if i > 0 && e.Seq <= evs[i-1].Seq {
			t.Errorf("event seq not increasing: %d after %d", e.Seq, evs[i-1].Seq)
		}
		if seen[e.ID] {
			t.Errorf("duplicate event id %s", e.ID)
		}
		seen[e.ID] = true
		if e.Kind != KindInstall && e.From != last[e.Version] {
			t.Errorf("%s@%s event %d (%s %s→%s) does not follow state %q", skillID, e.Version, e.Seq, e.Kind, e.From, e.To, last[e.Version])
		}
		if e.Kind == KindInstall && e.From != last[e.Version] {
			t.Errorf("install event %d from %q, row was %q", e.Seq, e.From, last[e.Version])
		}
		last[e.Version] = e.To
	}
	for v, s := range last {
		st, err := j.Get(ctx, skillID, v)
		if err != nil {
			t.Fatalf("Get(%s@%s): %v", skillID, v, err)
		}
		if st.State != s {
			t.Errorf("%s@%s row state %s, last event says %s", skillID, v, st.State, s)
		}
	}
	return evs
}

func TestTransitions(t *testing.T) {
	type step struct {
		to         State
		reverified bool
		wantErr    bool
	}
	tests := []struct {
		name  string
		steps []step
		final State
	}{
		{"happy path", []step{{to: StateVerified}, {to: StateEligible}}, StateEligible},
		{"skip verification", []step{{to: StateEligible, wantErr: true}}, StateInstalled},
		{"back to installed", []step{{to: StateVerified}, {to: StateInstalled, wantErr: true}}, StateVerified},
		{"eligible to verified", []step{{to: StateVerified}, {to: StateEligible}, {to: StateVerified, wantErr: true}}, StateEligible},
		{"self transition", []step{{to: StateVerified}, {to: StateVerified, wantErr: true}}, StateVerified},
		{"quarantine installed", []step{{to: StateQuarantined}}, StateQuarantined},
		{"quarantine verified", []step{{to: StateVerified}, {to: StateQuarantined}}, StateQuarantined},
		{"quarantine eligible", []step{{to: StateVerified}, {to: StateEligible}, {to: StateQuarantined}}, StateQuarantined},
		{"quarantine twice", []step{{to: StateQuarantined}, {to: StateQuarantined, wantErr: true}}, StateQuarantined},
		{"leave quarantine without reverify", []step{{to: StateQuarantined}, {to: StateEligible, wantErr: true}}, StateQuarantined},
		{"leave quarantine to verified", []step{{to: StateQuarantined}, {to: StateVerified, reverified: true, wantErr: true}}, StateQuarantined},
		{"reverify", []step{{to: StateQuarantined}, {to: StateEligible, reverified: true}}, StateEligible},
		{"remove", []step{{to: StateVerified}, {to: StateRemoved}}, StateRemoved},
		{"remove quarantined", []step{{to: StateQuarantined}, {to: StateRemoved}}, StateRemoved},
		{"nothing after removal", []step{{to: StateRemoved}, {to: StateVerified, wantErr: true}, {to: StateEligible, reverified: true, wantErr: true}, {to: StateRemoved, wantErr: true}}, StateRemoved},
		{"unknown state", []step{{to: "enabled", wantErr: true}}, StateInstalled},
	}
	j, _ := openTest(t)
	ctx := context.Background()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			skill := fmt.Sprintf("test.transitions%d", i)
			mustRecord(t, j, skill, "1.0.0")
			wantEvents := 1
			for _, s := range tt.steps {
				before, _ := j.Get(ctx, skill, "1.0.0")
				st, err := j.Transition(ctx, skill, "1.0.0", Change{To: s.to, Reason: "step", Principal: daemon, Reverified: s.reverified})
				if s.wantErr {
					var te *TransitionError
					if !errors.Is(err, ErrInvalidTransition) || !errors.As(err, &te) {
						t.Fatalf("→ %s: err = %v, want a TransitionError", s.to, err)
					}
					if te.From != before.State || te.To != s.to {
						t.Errorf("TransitionError names %s → %s, want %s → %s", te.From, te.To, before.State, s.to)
					}
					if msg := err.Error(); !strings.Contains(msg, string(before.State)) || !strings.Contains(msg, string(s.to)) {
						t.Errorf("error %q does not name both states", msg)
					}
					continue
				}
				if err != nil {
					t.Fatalf("→ %s: %v", s.to, err)
				}
				wantEvents++
				if st.State != s.to || st.Reason != "step" || st.OperatorPrincipal != daemon {
					t.Errorf("status after → %s = %+v", s.to, st)
				}
			}
			st, err := j.Get(ctx, skill, "1.0.0")
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.final {
				t.Errorf("final state %s, want %s", st.State, tt.final)
			}
			evs := checkChains(t, j, skill)
			if len(evs) != wantEvents {
				t.Errorf("%d events, want %d (one per accepted decision)", len(evs), wantEvents)
			}
		})
	}
}

func TestEventKindsAndFields(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	mustRecord(t, j, testSkill, "0.3.1")
	mustTransition(t, j, testSkill, "0.3.1", Change{To: StateVerified, Reason: "signature ok", Details: json.RawMessage(`{"trust":"allowlisted"}`)})
	mustTransition(t, j, testSkill, "0.3.1", Change{To: StateEligible, Reason: "audit ok"})
	mustTransition(t, j, testSkill, "0.3.1", Change{To: StateQuarantined, Reason: "key revoked", Principal: operator})
	mustTransition(t, j, testSkill, "0.3.1", Change{To: StateEligible, Reason: "enable", Principal: operator, Reverified: true})
	if err := j.Remove(ctx, testSkill, operator); err != nil {
		t.Fatal(err)
	}
	evs := checkChains(t, j, testSkill)
	want := []struct {
		kind     string
		from, to State
		reason   string
	}{
		{KindInstall, "", StateInstalled, "palyra skills install"},
		{KindTransition, StateInstalled, StateVerified, "signature ok"},
		{KindTransition, StateVerified, StateEligible, "audit ok"},
		{KindTransition, StateEligible, StateQuarantined, "key revoked"},
		{KindReverify, StateQuarantined, StateEligible, "enable"},
		{KindRemove, StateEligible, StateRemoved, "removed"},
	}
	if len(evs) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		e := evs[i]
		if e.Kind != w.kind || e.From != w.from || e.To != w.to || e.Reason != w.reason {
			t.Errorf("event %d = %s %q→%q %q, want %s %q→%q %q", i, e.Kind, e.From, e.To, e.Reason, w.kind, w.from, w.to, w.reason)
		}
		if e.SkillID != testSkill || e.Version != "0.3.1" || e.Principal == "" || len(e.ID) != 26 {
			t.Errorf("event %d has bad identity fields: %+v", i, e)
		}
		if e.At.Before(before) || e.At.After(time.Now().Add(time.Second)) {
			t.Errorf("event %d at %v", i, e.At)
		}
	}
	if string(evs[0].Details) != `{"source":"test"}` || string(evs[1].Details) != `{"trust":"allowlisted"}` || evs[2].Details != nil {
		t.Errorf("details = %s, %s, %s", evs[0].Details, evs[1].Details, evs[2].Details)
	}
}

func TestRecordFieldsAndReinstall(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	st := mustRecord(t, j, testSkill, "1.0.0")
	want := Status{
		SkillID: testSkill, Version: "1.0.0", State: StateInstalled, Reason: "palyra skills install",
		OperatorPrincipal: operator, Publisher: "northwind", KeyID: "ed25519:0123456789abcdef",
		ArtifactSHA256: digestA, PayloadSHA256: digestB, TrustDecision: "tofu_newly_pinned",
	}
	got := st
	got.DetectedAt, got.CreatedAt, got.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("Record returned\n%+v\nwant\n%+v", got, want)
	}
	if st.CreatedAt.IsZero() || !st.DetectedAt.Equal(st.CreatedAt) || !st.UpdatedAt.Equal(st.CreatedAt) {
		t.Errorf("timestamps: %v %v %v", st.DetectedAt, st.CreatedAt, st.UpdatedAt)
	}

	// A re-install from quarantine restarts the lifecycle with new provenance.
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateQuarantined, Reason: "audit failed"})
	in := install(testSkill, "1.0.0")
	in.ArtifactSHA256, in.TrustDecision, in.Principal = digestB, "tofu_pinned", daemon
	st, err := j.Record(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateInstalled || st.ArtifactSHA256 != digestB || st.TrustDecision != "tofu_pinned" || st.OperatorPrincipal != daemon {
		t.Errorf("after re-install: %+v", st)
	}
	evs := checkChains(t, j, testSkill)
	if last := evs[len(evs)-1]; last.Kind != KindInstall || last.From != StateQuarantined || last.To != StateInstalled {
		t.Errorf("re-install event = %+v", last)
	}

	// A removed version can be installed again.
	if err := j.Remove(ctx, testSkill, operator); err != nil {
		t.Fatal(err)
	}
	if st, _ := j.Record(ctx, install(testSkill, "1.0.0")); st.State != StateInstalled {
		t.Errorf("re-install after removal: %s", st.State)
	}
	checkChains(t, j, testSkill)
}

func TestCurrentListRemove(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	if _, err := j.Current(ctx, testSkill); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Current on empty journal: %v", err)
	}
	mustRecord(t, j, testSkill, "1.0.0")
	mustRecord(t, j, "acme.other", "2.0.0")
	mustRecord(t, j, testSkill, "1.1.0")
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateVerified})
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateEligible})

	cur, err := j.Current(ctx, testSkill)
	if err != nil || cur.Version != "1.1.0" {
		t.Fatalf("Current = %s, %v; want the most recently installed 1.1.0", cur.Version, err)
	}
	// Quarantining the current version must not fall back to 1.0.0.
	mustTransition(t, j, testSkill, "1.1.0", Change{To: StateQuarantined})
	if cur, _ := j.Current(ctx, testSkill); cur.Version != "1.1.0" || cur.State.Runnable() {
		t.Errorf("Current after quarantine = %s %s", cur.Version, cur.State)
	}
	// A forced downgrade (re-record of an older version) makes it current.
	mustRecord(t, j, testSkill, "1.0.0")
	if cur, _ := j.Current(ctx, testSkill); cur.Version != "1.0.0" {
		t.Errorf("Current after re-install of 1.0.0 = %s", cur.Version)
	}

	list, err := j.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.SkillID+"@"+s.Version)
	}
	if got, want := strings.Join(ids, " "), "acme.other@2.0.0 northwind.weather@1.0.0 northwind.weather@1.1.0"; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}

	if err := j.Remove(ctx, testSkill, operator); err != nil {
		t.Fatal(err)
	}
	if err := j.Remove(ctx, testSkill, operator); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	if _, err := j.Current(ctx, testSkill); !errors.Is(err, ErrNotFound) {
		t.Errorf("Current after Remove: %v", err)
	}
	if list, _ := j.List(ctx); len(list) != 1 || list[0].SkillID != "acme.other" {
		t.Errorf("List after Remove = %+v", list)
	}
	for _, v := range []string{"1.0.0", "1.1.0"} {
		st, err := j.Get(ctx, testSkill, v)
		if err != nil || st.State != StateRemoved || st.OperatorPrincipal != operator {
			t.Errorf("Get(%s) after Remove = %+v, %v", v, st, err)
		}
	}
	evs := checkChains(t, j, testSkill)
	if n := len(evs); n != 8 { // 3 installs, 2 + 1 transitions, 2 removals
		t.Errorf("%d events, want 8", n)
	}
}

func TestNote(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	// A refused install leaves no row, but the decision is kept.
	if err := j.Note(ctx, Note{SkillID: testSkill, Version: "9.9.9", Kind: "install_refused", Reason: "untrusted publisher", Principal: operator, Details: json.RawMessage(`{"key_id":"ed25519:ff"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Get(ctx, testSkill, "9.9.9"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Note created a row: %v", err)
	}
	mustRecord(t, j, testSkill, "1.0.0")
	if err := j.Note(ctx, Note{SkillID: testSkill, Version: "1.0.0", Kind: "check_passed", Principal: daemon}); err != nil {
		t.Fatal(err)
	}
	evs, _ := j.Events(ctx, testSkill)
	if len(evs) != 3 || evs[0].Kind != "install_refused" || evs[0].From != "" || evs[2].Kind != "check_passed" || evs[2].From != StateInstalled || evs[2].To != StateInstalled {
		t.Errorf("events = %+v", evs)
	}
	for _, kind := range []string{"", KindInstall, KindTransition, KindReverify, KindRemove} {
		if err := j.Note(ctx, Note{SkillID: testSkill, Version: "1.0.0", Kind: kind, Principal: daemon}); err == nil {
			t.Errorf("Note with kind %q accepted", kind)
		}
	}
}

func TestInvalidArguments(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	bad := []struct {
		name string
		fn   func() error
	}{
		{"record without principal", func() error {
			in := install(testSkill, "1.0.0")
			in.Principal = ""
			_, err := j.Record(ctx, in)
			return err
		}},
		{"record without version", func() error { _, err := j.Record(ctx, install(testSkill, " ")); return err }},
		{"record with bad digest", func() error {
			in := install(testSkill, "1.0.0")
			in.ArtifactSHA256 = strings.ToUpper(digestA)
			_, err := j.Record(ctx, in)
			return err
		}},
		{"record with bad details", func() error {
			in := install(testSkill, "1.0.0")
			in.Details = json.RawMessage(`{"a":`)
			_, err := j.Record(ctx, in)
			return err
		}},
		{"transition without principal", func() error {
			_, err := j.Transition(ctx, testSkill, "1.0.0", Change{To: StateVerified})
			return err
		}},
		{"remove without principal", func() error { return j.Remove(ctx, testSkill, "") }},
	}
	for _, tt := range bad {
		if err := tt.fn(); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if list, _ := j.List(ctx); len(list) != 0 {
		t.Errorf("invalid calls wrote rows: %+v", list)
	}
	if _, err := j.Transition(ctx, "no.such", "1.0.0", Change{To: StateVerified, Principal: daemon}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Transition of unknown version: %v, want ErrNotFound", err)
	}
	if _, err := j.Get(ctx, "no.such", "1.0.0"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of unknown version: %v, want ErrNotFound", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := j.Record(cctx, install(testSkill, "1.0.0")); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with canceled context: %v", err)
	}
}

func TestDatabaseEnforcesAppendOnly(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	mustRecord(t, j, testSkill, "1.0.0")
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateVerified})
	before, _ := j.Events(ctx, testSkill)

	for _, stmt := range []string{
		`UPDATE skill_events SET reason = 'rewritten'`,
		`UPDATE skill_events SET to_state = 'eligible' WHERE id = 2`,
		`DELETE FROM skill_events`,
		`DELETE FROM skill_events WHERE id = 1`,
		`DELETE FROM skill_status`,
	} {
		_, err := j.db.ExecContext(ctx, stmt)
		if err == nil || !(strings.Contains(err.Error(), "append-only") || strings.Contains(err.Error(), "never deleted")) {
			t.Errorf("%s: err = %v, want the trigger to refuse it", stmt, err)
		}
	}
	for _, stmt := range []string{
		`UPDATE skill_status SET status = 'running'`,
		`INSERT INTO skill_events (event_id, skill_id, version, at_unix_ms, kind, principal, details) VALUES ('x', 's', 'v', 0, 'k', 'p', '{bad')`,
	} {
		if _, err := j.db.ExecContext(ctx, stmt); err == nil || !strings.Contains(err.Error(), "CHECK") {
			t.Errorf("%s: err = %v, want a CHECK constraint failure", stmt, err)
		}
	}
	after, _ := j.Events(ctx, testSkill)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("events changed:\n%v\n%v", before, after)
	}
}

func TestReopenKeepsDataAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	j, path := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	mustTransition(t, j, testSkill, "1.0.0", Change{To: StateVerified})
	want, _ := j.Get(ctx, testSkill, "1.0.0")
	wantEvents, _ := j.Events(ctx, testSkill)
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		j2, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		got, err := j2.Get(ctx, testSkill, "1.0.0")
		if err != nil || got != want {
			t.Errorf("after reopen Get = %+v, %v; want %+v", got, err, want)
		}
		gotEvents, _ := j2.Events(ctx, testSkill)
		if fmt.Sprint(gotEvents) != fmt.Sprint(wantEvents) {
			t.Errorf("after reopen events differ")
		}
		var n, max int
		if err := j2.db.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max); err != nil {
			t.Fatal(err)
		}
		v, _ := userVersion(ctx, j2.db)
		if n != len(migrations()) || max != SchemaVersion() || v != SchemaVersion() {
			t.Errorf("schema_migrations has %d rows up to %d, user_version %d; want %d", n, max, v, SchemaVersion())
		}
		var mode string
		if err := j2.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
			t.Errorf("journal_mode = %q, %v", mode, err)
		}
		var fk int
		if err := j2.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
			t.Errorf("foreign_keys = %d, %v", fk, err)
		}
		j2.Close()
	}
}

func TestSchemaTooNewRefused(t *testing.T) {
	ctx := context.Background()
	j, path := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	j.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+1)); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	if j, err := Open(ctx, path); !errors.Is(err, ErrSchemaTooNew) {
		if j != nil {
			j.Close()
		}
		t.Fatalf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, ""); err == nil {
		t.Error("Open(\"\") succeeded")
	}
	// A path whose parent is a file cannot be created.
	j, path := openTest(t)
	j.Close()
	if _, err := Open(ctx, filepath.Join(path, "sub", "journal.sqlite3")); err == nil {
		t.Error("Open under a regular file succeeded")
	}
	// Characters that mean something in a URI are taken literally.
	odd := filepath.Join(t.TempDir(), "a?b#c%20d", "journal.sqlite3")
	j2, err := Open(ctx, odd)
	if err != nil {
		t.Fatalf("Open(%q): %v", odd, err)
	}
	defer j2.Close()
	mustRecord(t, j2, testSkill, "1.0.0")
	var file string
	if err := j2.db.QueryRowContext(ctx, `SELECT file FROM pragma_database_list WHERE name = 'main'`).Scan(&file); err != nil || file != odd {
		t.Errorf("database file = %q, %v; want %q", file, err, odd)
	}
}

func TestRecordThenIsOneTransaction(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	in := install(testSkill, "1.0.0")
	in.Then = []Change{
		{To: StateVerified, Reason: "signature and trust", Principal: operator},
		{To: StateEligible, Reason: "audit passed", Principal: operator},
	}
	st, err := j.Record(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateEligible || st.Reason != "audit passed" {
		t.Fatalf("state after Record with Then: %+v", st)
	}
	evs, err := j.Events(ctx, testSkill)
	if err != nil {
		t.Fatal(err)
	}
	var got []State
	for _, e := range evs {
		got = append(got, e.To)
	}
	if fmt.Sprint(got) != fmt.Sprint([]State{StateInstalled, StateVerified, StateEligible}) {
		t.Fatalf("events: %v", got)
	}

	// An invalid change in Then rolls the whole install back.
	bad := install(testSkill, "2.0.0")
	bad.Then = []Change{{To: StateEligible, Reason: "skip verify", Principal: operator}}
	if _, err := j.Record(ctx, bad); !errors.Is(err, ErrInvalidTransition) {
		t.Fatalf("invalid Then: %v", err)
	}
	if _, err := j.Get(ctx, testSkill, "2.0.0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rolled-back install left a row: %v", err)
	}
	if cur, err := j.Current(ctx, testSkill); err != nil || cur.Version != "1.0.0" {
		t.Fatalf("current after rollback: %+v %v", cur, err)
	}
}

func TestGrants(t *testing.T) {
	j, _ := openTest(t)
	ctx := context.Background()
	if _, err := j.Grants(ctx, testSkill, "1.0.0"); !errors.Is(err, ErrNoGrants) {
		t.Fatalf("grants before install: %v", err)
	}
	in := install(testSkill, "1.0.0")
	in.Grants = json.RawMessage(`{"http_hosts":["a.example"]}`)
	recordInstall(t, j, in)
	g, err := j.Grants(ctx, testSkill, "1.0.0")
	if err != nil || string(g) != `{"http_hosts":["a.example"]}` {
		t.Fatalf("grants after install: %s %v", g, err)
	}
	if err := j.SetGrants(ctx, testSkill, "1.0.0", json.RawMessage(`{"http_hosts":[]}`), operator, "narrowed"); err != nil {
		t.Fatal(err)
	}
	if g, _ := j.Grants(ctx, testSkill, "1.0.0"); string(g) != `{"http_hosts":[]}` {
		t.Fatalf("grants after SetGrants: %s", g)
	}
	if err := j.SetGrants(ctx, testSkill, "9.9.9", json.RawMessage(`{}`), operator, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("grants for an unknown version: %v", err)
	}
	if err := j.SetGrants(ctx, testSkill, "1.0.0", json.RawMessage(`{`), operator, "x"); err == nil {
		t.Fatal("invalid JSON grants accepted")
	}
	evs, _ := j.Events(ctx, testSkill)
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "install,grants,grants" {
		t.Fatalf("events: %v", kinds)
	}
}

func recordInstall(t *testing.T, j *Journal, in Install) {
	t.Helper()
	if _, err := j.Record(context.Background(), in); err != nil {
		t.Fatal(err)
	}
}
