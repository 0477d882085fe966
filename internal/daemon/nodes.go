package daemon

// This file is the contract between the daemon (daemon.go: listener,
// handler, pairing endpoint, revocation watcher) and node routing
// (nodes.go: the joined nodes, their offers, routing and failure). The
// lead wrote it before either side; the routing work fills in the bodies.

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/palyra/palyra-go/host"
	"github.com/palyra/palyra-go/internal/transport"
)

// errNoNode: no live node offers the pinned version; the daemon runs the
// call itself.
var errNoNode = errors.New("daemon: no node offers this skill version")

// A call whose node failed under it (its connection closed or the stream
// was reset) before answering fails wrapping host.ErrNodeLost (wire code
// node_lost) and the transport's error. The call may have started on the
// node, so it is NOT run again locally: the caller gets the error and
// decides. The node is dropped until it reconnects and offers again.

// CodeVersionMismatch is the RemoteError code a node answers a routed
// call with when its eligible install of the skill is not the pinned
// version and digest (it changed since the node's last offer).
const CodeVersionMismatch = "version_mismatch"

// skillKey is one signed skill version: what an offer names and what a
// routed call is pinned to. Digest is the payload digest the journal
// records (host.SkillStatus.PayloadSHA256).
type skillKey struct{ id, version, digest string }

// node is one joined node: its connection and what it offers.
type node struct {
	id       string
	conn     *transport.Conn
	offers   map[skillKey]struct{}
	inFlight int    // calls routed to it and not yet answered
	served   uint64 // calls routed to it so far: breaks ties between idle nodes
}

// nodeSet tracks the joined nodes (devices of kind node connected over
// mTLS), what each offers and how busy it is. It is safe for concurrent
// use; its zero value is an empty set.
//
// Routing rules:
//   - a call goes only to a node whose current offer names exactly the
//     skill id, version and payload digest of the daemon's own eligible
//     install, and whose connection is live;
//   - among those, the one with the fewest calls in flight (ties: the one
//     that has served fewest);
//   - no such node → errNoNode, and the daemon runs the call itself;
//   - a node answering CodeVersionMismatch has not run the call: its offer
//     of that version is forgotten and the next node is tried, then
//     errNoNode (local);
//   - a node that fails mid-call (connection closed, stream reset) fails
//     the call with host.ErrNodeLost: no local fallback, since the call may
//     have had effects on the node. The caller's deadline bounds the wait
//     (transport.Conn.Call honours it), so a dead node never hangs a call;
//   - a node whose connection ends is dropped (a goroutine per connection
//     watches Conn.Done), and comes back only with a new offer.
type nodeSet struct {
	mu    sync.Mutex
	nodes map[string]*node // by device id
}

// offer records what a node offers (replacing its previous offer); peer
// is the node's verified connection, on which the daemon calls it back.
func (n *nodeSet) offer(ctx context.Context, peer transport.Peer, offer *transport.OfferRequest) error {
	if peer.DeviceID == "" || peer.Conn == nil {
		return errors.New("daemon: an offer needs a verified device connection")
	}
	if offer == nil {
		return errors.New("daemon: empty offer")
	}
	offers := make(map[skillKey]struct{}, len(offer.Skills))
	for _, s := range offer.Skills {
		offers[skillKey{s.ID, s.Version, s.Digest}] = struct{}{}
	}
	select {
	case <-peer.Conn.Done():
		return fmt.Errorf("daemon: node %s: connection closed before its offer was recorded", peer.DeviceID)
	default:
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.nodes == nil {
		n.nodes = map[string]*node{}
	}
	nd := n.nodes[peer.DeviceID]
	if nd != nil && nd.conn == peer.Conn {
		nd.offers = offers
		return nil
	}
	// A new node, or a node on a new connection (it reconnected): calls
	// in flight on the old connection keep their own reference.
	nd = &node{id: peer.DeviceID, conn: peer.Conn, offers: offers}
	n.nodes[peer.DeviceID] = nd
	go func(conn *transport.Conn) {
		<-conn.Done()
		n.dropConn(peer.DeviceID, conn)
	}(peer.Conn)
	return nil
}

// route runs call on the least busy live node that offers exactly
// version/digest of the skill. It returns errNoNode when there is none,
// the result and the node's device id when one ran it, or the node's
// failure (a node that dies mid-call fails the call within its deadline
// and is dropped until it reconnects).
func (n *nodeSet) route(ctx context.Context, call *transport.CallRequest, version, digest string) (res *transport.Result, nodeID string, err error) {
	if call == nil || version == "" || digest == "" {
		return nil, "", errNoNode
	}
	key := skillKey{call.Skill, version, digest}
	pinned := *call
	pinned.Version, pinned.Digest = version, digest
	// The time left of ctx goes as the timeout (Conn.Call), so the node
	// stops when the caller stops waiting.
	pinned.Timeout = 0
	for {
		nd := n.pick(key)
		if nd == nil {
			return nil, "", errNoNode
		}
		res, err := nd.conn.Call(ctx, &transport.Request{Type: transport.TypeCall, Call: &pinned})
		n.done(nd)
		if err == nil {
			return res, nd.id, nil
		}
		var re *transport.RemoteError
		switch {
		case errors.As(err, &re) && re.Code == CodeVersionMismatch:
			// The node did not run it: its install changed since it
			// offered. Forget that offer (it re-offers) and try another.
			n.forgetOffer(nd, key)
			continue
		case errors.As(err, &re):
			// The node ran the call and it failed: the caller's error.
			return nil, nd.id, err
		case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			// The caller's deadline or cancellation (Conn.Call's read
			// deadline may fire a moment before ctx's own timer): not the
			// node's fault.
			return nil, nd.id, err
		default:
			n.dropConn(nd.id, nd.conn)
			return nil, nd.id, fmt.Errorf("daemon: %w: node %s: %w", host.ErrNodeLost, nd.id, err)
		}
	}
}

// pick reserves the least busy live node offering key, or returns nil.
func (n *nodeSet) pick(key skillKey) *node {
	n.mu.Lock()
	defer n.mu.Unlock()
	var best *node
	for _, nd := range n.nodes {
		if _, ok := nd.offers[key]; !ok {
			continue
		}
		select {
		case <-nd.conn.Done():
			continue // its watcher drops it
		default:
		}
		if best == nil || nd.inFlight < best.inFlight ||
			(nd.inFlight == best.inFlight && (nd.served < best.served || (nd.served == best.served && nd.id < best.id))) {
			best = nd
		}
	}
	if best != nil {
		best.inFlight++
		best.served++
	}
	return best
}

// done releases a call's reservation on nd.
func (n *nodeSet) done(nd *node) {
	n.mu.Lock()
	nd.inFlight--
	n.mu.Unlock()
}

// forgetOffer removes key from nd's offer.
func (n *nodeSet) forgetOffer(nd *node, key skillKey) {
	n.mu.Lock()
	delete(nd.offers, key)
	n.mu.Unlock()
}

// dropConn forgets the node id if it is still on conn (a node that has
// reconnected since keeps its new connection).
func (n *nodeSet) dropConn(id string, conn *transport.Conn) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if nd := n.nodes[id]; nd != nil && nd.conn == conn {
		delete(n.nodes, id)
	}
}

// drop forgets a node (its connection closed, or its device was revoked).
func (n *nodeSet) drop(deviceID string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.nodes, deviceID)
}

// nodeIDs returns the ids of the nodes in the set, for tests and status.
func (n *nodeSet) nodeIDs() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	ids := make([]string, 0, len(n.nodes))
	for id := range n.nodes {
		ids = append(ids, id)
	}
	return ids
}
