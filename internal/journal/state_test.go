package journal

import "testing"

func TestCheckTransition(t *testing.T) {
	all := []State{StateInstalled, StateVerified, StateEligible, StateQuarantined, StateRemoved}
	type key struct {
		from, to   State
		reverified bool
	}
	allowed := map[key]bool{
		{StateInstalled, StateVerified, false}:    true,
		{StateVerified, StateEligible, false}:     true,
		{StateInstalled, StateQuarantined, false}: true,
		{StateVerified, StateQuarantined, false}:  true,
		{StateEligible, StateQuarantined, false}:  true,
		{StateQuarantined, StateEligible, true}:   true,
		{StateInstalled, StateRemoved, false}:     true,
		{StateVerified, StateRemoved, false}:      true,
		{StateEligible, StateRemoved, false}:      true,
		{StateQuarantined, StateRemoved, false}:   true,
		{StateInstalled, StateVerified, true}:     true, // Reverified is ignored outside quarantine
		{StateVerified, StateEligible, true}:      true,
		{StateInstalled, StateQuarantined, true}:  true,
		{StateVerified, StateQuarantined, true}:   true,
		{StateEligible, StateQuarantined, true}:   true,
		{StateInstalled, StateRemoved, true}:      true,
		{StateVerified, StateRemoved, true}:       true,
		{StateEligible, StateRemoved, true}:       true,
		{StateQuarantined, StateRemoved, true}:    true,
	}
	for _, from := range all {
		for _, to := range append(all, State("bogus")) {
			for _, rv := range []bool{false, true} {
				_, got := checkTransition(from, to, rv)
				if want := allowed[key{from, to, rv}]; got != want {
					t.Errorf("checkTransition(%s, %s, reverified=%v) = %v, want %v", from, to, rv, got, want)
				}
			}
		}
	}
}

func TestStateValidRunnable(t *testing.T) {
	tests := []struct {
		s               State
		valid, runnable bool
	}{
		{StateInstalled, true, false},
		{StateVerified, true, false},
		{StateEligible, true, true},
		{StateQuarantined, true, false},
		{StateRemoved, true, false},
		{"", false, false},
		{"Eligible", false, false},
	}
	for _, tt := range tests {
		if got := tt.s.Valid(); got != tt.valid {
			t.Errorf("%q.Valid() = %v", tt.s, got)
		}
		if got := tt.s.Runnable(); got != tt.runnable {
			t.Errorf("%q.Runnable() = %v", tt.s, got)
		}
	}
}
