package journal

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirSnapshot is every name in dir with its content, to show that a
// refused Open changed nothing (not even a -wal or -shm file).
func dirSnapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		info, _ := e.Info()
		out[e.Name()] = info.Mode().String() + " " + string(data)
	}
	return out
}

// A journal file that exists but is not a journal is an error naming the
// file, never an empty journal: the host's recovery deletes every skill
// directory an empty journal does not name.
func TestOpenRefusesUnusableFile(t *testing.T) {
	valid := func(t *testing.T, path string) []byte {
		j, err := Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		mustRecord(t, j, testSkill, "1.0.0")
		j.Close()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	cases := []struct {
		name    string
		content func(t *testing.T, path string) []byte
		mode    os.FileMode
		want    string
	}{
		{"zero bytes", func(*testing.T, string) []byte { return nil }, 0o600, "empty (0 bytes)"},
		{"garbage", func(*testing.T, string) []byte {
			return bytes.Repeat([]byte("not a database\n"), 300)
		}, 0o600, "not a SQLite database"},
		{"short", func(*testing.T, string) []byte { return []byte("SQLite") }, 0o600, "not a SQLite database"},
		{"header then garbage", func(t *testing.T, path string) []byte {
			data := valid(t, path)
			// Keep page 1's header, overwrite the b-tree pages after it.
			for i := 100; i < len(data); i++ {
				data[i] = 0xA5
			}
			return data
		}, 0o600, ""},
		{"unreadable", func(t *testing.T, path string) []byte { return valid(t, path) }, 0o000, "cannot be read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.mode == 0 && os.Geteuid() == 0 {
				t.Skip("root reads any file")
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "journal.sqlite3")
			data := c.content(t, filepath.Join(t.TempDir(), "journal.sqlite3"))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, c.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(path, 0o600) })
			before := dirSnapshot(t, dir)
			j, err := Open(context.Background(), path)
			if err == nil {
				j.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v; want ErrCorrupt naming %s (%q)", err, path, c.want)
			}
			if after := dirSnapshot(t, dir); !mapsEqual(before, after) {
				t.Errorf("a refused Open changed the directory:\nbefore %q\nafter  %q", keys(before), keys(after))
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// A missing journal is created, whole, with owner-only permissions, and
// no temporary file stays behind.
func TestOpenCreatesFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "skills")
	path := filepath.Join(dir, "journal.sqlite3")
	j, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, j, testSkill, "1.0.0")
	j.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".new-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	if _, err := checkFile(path); err != nil {
		t.Error(err)
	}
}

// SkillIDs names removed skills too: the host moves their leftover files
// when it upgrades a state dir's layout.
func TestSkillIDs(t *testing.T) {
	ctx := context.Background()
	j, _ := openTest(t)
	if ids, err := j.SkillIDs(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("empty journal: %v %v", ids, err)
	}
	mustRecord(t, j, "b.skill", "1.0.0")
	mustRecord(t, j, "b.skill", "2.0.0")
	mustRecord(t, j, "a.skill", "1.0.0")
	if err := j.Remove(ctx, "a.skill", operator); err != nil {
		t.Fatal(err)
	}
	ids, err := j.SkillIDs(ctx)
	if err != nil || strings.Join(ids, ",") != "a.skill,b.skill" {
		t.Fatalf("SkillIDs = %v, %v", ids, err)
	}
}
