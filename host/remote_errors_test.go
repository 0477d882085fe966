package host

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/palyra/palyra-go/internal/identity"
	"github.com/palyra/palyra-go/internal/toolschema"
	"github.com/palyra/palyra-go/internal/transport"
)

// overTheWire sends re through the real encoder and decoder, so a code
// the transport would refuse fails the test.
func overTheWire(t *testing.T, re *transport.RemoteError) *transport.RemoteError {
	t.Helper()
	b, err := transport.EncodeResponse(&transport.Response{ID: 1, Error: re})
	if err != nil {
		t.Fatalf("encode %+v: %v", re, err)
	}
	resp, err := transport.DecodeResponse(b)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	return resp.Error
}

func TestRemoteErrorsRoundTrip(t *testing.T) {
	schemaErr := &toolschema.ValidationError{Tool: "echo", Direction: "input", Path: "/text", Rule: "type"}
	fuelTrap := &TrapError{Function: "echo", Err: fmt.Errorf("wrapped: %w", ErrFuelExhausted)}
	tests := []struct {
		name string
		err  error
		code string
		is   error // nil: no sentinel, only the message
	}{
		{"schema violation", fmt.Errorf("call acme.echo: %w", schemaErr), "schema_violation", ErrSchemaViolation},
		{"not installed", fmt.Errorf("skill acme.x: %w", ErrNotInstalled), "not_installed", ErrNotInstalled},
		{"quarantined", fmt.Errorf("acme.echo 1.0.0 is quarantined: %w", ErrNotEligible), "not_eligible", ErrNotEligible},
		{"no tool", fmt.Errorf("acme.echo has no tool nope: %w", ErrNoTool), "no_tool", ErrNoTool},
		{"fuel", fuelTrap, "fuel_exhausted", ErrFuelExhausted},
		{"memory", fmt.Errorf("x: %w", ErrMemoryLimit), "memory_limit", ErrMemoryLimit},
		{"deadline", fmt.Errorf("call: %w", context.DeadlineExceeded), transport.CodeDeadlineExceeded, context.DeadlineExceeded},
		{"canceled", context.Canceled, transport.CodeCanceled, context.Canceled},
		{"grant", fmt.Errorf("grant: %w", ErrNotRequested), "capability_not_requested", ErrNotRequested},
		{"secret not granted", fmt.Errorf("s: %w", ErrSecretNotGranted), "secret_not_granted", ErrSecretNotGranted},
		{"untrusted", fmt.Errorf("v: %w", ErrUntrustedPublisher), "untrusted_publisher", ErrUntrustedPublisher},
		{"device revoked", fmt.Errorf("renew: %w", identity.ErrDeviceRevoked), "device_revoked", identity.ErrDeviceRevoked},
		{"node lost", fmt.Errorf("daemon: %w: node N1: %w", ErrNodeLost, errors.New("transport: stream reset")), "node_lost", ErrNodeLost},
		{"guest", &GuestError{Function: "echo", Code: 3, Message: "bad input"}, codeGuestError, nil},
		{"trap", &TrapError{Function: "echo", Err: errors.New("unreachable")}, codeTrap, nil},
		{"other", errors.New("disk on fire"), codeFailed, nil},
	}
	seen := map[string]bool{}
	for _, c := range remoteCodes {
		if seen[c.code] {
			t.Errorf("code %q used twice", c.code)
		}
		seen[c.code] = true
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, exit := RemoteCode(tc.err)
			if code != tc.code || exit != 1 {
				t.Fatalf("RemoteCode = %q, %d; want %q, 1", code, exit, tc.code)
			}
			re := overTheWire(t, RemoteErrorFor(tc.err, nil))
			back := ErrorFromRemote(re)
			if back.Error() != tc.err.Error() {
				t.Errorf("message %q, want %q", back.Error(), tc.err.Error())
			}
			if tc.is != nil && !errors.Is(back, tc.is) {
				t.Errorf("errors.Is(%v, %v) = false", back, tc.is)
			}
			var got *transport.RemoteError
			if !errors.As(back, &got) || got.Code != tc.code || got.ExitCode != 1 {
				t.Errorf("errors.As RemoteError = %+v", got)
			}
			// The error maps back to the same code: a node's error passes
			// through the daemon unchanged.
			if c2, _ := RemoteCode(back); c2 != tc.code {
				t.Errorf("RemoteCode(ErrorFromRemote) = %q, want %q", c2, tc.code)
			}
			// Every other sentinel does not match.
			for _, c := range remoteCodes {
				if c.err != tc.is && errors.Is(back, c.err) && !errors.Is(tc.err, c.err) {
					t.Errorf("also errors.Is %v", c.err)
				}
			}
		})
	}
}

func TestRemoteErrorsTypedFields(t *testing.T) {
	ge := &GuestError{Function: "echo", Code: 7, Message: "nope"}
	back := ErrorFromRemote(overTheWire(t, RemoteErrorFor(fmt.Errorf("call: %w", ge), nil)))
	var gotGE *GuestError
	if !errors.As(back, &gotGE) || *gotGE != *ge {
		t.Errorf("GuestError = %+v, want %+v", gotGE, ge)
	}

	te := &TrapError{Function: "echo", Exited: true, ExitCode: 3, Stderr: "panic: x"}
	back = ErrorFromRemote(overTheWire(t, RemoteErrorFor(te, nil)))
	var gotTE *TrapError
	if !errors.As(back, &gotTE) || gotTE.Function != "echo" || !gotTE.Exited || gotTE.ExitCode != 3 || gotTE.Stderr != "panic: x" {
		t.Errorf("TrapError = %+v", gotTE)
	}

	fuel := &TrapError{Function: "spin", Err: ErrFuelExhausted}
	back = ErrorFromRemote(overTheWire(t, RemoteErrorFor(fuel, &CallResult{SkillID: "acme.spin", FuelConsumed: 42})))
	if !errors.Is(back, ErrFuelExhausted) || !errors.As(back, &gotTE) || gotTE.Function != "spin" {
		t.Errorf("fuel trap back = %v", back)
	}
	var re *transport.RemoteError
	errors.As(back, &re)
	if rep := RemoteReport(re); rep == nil || rep.SkillID != "acme.spin" || rep.FuelConsumed != 42 {
		t.Errorf("RemoteReport = %+v", rep)
	}
}

func TestRemoteErrorFromTransportCodes(t *testing.T) {
	// Codes the transport sends itself have no host sentinel except the
	// context ones; the message still crosses.
	back := ErrorFromRemote(&transport.RemoteError{Code: transport.CodeOverloaded, Message: "no free slot"})
	if back.Error() != "no free slot" {
		t.Errorf("message %q", back.Error())
	}
	for _, c := range remoteCodes {
		if errors.Is(back, c.err) {
			t.Errorf("overloaded errors.Is %v", c.err)
		}
	}
	if ErrorFromRemote(nil) != nil {
		t.Error("ErrorFromRemote(nil) != nil")
	}
	if c, x := RemoteCode(nil); c != "" || x != 0 {
		t.Errorf("RemoteCode(nil) = %q, %d", c, x)
	}
}
