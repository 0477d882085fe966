package journal_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/internal/journal"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "journal-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	j, err := journal.Open(ctx, filepath.Join(dir, "skills", "journal.sqlite3"))
	if err != nil {
		log.Fatal(err)
	}
	defer j.Close()

	const skill, version = "northwind.weather", "0.3.1"
	if _, err := j.Record(ctx, journal.Install{
		SkillID: skill, Version: version, Publisher: "northwind",
		TrustDecision: "tofu_newly_pinned", Principal: "operator:alice",
	}); err != nil {
		log.Fatal(err)
	}
	for _, to := range []journal.State{journal.StateVerified, journal.StateEligible, journal.StateQuarantined} {
		if _, err := j.Transition(ctx, skill, version, journal.Change{To: to, Principal: "system:daemon"}); err != nil {
			log.Fatal(err)
		}
	}
	// Leaving quarantine needs a fresh verify + audit.
	_, err = j.Transition(ctx, skill, version, journal.Change{To: journal.StateEligible, Principal: "operator:alice"})
	fmt.Println(errors.Is(err, journal.ErrInvalidTransition))
	st, _ := j.Transition(ctx, skill, version, journal.Change{To: journal.StateEligible, Principal: "operator:alice", Reverified: true})
	fmt.Println(st.State, st.State.Runnable())

	evs, _ := j.Events(ctx, skill)
	for _, e := range evs {
		fmt.Printf("%s %q -> %s\n", e.Kind, e.From, e.To)
	}
	// Output:
	// true
	// eligible true
	// install "" -> installed
	// transition "installed" -> verified
	// transition "verified" -> eligible
	// transition "eligible" -> quarantined
	// reverify "quarantined" -> eligible
}
