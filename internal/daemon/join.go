package daemon

// This file is the node's reconnect loop: what `palyra node --join` runs
// around RunNode for as long as it lives.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/transport"
)

// Reconnect backoff of Join: doubled after each failed attempt, back to
// the minimum once a connection has lasted the maximum.
const (
	DefaultJoinBackoffMin = 500 * time.Millisecond
	DefaultJoinBackoffMax = 30 * time.Second
)

// ErrNodeRefused: the daemon refused the node for good (its device is
// revoked or unknown, or it is not paired as a node); reconnecting cannot
// help. Join returns it wrapping the daemon's answer.
var ErrNodeRefused = errors.New("the daemon refused this node")

// JoinOptions configures Join; zero fields take defaults.
type JoinOptions struct {
	// Node is passed to RunNode on every connection.
	Node NodeOptions
	// BackoffMin and BackoffMax bound the wait before reconnecting; see
	// DefaultJoinBackoffMin and DefaultJoinBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// Remote configures the connection (host.Dial). AcceptStreams is
	// always set; OnRenew should store renewed credentials (the CLI gives
	// (*host.Host).SaveRemoteCredentials), or a node that outlives its
	// certificate cannot reconnect after a restart.
	Remote host.RemoteOptions
	// OnConnected, when set, is called each time a connection to the
	// daemon is made, before the node offers its skills.
	OnConnected func()
}

// Join makes h a node of the daemon creds were paired with (as kind node)
// until ctx ends: it connects, runs RunNode on the connection, and when
// the connection drops (the daemon restarted, the network failed, the
// daemon dropped the node) connects again with backoff and offers again.
// The connection is a host.Remote's, so the node's certificate renews
// before it expires like any paired client's.
//
// Join returns nil when ctx ends (after the calls in flight are answered
// or stopped), and an error wrapping ErrNodeRefused when the daemon
// refuses the node: its device was revoked, or it is not a node
// (CodeForbidden).
func Join(ctx context.Context, h *host.Host, creds *host.RemoteCredentials, opts JoinOptions) error {
	if opts.BackoffMin <= 0 {
		opts.BackoffMin = DefaultJoinBackoffMin
	}
	if opts.BackoffMax < opts.BackoffMin {
		opts.BackoffMax = max(DefaultJoinBackoffMax, opts.BackoffMin)
	}
	log := opts.Node.Logger
	if log == nil {
		log = slog.Default()
		opts.Node.Logger = log
	}
	ropts := opts.Remote
	ropts.AcceptStreams = true
	if ropts.Logger == nil {
		ropts.Logger = log
	}
	var r *host.Remote
	defer func() {
		if r != nil {
			r.Close()
		}
	}()
	backoff := opts.BackoffMin
	for {
		start := time.Now()
		var conn *transport.Conn
		var err error
		if r == nil {
			if r, err = host.Dial(ctx, creds, ropts); err != nil {
				r = nil
			}
		}
		if r != nil {
			conn, err = r.Conn(ctx)
		}
		if err == nil {
			log.Info("node: connected", "daemon", creds.Addr, "device", creds.DeviceID)
			if opts.OnConnected != nil {
				opts.OnConnected()
			}
			err = RunNode(ctx, conn, h, opts.Node)
			_ = conn.Close() // the next r.Conn dials afresh
		}
		if ctx.Err() != nil {
			return nil
		}
		if refusedForGood(err) {
			return fmt.Errorf("%w at %s: %w", ErrNodeRefused, creds.Addr, err)
		}
		if time.Since(start) >= opts.BackoffMax {
			backoff = opts.BackoffMin // it had been up a while: not a flapping daemon
		}
		log.Warn("node: disconnected, reconnecting", "daemon", creds.Addr, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, opts.BackoffMax)
	}
}

// refusedForGood reports whether err says the daemon will not take this
// node back: a refused handshake (revoked or unknown device), a
// connection closed for the device, or an offer forbidden to its kind.
func refusedForGood(err error) bool {
	var re *transport.RemoteError
	return errors.Is(err, transport.ErrRefused) || errors.Is(err, transport.ErrDeviceClosed) ||
		(errors.As(err, &re) && re.Code == CodeForbidden)
}
