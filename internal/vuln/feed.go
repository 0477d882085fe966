package vuln

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/ossf/osv-schema/bindings/go/osvschema"
	"google.golang.org/protobuf/encoding/protojson"
)

// Bounds on what Load reads. The Go vulndb's largest record is some tens
// of KiB and the whole database about 30 MiB in some 5,000 records; an
// osv.dev export of every Go advisory (Go vulndb and GHSA) is a few times
// that.
const (
	MaxFileBytes = 8 << 20
	MaxFeedBytes = 1 << 30
	MaxRecords   = 500_000
	// maxDepth bounds JSON nesting (database_specific is free-form).
	maxDepth = 64
)

// ErrInvalidFeed reports a feed that cannot be used: not JSON, not OSV, a
// version that is not one, over a bound. Errors from Load wrap it (or the
// fs error, for a path that cannot be read) and name the file.
var ErrInvalidFeed = errors.New("invalid vulnerability feed")

// Ecosystem is the OSV ecosystem whose records a Feed keeps.
const Ecosystem = "Go"

// Feed is a loaded vulnerability feed, indexed by Go module. It is
// immutable and safe for concurrent use.
type Feed struct {
	source   string
	records  int
	byModule map[string][]*entry
}

// Source returns the path the feed was loaded from.
func (f *Feed) Source() string { return f.source }

// Records returns how many records the feed holds (withdrawn ones and
// duplicates not counted, records of other ecosystems counted).
func (f *Feed) Records() int { return f.records }

// limits are Load's bounds; tests lower them.
type limits struct {
	fileBytes, feedBytes int64
	records              int
}

var defaultLimits = limits{fileBytes: MaxFileBytes, feedBytes: MaxFeedBytes, records: MaxRecords}

// Load reads the feed at path: an OSV JSON file (one record or an array of
// them) or a directory of such files (see the package documentation). The
// feed is checked whole; any error leaves no feed.
func Load(ctx context.Context, path string) (*Feed, error) {
	return defaultLimits.load(ctx, path)
}

func (l limits) load(ctx context.Context, path string) (*Feed, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("vuln: feed %w", err)
	}
	b := newBuilder(path, l)
	if !st.IsDir() {
		if err := b.addFile(path); err != nil {
			return nil, err
		}
		return b.feed(), nil
	}
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("vuln: feed %w", err)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("vuln: %w", err)
		}
		name := d.Name()
		if p != path && (strings.HasPrefix(name, ".") || d.IsDir() && name == "index") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(name, ".json") {
			return nil
		}
		return b.addFile(p)
	})
	if err != nil {
		return nil, err
	}
	return b.feed(), nil
}

// builder accumulates records.
type builder struct {
	source string
	l      limits
	total  int64
	// recs keeps one record per id.
	recs  map[string]*osvschema.Vulnerability
	order []string
}

func newBuilder(source string, l limits) *builder {
	return &builder{source: source, l: l, recs: map[string]*osvschema.Vulnerability{}}
}

func (b *builder) addFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("vuln: feed %w", err)
	}
	defer f.Close()
	data, err := readCapped(f, b.l.fileBytes)
	if err != nil {
		return fmt.Errorf("vuln: feed %s: %w", path, err)
	}
	if int64(len(data)) > b.l.fileBytes {
		return fmt.Errorf("vuln: %s: larger than %d bytes: %w", path, b.l.fileBytes, ErrInvalidFeed)
	}
	if b.total += int64(len(data)); b.total > b.l.feedBytes {
		return fmt.Errorf("vuln: %s: feed larger than %d bytes: %w", b.source, b.l.feedBytes, ErrInvalidFeed)
	}
	recs, err := parseRecords(data)
	if err != nil {
		return fmt.Errorf("vuln: %s: %w", path, err)
	}
	for _, r := range recs {
		if err := checkRecord(r); err != nil {
			return fmt.Errorf("vuln: %s: %w", path, err)
		}
		if prev, ok := b.recs[r.GetId()]; ok {
			if r.GetModified().AsTime().After(prev.GetModified().AsTime()) {
				b.recs[r.GetId()] = r
			}
			continue
		}
		if len(b.recs) >= b.l.records {
			return fmt.Errorf("vuln: %s: more than %d records: %w", b.source, b.l.records, ErrInvalidFeed)
		}
		b.recs[r.GetId()] = r
		b.order = append(b.order, r.GetId())
	}
	return nil
}

// readCapped reads f whole, or cap+1 bytes of it when it is larger: in
// one read sized by Stat for a regular file (a feed is thousands of small
// files), with io.ReadAll for whatever else or a file that grew.
func readCapped(f *os.File, limit int64) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if size := fi.Size(); fi.Mode().IsRegular() && size <= limit {
		buf := make([]byte, size+1)
		n, err := io.ReadFull(f, buf)
		switch {
		case err == io.ErrUnexpectedEOF || err == io.EOF:
			return buf[:n], nil
		case err != nil:
			return nil, err
		}
		rest, err := io.ReadAll(io.LimitReader(f, limit-size))
		return append(buf, rest...), err
	}
	return io.ReadAll(io.LimitReader(f, limit+1))
}

// feed indexes the records' Go entries. Records were checked by addFile,
// so compiling them cannot fail.
func (b *builder) feed() *Feed {
	f := &Feed{source: b.source, byModule: map[string][]*entry{}}
	for _, id := range b.order {
		r := b.recs[id]
		if r.GetWithdrawn() != nil {
			continue
		}
		f.records++
		for _, aff := range r.GetAffected() {
			if aff.GetPackage().GetEcosystem() != Ecosystem {
				continue
			}
			e := compile(r, aff)
			key := strings.ToLower(aff.GetPackage().GetName())
			f.byModule[key] = append(f.byModule[key], e)
		}
	}
	return f
}

