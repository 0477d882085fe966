package journal

import (
	"context"
	"encoding/json"
	"testing"
)

func TestLastSeqGrowsWithEveryChange(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	seq := func() int64 {
		t.Helper()
		s, err := j.LastSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := seq(); s != 0 {
		t.Fatalf("empty journal: LastSeq = %d, want 0", s)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"install", func() error { _, err := j.Record(ctx, install(testSkill, "1.0.0")); return err }},
		{"install of another skill", func() error { _, err := j.Record(ctx, install("northwind.tides", "1.0.0")); return err }},
		{"grants", func() error {
			return j.SetGrants(ctx, testSkill, "1.0.0", json.RawMessage(`{"http_hosts":["a.example"]}`), operator, "test")
		}},
		{"quarantine", func() error {
			_, err := j.Transition(ctx, testSkill, "1.0.0", Change{To: StateQuarantined, Reason: "test", Principal: operator})
			return err
		}},
		{"removal", func() error { return j.Remove(ctx, "northwind.tides", operator) }},
	}
	last := seq()
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if now := seq(); now <= last {
			t.Errorf("after %s: LastSeq = %d, want > %d", s.name, now, last)
		} else {
			last = now
		}
	}
	// LastSeq is the maximum of the per-skill sequences.
	a, _ := j.LastEventSeq(ctx, testSkill)
	b, _ := j.LastEventSeq(ctx, "northwind.tides")
	if want := max(a, b); last != want {
		t.Errorf("LastSeq = %d, want max of the skills' LastEventSeq %d", last, want)
	}
}
