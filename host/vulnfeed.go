package host

import (
	"context"
	"path/filepath"
	"strings"

	"github.com/palyra/palyra-go/internal/vuln"
)

// vulnFeed is the audit policy's vulnerability feed as one operation
// loaded it: a check re-reads it, so an advisory published since the
// install is matched, and an install, enable or audit reads it once, not
// once per skill.
type vulnFeed struct {
	feed *vuln.Feed
	err  error
}

// loadVulnFeed loads the feed the audit policy's vulnerability_feed_hook
// names (relative to the state dir unless absolute). Nothing configured
// gives no feed and no error; a load error is kept for the audit, whose
// vulnerability_feed_hook check then fails naming it.
func (h *Host) loadVulnFeed(ctx context.Context) vulnFeed {
	path := strings.TrimSpace(h.auditPolicy().VulnerabilityFeedHook)
	if path == "" {
		return vulnFeed{}
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(h.dir, path)
	}
	f, err := vuln.Load(ctx, path)
	if err != nil {
		h.log.Warn("vulnerability feed unusable; audits fail until it loads", "feed", path, "err", err)
	}
	return vulnFeed{feed: f, err: err}
}
