package journal

import (
	"errors"
	"fmt"
)

// State is where one installed version of a skill stands in its lifecycle.
// The values are stored verbatim in skill_status.status and in the
// from_state/to_state columns of skill_events.
type State string

// The lifecycle states. Only [StateEligible] may run.
const (
	// StateInstalled: the artifact was accepted and extracted, nothing more.
	StateInstalled State = "installed"
	// StateVerified: signature, trust decision and integrity checked.
	StateVerified State = "verified"
	// StateEligible: verified and the static audit passed; the host may run it.
	StateEligible State = "eligible"
	// StateQuarantined: must not run (failed re-audit, bad signature,
	// revoked key, operator decision). Left only by removal or by a fresh
	// verify + audit, see [Change.Reverified].
	StateQuarantined State = "quarantined"
	// StateRemoved: `palyra skills remove` ran. The row stays so that what
	// was once installed (publisher, key, digests) remains auditable;
	// [Journal.Record] starts a new lifecycle for the same version.
	StateRemoved State = "removed"
)

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	switch s {
	case StateInstalled, StateVerified, StateEligible, StateQuarantined, StateRemoved:
		return true
	}
	return false
}

// Runnable reports whether a skill version in state s may be executed.
func (s State) Runnable() bool { return s == StateEligible }

// ErrInvalidTransition is matched (with errors.Is) by every
// [*TransitionError].
var ErrInvalidTransition = errors.New("journal: invalid state transition")

// TransitionError reports a state change the lifecycle does not allow.
type TransitionError struct {
	SkillID, Version string
	From, To         State
	// Hint says what would have made the change valid, if anything would.
	Hint string
}

func (e *TransitionError) Error() string {
	msg := fmt.Sprintf("journal: invalid transition %s → %s for %s@%s", e.From, e.To, e.SkillID, e.Version)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// Is makes errors.Is(err, ErrInvalidTransition) true.
func (e *TransitionError) Is(target error) bool { return target == ErrInvalidTransition }

// checkTransition returns a hint and false when from → to is not allowed.
// Installing (→ installed) is not a transition: it is what Record does, so
// that the only way back to the start of the lifecycle is a fresh install.
func checkTransition(from, to State, reverified bool) (string, bool) {
	if !to.Valid() {
		return fmt.Sprintf("unknown state %q", to), false
	}
	switch {
	case from == StateRemoved:
		return "a removed version comes back only through a fresh install", false
	case to == StateInstalled:
		return "use Record to (re)install", false
	case to == StateRemoved:
		return "", true
	case to == StateQuarantined:
		return "", from != StateQuarantined
	case from == StateInstalled:
		return "", to == StateVerified
	case from == StateVerified:
		return "", to == StateEligible
	case from == StateQuarantined && to == StateEligible:
		// The journal cannot verify anything itself; the caller attests
		// that a fresh verify + audit just passed.
		if !reverified {
			return "leaving quarantine requires a fresh verify + audit (Change.Reverified)", false
		}
		return "", true
	}
	return "", false
}
