package templates

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
	"text/template"
)

// Every template directory is listed, and every listed template has one.
func TestListMatchesDirectories(t *testing.T) {
	entries, err := fs.ReadDir(skill, "skill")
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, e := range entries {
		if e.Name() != "common" {
			dirs = append(dirs, e.Name())
		}
	}
	listed := names()
	slices.Sort(listed)
	if !slices.Equal(dirs, listed) {
		t.Errorf("directories %v, List %v", dirs, listed)
	}
	if List()[0].Name != Default {
		t.Errorf("List()[0] = %q, want the default %q", List()[0].Name, Default)
	}
}

func TestFiles(t *testing.T) {
	want := []string{".gitignore", "README.md", "gen.go", "go.mod", "main.go", "main_test.go", "skill.toml"}
	for _, tmpl := range List() {
		t.Run(tmpl.Name, func(t *testing.T) {
			files, err := Files(tmpl.Name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Path)
				// Each parses as a template; gen's tests render and build them.
				if _, err := template.New(f.Path).Option("missingkey=error").Parse(f.Text); err != nil {
					t.Errorf("%s: %v", f.Path, err)
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("files %v, want %v", got, want)
			}
		})
	}
}

func TestFilesUnknown(t *testing.T) {
	_, err := Files("nope")
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("err = %v, want ErrUnknown", err)
	}
	if got := err.Error(); got != `unknown template "nope" (have basic, http, files)` {
		t.Errorf("message %q", got)
	}
}
