package daemon

// This file is the contract between the daemon (daemon.go: listener,
// handler, pairing endpoint, revocation watcher) and node routing
// (nodes.go: the joined nodes, their offers, routing and failure). The
// lead wrote it before either side; the routing work fills in the bodies.

import (
	"context"
	"errors"

	"github.com/palyra/palyra-go/internal/transport"
)

// errNoNode: no live node offers the pinned version; the daemon runs the
// call itself.
var errNoNode = errors.New("daemon: no node offers this skill version")

// nodeSet tracks the joined nodes (devices of kind node connected over
// mTLS), what each offers and how busy it is. It is safe for concurrent
// use.
type nodeSet struct{}

// offer records what a node offers (replacing its previous offer); peer
// is the node's verified connection, on which the daemon calls it back.
func (n *nodeSet) offer(ctx context.Context, peer transport.Peer, offer *transport.OfferRequest) error {
	return errors.New("daemon: nodes are not supported yet")
}

// route runs call on the least busy live node that offers exactly
// version/digest of the skill. It returns errNoNode when there is none,
// the result and the node's device id when one ran it, or the node's
// failure (a node that dies mid-call fails the call within its deadline
// and is dropped until it reconnects).
func (n *nodeSet) route(ctx context.Context, call *transport.CallRequest, version, digest string) (res *transport.Result, nodeID string, err error) {
	return nil, "", errNoNode
}

// drop forgets a node (its connection closed, or its device was revoked).
func (n *nodeSet) drop(deviceID string) {}
