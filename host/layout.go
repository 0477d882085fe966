package host

import (
	"path/filepath"

	"github.com/palyra/palyra-go/internal/trust"
)

// State directory layout (DESIGN.md):
//
//	<state>/skills/trust-store.json         Palyra's trust store
//	<state>/skills/trust-revocations.json   revoked keys (palyra-go's own)
//	<state>/skills/journal.sqlite3          lifecycle journal
//	<state>/skills/<skill_id>/<version>/    an installed skill: its checked
//	                                        entries + artifact.palyra-skill
//	<state>/skills/data/<skill_id>/         the skill's filesystem roots
//	<state>/skills/.staging/                installs in progress
//	<state>/skills/.install.lock            serializes installs across processes
//	<state>/cache/wazero/                   compiled machine code (0700)
//	<state>/secrets/                        the secret store (0700, encrypted)
const (
	skillsDirName    = "skills"
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

func (h *Host) skillsDir() string  { return filepath.Join(h.dir, skillsDirName) }
func (h *Host) stagingDir() string { return filepath.Join(h.skillsDir(), stagingDirName) }
func (h *Host) skillDir(id string) string {
	return filepath.Join(h.skillsDir(), id)
}
func (h *Host) versionDir(id, version string) string {
	return filepath.Join(h.skillsDir(), id, version)
}
