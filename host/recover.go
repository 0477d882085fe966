package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/palyra/palyra-go/internal/journal"
	"github.com/palyra/palyra-go/internal/manifest"
)

// recover makes the installed skills dir agree with the journal after a
// crash, under the install lock (after the layout upgrade). The journal
// is the source of truth: a skill's version directory stays only if the
// journal names it as that skill's current, not-removed version. In order:
//
//   - .staging/old-<id>@<version> (moved aside by a reinstall) goes back to
//     its place if that place is empty, else is deleted;
//   - every other .staging entry (a half-written install) is deleted;
//   - version directories the journal does not name as current are
//     deleted (a crash after the rename but before the journal commit, or
//     after the commit but before the old version was cleaned up).
func (h *Host) recover(ctx context.Context) error {
	entries, err := os.ReadDir(h.stagingDir())
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(h.stagingDir(), e.Name())
		if rest, ok := strings.CutPrefix(e.Name(), "old-"); ok {
			if id, version, ok := strings.Cut(rest, "@"); ok {
				target := h.versionDir(id, version)
				if _, err := os.Lstat(target); errors.Is(err, os.ErrNotExist) {
					if err := os.Rename(p, target); err != nil {
						return err
					}
					h.log.Info("recovered a version moved aside by an interrupted reinstall", "skill", id, "version", version)
					continue
				}
			}
		}
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}

	skills, err := os.ReadDir(h.installedDir())
	if err != nil {
		return err
	}
	for _, s := range skills {
		id := s.Name()
		if !s.IsDir() || manifest.ValidateSkillID(id) != nil {
			continue
		}
		keep := ""
		cur, err := h.journal.Current(ctx, id)
		switch {
		case err == nil && cur.State != journal.StateRemoved:
			keep = cur.Version
		case err == nil, errors.Is(err, journal.ErrNotFound):
		default:
			return err
		}
		versions, err := os.ReadDir(h.skillDir(id))
		if err != nil {
			return err
		}
		for _, v := range versions {
			if v.Name() == keep {
				continue
			}
			h.log.Info("removing a version the journal does not name", "skill", id, "version", v.Name())
			if err := os.RemoveAll(filepath.Join(h.skillDir(id), v.Name())); err != nil {
				return err
			}
		}
		if keep == "" {
			os.Remove(h.skillDir(id)) // only if empty
		}
	}
	return nil
}
