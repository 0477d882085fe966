package daemon

// This file is the node's side of node routing: what `palyra node --join`
// runs on a connection to its daemon.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/transport"
)

// DefaultOfferInterval is how often a node looks for a change of its
// eligible skills to re-offer.
const DefaultOfferInterval = time.Second

// NodeOptions configures RunNode; zero fields take defaults.
type NodeOptions struct {
	// OfferInterval: see DefaultOfferInterval.
	OfferInterval time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// RunNode makes h a node of the daemon at the other end of conn (dialed
// with transport.ClientOptions.AcceptStreams and the node's paired
// certificate). It offers h's eligible skills (id, version, payload
// digest), offers again whenever that set changes (polled every
// OfferInterval, so installs, upgrades and quarantines by other processes
// are seen too), and serves the daemon's calls through h.Call and h.Run,
// so the node's grants, quotas and deadlines apply to every call.
//
// A call must pin the version and digest the node offers: one that pins
// nothing, or another version or digest than the node's current eligible
// install, is refused with CodeVersionMismatch before it runs (the daemon
// then tries another node or runs it itself).
//
// RunNode returns nil when ctx ends, after the calls in flight have been
// answered or stopped, and an error when the connection ends or the
// daemon refuses the offer; the caller owns conn (closes it, redials).
func RunNode(ctx context.Context, conn *transport.Conn, h *host.Host, opts NodeOptions) error {
	if opts.OfferInterval <= 0 {
		opts.OfferInterval = DefaultOfferInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	serveErr := make(chan error, 1)
	go func() {
		serveErr <- conn.Serve(ctx, nodeHandler(h, log))
	}()
	offerErr := make(chan error, 1)
	go func() {
		offerErr <- offerLoop(ctx, conn, h, opts.OfferInterval, log)
	}()

	var err error
	select {
	case err = <-serveErr:
		cancel()
		if oerr := <-offerErr; err == nil {
			err = oerr
		}
	case err = <-offerErr:
		cancel()
		<-serveErr
	}
	if parent.Err() != nil {
		return nil
	}
	if err == nil {
		err = errors.New("node: connection to the daemon ended")
	}
	return err
}

// offerLoop sends the eligible set when it differs from the last one the
// daemon accepted, until ctx ends.
func offerLoop(ctx context.Context, conn *transport.Conn, h *host.Host, every time.Duration, log *slog.Logger) error {
	var last []transport.SkillOffer
	sent := false
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		cur, err := eligibleOffers(ctx, h)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// The journal may be busy (another process installing): try
			// again at the next tick, keeping the last offer.
			log.Warn("node: cannot list eligible skills", "err", err)
		} else if !sent || !slices.Equal(cur, last) {
			if len(cur) > transport.MaxOfferSkills {
				log.Warn("node: too many eligible skills, offering the first", "skills", len(cur), "limit", transport.MaxOfferSkills)
				cur = cur[:transport.MaxOfferSkills]
			}
			octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := conn.Call(octx, &transport.Request{Type: transport.TypeOffer, Offer: &transport.OfferRequest{Skills: cur}})
			ocancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("node: offer: %w", err)
			}
			log.Info("node: offered skills", "skills", len(cur))
			last, sent = cur, true
		}
		select {
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return fmt.Errorf("node: connection to the daemon ended")
		case <-tick.C:
		}
	}
}

// eligibleOffers lists h's eligible skills as an offer, sorted by id.
func eligibleOffers(ctx context.Context, h *host.Host) ([]transport.SkillOffer, error) {
	sts, err := h.List(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]transport.SkillOffer, 0, len(sts))
	for _, st := range sts {
		if st.State != host.StateEligible || st.PayloadSHA256 == "" {
			continue
		}
		out = append(out, transport.SkillOffer{ID: st.SkillID, Version: st.Version, Digest: st.PayloadSHA256})
	}
	return out, nil // List sorts by skill id
}

// nodeHandler answers the daemon's requests on a node: pinned calls only,
// each logged (skill, tool, version, duration, error) so an operator sees
// what the daemon ran here.
func nodeHandler(h *host.Host, log *slog.Logger) transport.Handler {
	serve := nodeCall(h)
	return func(ctx context.Context, peer transport.Peer, req *transport.Request) (*transport.Result, error) {
		start := time.Now()
		res, err := serve(ctx, peer, req)
		if req.Type == transport.TypeCall {
			attrs := []any{"skill", req.Call.Skill, "tool", req.Call.Tool, "version", req.Call.Version, "took", time.Since(start).Round(time.Microsecond)}
			if err != nil {
				log.Warn("node: call failed", append(attrs, "err", err)...)
			} else {
				log.Info("node: ran call", attrs...)
			}
		}
		return res, err
	}
}

// nodeCall runs one request of the daemon's.
func nodeCall(h *host.Host) transport.Handler {
	return func(ctx context.Context, peer transport.Peer, req *transport.Request) (*transport.Result, error) {
		if req.Type != transport.TypeCall {
			return nil, &transport.RemoteError{Code: transport.CodeBadRequest, Message: fmt.Sprintf("a node answers call requests only, not %s", req.Type)}
		}
		call := req.Call
		if err := checkPinned(ctx, h, call); err != nil {
			return nil, err
		}
		if !call.Report {
			out, err := h.Call(ctx, call.Skill, call.Tool, call.Input)
			if err != nil {
				return nil, remoteError(err, nil)
			}
			return &transport.Result{Output: out}, nil
		}
		res, err := h.Run(ctx, call.Skill, call.Tool, call.Input)
		if err != nil {
			return nil, remoteError(err, res)
		}
		// The daemon adds "ran_on" to this report.
		data, err := json.Marshal(res)
		if err != nil {
			return nil, err
		}
		return &transport.Result{Output: res.Output, Data: data}, nil
	}
}

// checkPinned refuses a call that does not pin exactly the node's current
// eligible install of the skill.
func checkPinned(ctx context.Context, h *host.Host, call *transport.CallRequest) error {
	if call.Version == "" || call.Digest == "" {
		return &transport.RemoteError{Code: CodeVersionMismatch, Message: "a node runs only calls pinned to a signed version and digest"}
	}
	info, err := h.Info(ctx, call.Skill)
	if errors.Is(err, host.ErrNotInstalled) {
		return &transport.RemoteError{Code: CodeVersionMismatch, Message: fmt.Sprintf("%s is not installed on this node", call.Skill)}
	}
	if err != nil {
		return remoteError(err, nil)
	}
	st := info.Status
	if st.State != host.StateEligible || st.Version != call.Version || st.PayloadSHA256 != call.Digest {
		return &transport.RemoteError{Code: CodeVersionMismatch, Message: fmt.Sprintf(
			"%s: the call pins %s (payload %s); this node has %s (payload %s, %s)",
			call.Skill, call.Version, call.Digest, st.Version, st.PayloadSHA256, st.State)}
	}
	return nil
}

// remoteError gives a host error its code for the wire
// (host.RemoteErrorFor, the one mapping), so the daemon passes it to the
// client as if it had run the call itself. Context errors stay as they
// are: the transport codes them.
func remoteError(err error, report *host.CallResult) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return host.RemoteErrorFor(err, report)
}
