package host

import (
	"path/filepath"

	"github.com/palyra/palyra-go/internal/trust"
)

// State directory layout (docs/journal.md):
//
//	<state>/policy.json                     the operator's policy (optional)
//	<state>/skills/trust-store.json         Palyra's trust store
//	<state>/skills/trust-revocations.json   revoked keys (palyra-go's own)
//	<state>/skills/journal.sqlite3          lifecycle journal (+ -wal, -shm)
//	<state>/skills/installed/<skill_id>/<version>/
//	                                        an installed skill: its checked
//	                                        entries + artifact.palyra-skill
//	<state>/skills/data/<skill_id>/         the skill's filesystem roots
//	<state>/skills/.staging/                installs in progress
//	<state>/skills/.install.lock            serializes installs across processes
//	<state>/cache/wazero/                   compiled machine code (0700)
//	<state>/secrets/                        the secret store (0700, encrypted),
//	                                        identity material too (identity.go)
//	<state>/secrets/.lock                   its writer lock (registry updates)
//
// A skill id names a directory only under installed/ and data/, each of
// which holds nothing but skill ids, so no id can name a state file. (In
// the legacy layout a skill lived at <state>/skills/<skill_id>/, beside
// the state files; Open moves such a state dir to this layout, see
// upgrade.go.)
//
// Open refuses a state dir, skills dirs, policy, trust store, journal or
// compilation cache that others can write, and a secrets dir they can
// read (perm.go).
const (
	skillsDirName    = "skills"
	installedDirName = "installed"
	stagingDirName   = ".staging"
	installLockName  = ".install.lock"
	journalFileName  = "journal.sqlite3"
	dataDirName      = "data"
	artifactCopyName = "artifact.palyra-skill"
	cacheDirName     = "cache"
	secretsDirName   = "secrets"
)

// TrustStorePath is where a state dir keeps Palyra's trust-store.json.
func TrustStorePath(stateDir string) string {
	return filepath.Join(stateDir, skillsDirName, trust.FileName)
}

func (h *Host) skillsDir() string    { return filepath.Join(h.dir, skillsDirName) }
func (h *Host) installedDir() string { return filepath.Join(h.skillsDir(), installedDirName) }
func (h *Host) stagingDir() string   { return filepath.Join(h.skillsDir(), stagingDirName) }
func (h *Host) journalPath() string  { return filepath.Join(h.skillsDir(), journalFileName) }
func (h *Host) skillDir(id string) string {
	return filepath.Join(h.installedDir(), id)
}
func (h *Host) versionDir(id, version string) string {
	return filepath.Join(h.installedDir(), id, version)
}

// dataDir is the parent of a skill's filesystem roots.
func (h *Host) dataDir(id string) string {
	return filepath.Join(h.skillsDir(), dataDirName, id)
}

// cacheDir is where compiled machine code is kept.
func (h *Host) cacheDir() string {
	if h.opts.CompilationCacheDir != "" {
		return h.opts.CompilationCacheDir
	}
	return filepath.Join(h.dir, cacheDirName, "wazero")
}

// secretsDir holds the encrypted secret store.
func (h *Host) secretsDir() string { return filepath.Join(h.dir, secretsDirName) }

// legacySkillDir is where the legacy layout kept a skill's versions.
func (h *Host) legacySkillDir(id string) string { return filepath.Join(h.skillsDir(), id) }
