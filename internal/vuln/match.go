package vuln

import (
	"slices"
	"strings"

	"golang.org/x/mod/semver"
)

// Finding is one vulnerability a module version has: one OSV record, or
// several that name each other as aliases.
type Finding struct {
	// Module and Version are the component matched, as given to Match.
	Module  string `json:"module"`
	Version string `json:"version"`
	// ID is the record's id (the first in order, when records merged);
	// Aliases every other id and alias (CVE, GHSA), sorted.
	ID      string   `json:"id"`
	Aliases []string `json:"aliases,omitempty"`
	Summary string   `json:"summary,omitempty"`
	// Severity is the highest any of the records states.
	Severity Severity `json:"severity"`
	// Fixed is the lowest version above Version that a matching range
	// fixes it in (canonical semver, "v1.2.3"); empty when no record says.
	Fixed string `json:"fixed,omitempty"`
}

// entry is one record's affected entry for one Go module, checked and
// canonicalised at load.
type entry struct {
	id       string
	aliases  []string
	summary  string
	severity Severity
	ranges   [][]event // each sorted by version
	versions []string  // canonical
	all      bool      // no evaluable range and no versions: every version
}

type eventKind uint8

const (
	introduced eventKind = iota
	fixed
	lastAffected
	limit
)

// event is a range event; v is canonical semver, "" for introduced "0".
type event struct {
	kind eventKind
	v    string
}

// affects reports whether v (canonical) is affected, and the version that
// fixes it when a range says.
func (e *entry) affects(v string) (bool, string) {
	if e.all || slices.Contains(e.versions, v) {
		return true, ""
	}
	for _, r := range e.ranges {
		if ok, fix := inRange(r, v); ok {
			return true, fix
		}
	}
	return false, ""
}

// inRange evaluates one range as the OSV schema says: walking events in
// version order, introduced at or below v turns it on, fixed at or below v
// and last_affected below v turn it off; a limit at or below v excludes v.
// fix is the first fixed event above v.
func inRange(events []event, v string) (affected bool, fix string) {
	for _, ev := range events {
		if ev.kind == limit && semver.Compare(v, ev.v) >= 0 {
			return false, ""
		}
	}
	for _, ev := range events {
		switch ev.kind {
		case introduced:
			if ev.v == "" || semver.Compare(v, ev.v) >= 0 {
				affected = true
			}
		case fixed:
			if semver.Compare(v, ev.v) >= 0 {
				affected = false
			}
		case lastAffected:
			if semver.Compare(v, ev.v) > 0 {
				affected = false
			}
		}
		if ev.kind != limit && ev.v != "" && semver.Compare(ev.v, v) > 0 {
			// The first event above v ends v's interval: only a fixed
			// event there names a version that fixes v.
			if affected && ev.kind == fixed {
				fix = ev.v
			}
			break
		}
	}
	return affected, fix
}

// sortEvents orders events by version, introduced "0" first; equal
// versions keep their order.
func sortEvents(evs []event) {
	slices.SortStableFunc(evs, func(a, b event) int {
		switch {
		case a.v == "" && b.v == "":
			return 0
		case a.v == "":
			return -1
		case b.v == "":
			return 1
		}
		return semver.Compare(a.v, b.v)
	})
}

// Match returns the findings for one Go module version (path as in go.mod,
// "stdlib" for the standard library; version as Go writes it, or a Go
// toolchain version for stdlib), sorted by id. ok is false when the feed
// has records for the module but version cannot be compared with them (an
// empty or malformed version); then nothing was matched.
func (f *Feed) Match(module, version string) (findings []Finding, ok bool) {
	entries := f.byModule[strings.ToLower(module)]
	if len(entries) == 0 {
		return nil, true
	}
	v, valid := canonical(version)
	if !valid {
		return nil, false
	}
	type hit struct {
		e   *entry
		fix string
	}
	var hits []hit
	for _, e := range entries {
		if ok, fix := e.affects(v); ok {
			hits = append(hits, hit{e, fix})
		}
	}
	// Merge records that name each other, so one bug listed by two
	// databases is one finding.
	used := make([]bool, len(hits))
	for i := range hits {
		if used[i] {
			continue
		}
		used[i] = true
		group := []hit{hits[i]}
		for grown := true; grown; {
			grown = false
			for j := range hits {
				if used[j] {
					continue
				}
				for _, g := range group {
					if slices.Contains(g.e.aliases, hits[j].e.id) || slices.Contains(hits[j].e.aliases, g.e.id) {
						used[j], grown = true, true
						group = append(group, hits[j])
						break
					}
				}
			}
		}
		slices.SortFunc(group, func(a, b hit) int { return strings.Compare(a.e.id, b.e.id) })
		fd := Finding{Module: module, Version: version, ID: group[0].e.id}
		ids := map[string]bool{}
		for _, g := range group {
			ids[g.e.id] = true
			for _, a := range g.e.aliases {
				ids[a] = true
			}
			fd.Severity = max(fd.Severity, g.e.severity)
			if fd.Summary == "" {
				fd.Summary = g.e.summary
			}
			if g.fix != "" && (fd.Fixed == "" || semver.Compare(g.fix, fd.Fixed) < 0) {
				fd.Fixed = g.fix
			}
		}
		delete(ids, fd.ID)
		for id := range ids {
			fd.Aliases = append(fd.Aliases, id)
		}
		slices.Sort(fd.Aliases)
		findings = append(findings, fd)
	}
	slices.SortFunc(findings, func(a, b Finding) int { return strings.Compare(a.ID, b.ID) })
	return findings, true
}
