// Package vuln matches a skill's Go modules against a vulnerability feed in
// the OSV format (https://ossf.github.io/osv-schema/), such as an export of
// the Go vulnerability database.
//
// # Feed
//
// Load reads the feed the operator points to: a single JSON file holding
// one OSV record or an array of them, or a directory, whose *.json files
// are read the same way, subdirectories included (the Go vulndb export's
// ID/ folder, or a flat osv.dev export). Directories named "index" (the Go
// vulndb's index/db.json, modules.json, vulns.json, which repeat what the
// records say) and names starting with "." are skipped.
//
// Records are decoded with the OSV project's own Go bindings
// (github.com/ossf/osv-schema/bindings/go/osvschema) by protojson. The
// feed is untrusted input, so loading is bounded — each file at most
// MaxFileBytes, all files together at most MaxFeedBytes, at most
// MaxRecords records, JSON nested at most 64 deep — and strict where a
// mistake would hide a vulnerability: a file that is not JSON, a record
// without an id, or a Go record whose range or version list holds a version
// that is not semver fails the whole load, naming the file and record.
// Fields the schema does not define are ignored, so newer schema versions
// load. A record whose id appears twice is kept once (the later
// "modified"). Withdrawn records are dropped. Only affected entries of the
// "Go" ecosystem are kept; the package name is the module path ("stdlib"
// for the standard library, as in the Go vulndb).
//
// # Matching
//
// Versions are compared with golang.org/x/mod/semver, the Go command's own
// semantics: OSV Go records write versions without the "v" ("1.2.3", as
// the Go vulndb does) or with it, and both are accepted. Pseudo-versions
// order by their timestamp, and "+incompatible" is build metadata that
// does not change the order. A Go toolchain version ("go1.21.3",
// "go1.22rc1", as an SBOM lists the standard library) is compared as
// v1.21.3, v1.22.0-rc.1. A module version is affected by an entry when it
// is in its versions list or in one of its SEMVER or ECOSYSTEM ranges,
// evaluated as the OSV schema says: events in version order, "introduced"
// turns on, "fixed" (at or above) and "last_affected" (above) turn off, and
// a "limit" bounds the range. An entry with no such range and no versions
// affects every version (as in golang.org/x/vuln); GIT ranges, which name
// commits, are not evaluated. Module paths are compared without regard to
// case, since some SBOM tools lowercase package URLs.
//
// Records that name each other in "aliases" (a Go vulndb GO- record and the
// GHSA record of the same bug) and match the same module version are one
// Finding, listing every id.
//
// # Severity
//
// A finding's severity is the highest of what its records say: CVSS
// vectors in "severity" (v2, v3.0, v3.1, v4.0, scored with
// github.com/pandatix/go-cvss and rated by the CVSS bands: below 4 low,
// below 7 moderate, below 9 high, else critical), the "Ubuntu" severity,
// and database_specific.severity (GitHub's LOW, MODERATE, HIGH, CRITICAL),
// at the record or affected level. The Go vulndb assigns no severity: such
// a finding is SeverityUnknown, which AtLeast treats as high — a
// vulnerability nobody graded is not assumed harmless, yet an operator who
// only stops critical ones can let it through with a warning.
package vuln
