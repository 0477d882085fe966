package host_test

import (
	"testing"

	"github.com/palyra/palyra-go/host"
)

// TestChangeSeqMovesOnEveryChange: every change palyra mcp must notice —
// made through this Host or through another Host on the same state dir,
// as another process would — moves ChangeSeq.
func TestChangeSeqMovesOnEveryChange(t *testing.T) {
	state := t.TempDir()
	h := openHost(t, state, host.Options{})
	other := openHost(t, state, host.Options{})
	seq := func() int64 {
		t.Helper()
		s, err := h.ChangeSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	last := seq()
	artifact := skillSpec{}.File(t)
	steps := []struct {
		name string
		do   func() error
	}{
		{"install", func() error {
			_, err := h.Install(ctx, artifact, host.InstallOptions{AllowTOFU: true})
			return err
		}},
		{"quarantine by another host", func() error { return other.Quarantine(ctx, "acme.echo", "test", "") }},
		{"enable", func() error { return h.Enable(ctx, "acme.echo", "") }},
		{"grants by another host", func() error {
			_, err := other.SetGrants(ctx, "acme.echo", host.Grants{}, "")
			return err
		}},
		{"remove by another host", func() error { return other.Remove(ctx, "acme.echo", "") }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		now := seq()
		if now <= last {
			t.Fatalf("after %s: ChangeSeq = %d, want > %d", s.name, now, last)
		}
		last = now
	}
	if again := seq(); again != last {
		t.Fatalf("ChangeSeq moved with no change: %d then %d", last, again)
	}
}
