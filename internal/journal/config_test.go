package journal

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func mustSetConfig(t *testing.T, j *Journal, skillID string, c ConfigChange) {
	t.Helper()
	if c.Principal == "" {
		c.Principal = operator
	}
	if err := j.SetConfig(context.Background(), skillID, c); err != nil {
		t.Fatalf("SetConfig(%s %+v): %v", skillID, c, err)
	}
}

func configMap(t *testing.T, j *Journal, skillID string) map[string]string {
	t.Helper()
	es, err := j.Config(context.Background(), skillID)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range es {
		m[string(e.Kind)+":"+e.Key] = e.Value
	}
	return m
}

func TestConfigSetUnsetAndEvents(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")

	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "metric"})
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "imperial", Principal: "operator:bob"})
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "api_token", Value: "hunter2", Redacted: true})
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindVar, Key: "units", Value: "7"})

	got := configMap(t, j, testSkill)
	want := map[string]string{"config:units": "imperial", "config:api_token": "hunter2", "var:units": "7"}
	if len(got) != len(want) {
		t.Fatalf("config = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("config[%s] = %q, want %q", k, got[k], v)
		}
	}
	es, _ := j.Config(ctx, testSkill)
	for _, e := range es {
		if e.Key == "api_token" && !e.Redacted {
			t.Error("api_token not marked redacted")
		}
		if e.Kind == ConfigKindConfig && e.Key == "units" && e.SetBy != "operator:bob" {
			t.Errorf("units set by %q, want the last setter", e.SetBy)
		}
	}

	if err := j.SetConfig(ctx, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Unset: true, Principal: operator}); err != nil {
		t.Fatal(err)
	}
	if err := j.SetConfig(ctx, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Unset: true, Principal: operator}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unset of an unset key: %v, want ErrNotFound", err)
	}
	if got := configMap(t, j, testSkill); got["config:units"] != "" || got["var:units"] != "7" {
		t.Errorf("after unset: %v (the var of the same name must stay)", got)
	}

	// One event per change (the failed unset wrote none), each naming who
	// and the key, against the current version and its unchanged state;
	// the redacted value appears nowhere in the log.
	evs := checkChains(t, j, testSkill)
	var cfg []Event
	for _, e := range evs {
		if e.Kind == KindConfig || e.Kind == KindVar {
			cfg = append(cfg, e)
		}
	}
	wantEv := []struct{ kind, reason, principal, details string }{
		{KindConfig, "set units", operator, `{"key":"units","action":"set","value":"metric"}`},
		{KindConfig, "set units", "operator:bob", `{"key":"units","action":"set","value":"imperial"}`},
		{KindConfig, "set api_token", operator, `{"key":"api_token","action":"set","redacted":true}`},
		{KindVar, "set units", operator, `{"key":"units","action":"set","value":"7"}`},
		{KindConfig, "unset units", operator, `{"key":"units","action":"unset"}`},
	}
	if len(cfg) != len(wantEv) {
		t.Fatalf("%d config events, want %d: %+v", len(cfg), len(wantEv), cfg)
	}
	for i, w := range wantEv {
		e := cfg[i]
		if e.Kind != w.kind || e.Reason != w.reason || e.Principal != w.principal || string(e.Details) != w.details ||
			e.Version != "1.0.0" || e.From != StateInstalled || e.To != StateInstalled {
			t.Errorf("event %d = %+v (details %s), want %+v", i, e, e.Details, w)
		}
	}
	for _, e := range evs {
		if strings.Contains(string(e.Details), "hunter2") || strings.Contains(e.Reason, "hunter2") {
			t.Errorf("redacted value in event %+v", e)
		}
	}
}

func TestConfigSurvivesUpgradeAndGoesWithRemove(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "metric"})
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindVar, Key: "n", Value: "1"})
	mustRecord(t, j, "other.skill", "1.0.0")
	mustSetConfig(t, j, "other.skill", ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "kelvin"})

	mustRecord(t, j, testSkill, "2.0.0")
	if got := configMap(t, j, testSkill); got["config:units"] != "metric" || got["var:n"] != "1" {
		t.Fatalf("after upgrade: %v", got)
	}
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "si"})
	evs, _ := j.Events(ctx, testSkill)
	if last := evs[len(evs)-1]; last.Version != "2.0.0" {
		t.Errorf("config event recorded against %s, want the current 2.0.0", last.Version)
	}

	if err := j.Remove(ctx, testSkill, operator); err != nil {
		t.Fatal(err)
	}
	if got := configMap(t, j, testSkill); len(got) != 0 {
		t.Errorf("config after remove: %v", got)
	}
	if got := configMap(t, j, "other.skill"); got["config:units"] != "kelvin" {
		t.Errorf("another skill's config: %v", got)
	}
	evs = checkChains(t, j, testSkill)
	var unsets int
	for _, e := range evs {
		if (e.Kind == KindConfig || e.Kind == KindVar) && strings.Contains(string(e.Details), `"unset"`) {
			unsets++
			if e.Version != "2.0.0" || e.Principal != operator || !strings.Contains(e.Reason, "removed") {
				t.Errorf("unset at removal: %+v", e)
			}
		}
	}
	if unsets != 2 {
		t.Errorf("%d unset events at removal, want 2", unsets)
	}
	if err := j.SetConfig(ctx, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "x", Principal: operator}); !errors.Is(err, ErrNotFound) {
		t.Errorf("SetConfig of a removed skill: %v, want ErrNotFound", err)
	}
	// A reinstall starts from nothing.
	mustRecord(t, j, testSkill, "2.0.0")
	if got := configMap(t, j, testSkill); len(got) != 0 {
		t.Errorf("config after reinstall: %v", got)
	}
}

