package host

import "context"

// ChangeSeq returns a number that grows with every change to any skill of
// the state dir — install, upgrade, quarantine, enable, grants, config,
// removal — made through this Host or by any other process: the sequence
// number of the journal's latest event. A caller that keeps a view of the
// installed skills (palyra mcp's tool list) polls it and rebuilds the
// view when it moves; one indexed query, cheap enough to run every second.
func (h *Host) ChangeSeq(ctx context.Context) (int64, error) {
	return h.journal.LastSeq(ctx)
}