// unmarshal decodes OSV records: unknown fields are ignored (newer schema
// versions), nesting is bounded.
var unmarshal = protojson.UnmarshalOptions{DiscardUnknown: true, RecursionLimit: maxDepth}

// parseRecords decodes a file: one OSV record, or an array of them.
func parseRecords(data []byte) ([]*osvschema.Vulnerability, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("empty file: %w", ErrInvalidFeed)
	}
	raws := []json.RawMessage{trimmed}
	if trimmed[0] == '[' {
		if err := checkDepth(trimmed); err != nil {
			return nil, err
		}
		raws = nil
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, fmt.Errorf("not a JSON array of OSV records: %v: %w", err, ErrInvalidFeed)
		}
	}
	out := make([]*osvschema.Vulnerability, 0, len(raws))
	for i, raw := range raws {
		var v osvschema.Vulnerability
		if err := unmarshal.Unmarshal(raw, &v); err != nil {
			if len(raws) > 1 {
				return nil, fmt.Errorf("record %d: not an OSV record: %v: %w", i, err, ErrInvalidFeed)
			}
			return nil, fmt.Errorf("not an OSV record: %v: %w", err, ErrInvalidFeed)
		}
		out = append(out, &v)
	}
	return out, nil
}

// checkDepth refuses JSON nested deeper than maxDepth before
// encoding/json, whose own limit is 10,000, walks it.
func checkDepth(data []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range data {
		switch {
		case escaped:
			escaped = false
		case inString:
			switch c {
			case '\\':
				escaped = true
			case '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			if depth++; depth > maxDepth {
				return fmt.Errorf("JSON nested deeper than %d: %w", maxDepth, ErrInvalidFeed)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// checkRecord applies the rules of the package documentation: an id, and
// for Go entries a package name and versions that are semver.
func checkRecord(r *osvschema.Vulnerability) error {
	id := r.GetId()
	if id == "" {
		return fmt.Errorf("record without an id: %w", ErrInvalidFeed)
	}
	if len(id) > 256 || strings.IndexFunc(id, func(c rune) bool { return unicode.IsSpace(c) || !unicode.IsPrint(c) }) >= 0 {
		return fmt.Errorf("record id %.64q is not an OSV id: %w", id, ErrInvalidFeed)
	}
	for i, aff := range r.GetAffected() {
		if aff.GetPackage().GetEcosystem() != Ecosystem {
			continue
		}
		if aff.GetPackage().GetName() == "" {
			return fmt.Errorf("%s: affected[%d]: Go package without a name: %w", id, i, ErrInvalidFeed)
		}
		for _, v := range aff.GetVersions() {
			if _, ok := canonical(v); !ok {
				return fmt.Errorf("%s: affected[%d]: version %q is not semver: %w", id, i, v, ErrInvalidFeed)
			}
		}
		for j, rg := range aff.GetRanges() {
			if rg.GetType() != osvschema.Range_SEMVER && rg.GetType() != osvschema.Range_ECOSYSTEM {
				continue
			}
			for k, ev := range rg.GetEvents() {
				if _, err := toEvent(ev); err != nil {
					return fmt.Errorf("%s: affected[%d].ranges[%d].events[%d]: %w", id, i, j, k, err)
				}
			}
		}
	}
	return nil
}

// toEvent checks and canonicalises one range event: exactly one of its
// fields set, to a semver version ("0" for introduced, "*" for limit).
// A "*" limit, which limits nothing, keeps v "*".
func toEvent(ev *osvschema.Event) (event, error) {
	var set []event
	var raw string
	for _, c := range []struct {
		kind eventKind
		v    string
	}{{introduced, ev.GetIntroduced()}, {fixed, ev.GetFixed()}, {lastAffected, ev.GetLastAffected()}, {limit, ev.GetLimit()}} {
		if c.v != "" {
			set = append(set, event{kind: c.kind})
			raw = c.v
		}
	}
	if len(set) != 1 {
		return event{}, fmt.Errorf("event sets %d of introduced, fixed, last_affected, limit (must be 1): %w", len(set), ErrInvalidFeed)
	}
	e := set[0]
	switch {
	case e.kind == introduced && raw == "0":
		return e, nil
	case e.kind == limit && raw == "*":
		e.v = "*"
		return e, nil
	}
	v, ok := canonical(raw)
	if !ok {
		return event{}, fmt.Errorf("version %q is not semver: %w", raw, ErrInvalidFeed)
	}
	e.v = v
	return e, nil
}

// compile turns a checked Go affected entry into an entry.
func compile(r *osvschema.Vulnerability, aff *osvschema.Affected) *entry {
	e := &entry{
		id: r.GetId(), aliases: r.GetAliases(), summary: r.GetSummary(),
		severity: recordSeverity(r, aff),
	}
	for _, v := range aff.GetVersions() {
		c, _ := canonical(v)
		e.versions = append(e.versions, c)
	}
	evaluable := false
	for _, rg := range aff.GetRanges() {
		if rg.GetType() != osvschema.Range_SEMVER && rg.GetType() != osvschema.Range_ECOSYSTEM {
			continue
		}
		evaluable = true
		var evs []event
		for _, ev := range rg.GetEvents() {
			if e, _ := toEvent(ev); e.v != "*" {
				evs = append(evs, e)
			}
		}
		if len(evs) == 0 {
			// An empty range, like no range, covers every version.
			evs = []event{{kind: introduced}}
		}
		sortEvents(evs)
		e.ranges = append(e.ranges, evs)
	}
	e.all = !evaluable && len(e.versions) == 0
	return e
}