func TestConfigChangeBumpsLastEventSeq(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	before, _ := j.LastEventSeq(ctx, testSkill)
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "k", Value: "v"})
	if after, _ := j.LastEventSeq(ctx, testSkill); after <= before {
		t.Errorf("LastEventSeq %d → %d: other processes would not notice the change", before, after)
	}
}

func TestSetConfigRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	mustRecord(t, j, testSkill, "1.0.0")
	for _, tt := range []struct {
		name    string
		skillID string
		c       ConfigChange
	}{
		{"no skill", "", ConfigChange{Kind: ConfigKindConfig, Key: "k", Principal: operator}},
		{"no principal", testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "k"}},
		{"no key", testSkill, ConfigChange{Kind: ConfigKindConfig, Principal: operator}},
		{"bad kind", testSkill, ConfigChange{Kind: "env", Key: "k", Principal: operator}},
		{"not installed", "nobody.here", ConfigChange{Kind: ConfigKindConfig, Key: "k", Principal: operator}},
	} {
		if err := j.SetConfig(ctx, tt.skillID, tt.c); err == nil {
			t.Errorf("%s: SetConfig succeeded", tt.name)
		}
	}
	if got := configMap(t, j, testSkill); len(got) != 0 {
		t.Errorf("refused changes wrote %v", got)
	}
	for _, kind := range []string{KindConfig, KindVar, KindGrants} {
		if err := j.Note(ctx, Note{SkillID: testSkill, Version: "1.0.0", Kind: kind, Principal: operator}); err == nil {
			t.Errorf("Note of reserved kind %q accepted", kind)
		}
	}
}

// TestMigrateFromVersion2 opens a journal made by the previous schema
// (migrations 1 and 2, as the last release wrote it, holding a skill):
// Open adds skill_config and keeps everything else.
func TestMigrateFromVersion2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "journal.sqlite3")
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations()[:2] {
		if err := applyMigration(ctx, db, m, 2); err != nil {
			t.Fatal(err)
		}
	}
	old := &Journal{db: db, writeSlot: make(chan struct{}, 1)}
	mustRecord(t, old, testSkill, "1.0.0")
	mustTransition(t, old, testSkill, "1.0.0", Change{To: StateVerified})
	if err := old.SetGrants(ctx, testSkill, "1.0.0", json.RawMessage(`{"http_hosts":[]}`), operator, "test"); err != nil {
		t.Fatal(err)
	}
	wantStatus, _ := old.Get(ctx, testSkill, "1.0.0")
	wantEvents, _ := old.Events(ctx, testSkill)
	if v, _ := userVersion(ctx, db); v != 2 {
		t.Fatalf("fixture at version %d, want 2", v)
	}
	if _, err := old.Config(ctx, testSkill); err == nil {
		t.Fatal("a version-2 journal already has skill_config: the fixture is not the old schema")
	}
	old.Close()

	j, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open of a version-2 journal: %v", err)
	}
	defer j.Close()
	if v, _ := userVersion(ctx, j.db); v != SchemaVersion() || SchemaVersion() < 3 {
		t.Errorf("user_version %d after Open, want %d (>= 3)", v, SchemaVersion())
	}
	var names []string
	rows, err := j.db.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	if len(names) != SchemaVersion() || names[2] != "create_skill_config" {
		t.Errorf("schema_migrations = %v", names)
	}
	if got, err := j.Get(ctx, testSkill, "1.0.0"); err != nil || got != wantStatus {
		t.Errorf("status after migration = %+v, %v; want %+v", got, err, wantStatus)
	}
	if g, err := j.Grants(ctx, testSkill, "1.0.0"); err != nil || string(g) != `{"http_hosts":[]}` {
		t.Errorf("grants after migration = %s, %v", g, err)
	}
	mustSetConfig(t, j, testSkill, ConfigChange{Kind: ConfigKindConfig, Key: "units", Value: "metric"})
	if got := configMap(t, j, testSkill); got["config:units"] != "metric" {
		t.Errorf("config on the migrated journal: %v", got)
	}
	evs := checkChains(t, j, testSkill)
	if len(evs) != len(wantEvents)+1 {
		t.Errorf("%d events after migration and one set, want %d", len(evs), len(wantEvents)+1)
	}
}
