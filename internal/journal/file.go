package journal

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrCorrupt means the journal file exists but is not a usable journal:
// empty, unreadable, not a SQLite database, or failing SQLite's integrity
// check. Open then touches nothing: the journal is the record of which
// skills are installed, and taking a damaged one for an empty one would
// make recovery delete every installed skill.
var ErrCorrupt = errors.New("journal: unusable journal file")

// sqliteMagic starts every SQLite database file (its 100-byte header).
var sqliteMagic = []byte("SQLite format 3\x00")

// checkFile reports whether the journal at abs exists, and fails with
// ErrCorrupt, naming the file, if it exists but cannot be a journal.
func checkFile(abs string) (exists bool, err error) {
	f, err := os.Open(abs)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("%w: %s cannot be read: %w", ErrCorrupt, abs, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return true, fmt.Errorf("%w: %s: %w", ErrCorrupt, abs, err)
	}
	if !st.Mode().IsRegular() {
		return true, fmt.Errorf("%w: %s is not a regular file (%s)", ErrCorrupt, abs, st.Mode().Type())
	}
	if st.Size() == 0 {
		return true, fmt.Errorf("%w: %s is empty (0 bytes), a state palyra never leaves it in: restore it from a backup, or remove it if no skill was ever installed here", ErrCorrupt, abs)
	}
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(f, head); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return true, fmt.Errorf("%w: %s cannot be read: %w", ErrCorrupt, abs, err)
	}
	if !bytes.Equal(head, sqliteMagic) {
		return true, fmt.Errorf("%w: %s is not a SQLite database (%d bytes, no SQLite header)", ErrCorrupt, abs, st.Size())
	}
	return true, nil
}

// create makes a fresh journal at abs such that no other process ever sees
// it partly made: the database is built and migrated in a temporary file
// beside abs, closed (which checkpoints and removes its WAL), fsynced, and
// then hard-linked to abs, which fails rather than replace a journal
// another process created meanwhile (that one is then used). A crash
// leaves at most an unused ".journal.sqlite3.new-*" file.
func create(ctx context.Context, abs string) error {
	dir := filepath.Dir(abs)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(abs)+".new-*")
	if err != nil {
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	name := tmp.Name()
	tmp.Close()
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			os.Remove(name + suffix)
		}
	}()
	db, err := sql.Open("sqlite", dsn(name))
	if err != nil {
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	if err := syncFile(name); err != nil {
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	if err := os.Link(name, abs); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("journal: create %s: %w", abs, err)
	}
	return syncFile(dir)
}

func syncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// integrity runs SQLite's quick_check (every page and index is well
// formed; linear in the journal's size, which is small).
func integrity(ctx context.Context, db *sql.DB, abs string) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return wrapCorrupt(abs, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return wrapCorrupt(abs, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return wrapCorrupt(abs, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s fails SQLite's integrity check: %q", ErrCorrupt, abs, problems)
	}
	return nil
}

// wrapCorrupt names the file in err, and marks SQLite's "corrupt" and
// "not a database" errors as ErrCorrupt.
func wrapCorrupt(abs string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, abs, err)
		}
	}
	return fmt.Errorf("%s: %w", abs, err)
}
