package host

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/palyra/palyra-go/internal/atomicfile"
	"github.com/palyra/palyra-go/internal/journal"
)

// Upgrading a state dir from the legacy layout, which kept an installed
// skill at <state>/skills/<skill_id>/<version>/, beside the trust store
// and the journal: a skill whose id was a state file's name
// (trust-revocations.json, journal.sqlite3-journal) took that file's
// place. Open moves such skills to <state>/skills/installed/<skill_id>/,
// under the install lock, before anything reads the trust store.
//
// Which directories are skills is decided by the journal, never guessed
// from names: a legacy skill dir is <state>/skills/<id> for an id the
// journal has recorded (removed ones too, whose files a crash may have
// left), when that path is a directory and not one of the directories
// palyra owns there. The one exception comes first, before the journal
// can be opened: a directory named like one of SQLite's side files of the
// journal (-journal, -wal, -shm) can only be a skill, since SQLite makes
// files, and SQLite would take it for a hot journal and fail.
//
// Every move is one rename (the whole skill dir, or one version dir when
// the target skill dir exists already), so a crash leaves each skill in
// either place, and the next Open finishes the job; recovery then deletes
// the versions the journal does not name, as it always does.

// ownedSkillsEntry reports whether name is a directory palyra itself keeps
// under <state>/skills; no skill id is ever taken for one of them. A new
// directory there must be added here.
func ownedSkillsEntry(name string) bool {
	switch name {
	case installedDirName, dataDirName, stagingDirName:
		return true
	}
	return false
}

// upgradeJournalSideDirs moves legacy skill dirs named like the journal's
// SQLite side files out of the journal's way. It runs before the journal
// is opened.
func (h *Host) upgradeJournalSideDirs() error {
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if err := h.adoptLegacy(journalFileName + suffix); err != nil {
			return err
		}
	}
	return nil
}

// upgradeLayout moves every skill the journal knows, removed ones too (a
// crash could have left their files), from its legacy place to the
// current layout.
func (h *Host) upgradeLayout(ctx context.Context) error {
	ids, err := h.journal.SkillIDs(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id == installedDirName {
			if err := h.upgradeSkillNamedInstalled(ctx); err != nil {
				return err
			}
			continue
		}
		if ownedSkillsEntry(id) {
			continue
		}
		if err := h.adoptLegacy(id); err != nil {
			return err
		}
	}
	return nil
}

// upgradeSkillNamedInstalled moves the current version of a legacy skill
// named "installed", which lived in what is now the installed dir itself.
// Its version dir is told from a skill dir there by the artifact copy it
// holds (a skill dir holds only version dirs); its other versions are
// left to recovery, which deletes what the journal does not name.
func (h *Host) upgradeSkillNamedInstalled(ctx context.Context) error {
	cur, err := h.journal.Current(ctx, installedDirName)
	if errors.Is(err, journal.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	legacy := filepath.Join(h.installedDir(), cur.Version)
	if !isRegular(filepath.Join(legacy, artifactCopyName)) {
		return nil
	}
	return h.adoptLegacyVersion(legacy, installedDirName, cur.Version)
}

// adoptLegacy moves <state>/skills/<id>, if it is a directory, to
// <state>/skills/installed/<id>: in one rename, or version by version
// when that exists already (an upgrade a crash interrupted). A version
// present in both places keeps the current layout's copy.
func (h *Host) adoptLegacy(id string) error {
	legacy := h.legacySkillDir(id)
	st, err := os.Lstat(legacy)
	if errors.Is(err, fs.ErrNotExist) || err == nil && !st.IsDir() {
		return nil
	}
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.installedDir(), 0o700); err != nil {
		return err
	}
	target := h.skillDir(id)
	if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(legacy, target); err != nil {
			return err
		}
		h.log.Info("moved a skill to the current state dir layout", "skill", id, "from", legacy, "to", target)
		h.crash("layout-moved")
		return syncDirs(h.skillsDir(), h.installedDir())
	}
	versions, err := os.ReadDir(legacy)
	if err != nil {
		return err
	}
	for _, v := range versions {
		if err := h.adoptLegacyVersion(filepath.Join(legacy, v.Name()), id, v.Name()); err != nil {
			return err
		}
	}
	if err := os.Remove(legacy); err != nil {
		return err
	}
	return atomicfile.SyncDir(h.skillsDir())
}

// adoptLegacyVersion renames the version dir legacy to
// <state>/skills/installed/<id>/<version>.
func (h *Host) adoptLegacyVersion(legacy, id, version string) error {
	if err := os.MkdirAll(h.skillDir(id), 0o700); err != nil {
		return err
	}
	target := h.versionDir(id, version)
	if _, err := os.Lstat(target); err == nil {
		h.log.Warn("removing a legacy copy of a skill version already in the current layout", "skill", id, "version", version)
		return os.RemoveAll(legacy)
	}
	if err := os.Rename(legacy, target); err != nil {
		return err
	}
	h.log.Info("moved a skill version to the current state dir layout", "skill", id, "version", version, "from", legacy)
	h.crash("layout-moved")
	return syncDirs(filepath.Dir(legacy), h.skillDir(id))
}

func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := atomicfile.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

func isRegular(path string) bool {
	st, err := os.Lstat(path)
	return err == nil && st.Mode().IsRegular()
}
