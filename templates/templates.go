package templates

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// skill holds every skill template. "all:" keeps .gitignore.tmpl, which
// a plain pattern would skip as a dot file.
//
//go:embed all:skill
var skill embed.FS

// ErrUnknown: no template has the requested name.
var ErrUnknown = errors.New("unknown template")

// Template describes one skill template.
type Template struct {
	// Name is what --template takes.
	Name string `json:"name"`
	// Description says in one line what the scaffolded skill shows.
	Description string `json:"description"`
	// Capabilities lists the skill.toml capabilities the template asks for.
	Capabilities []string `json:"capabilities"`
}

// Default is the template used when none is named.
const Default = "basic"

// List returns the skill templates, Default first.
func List() []Template {
	return []Template{
		{Name: "basic", Description: "one typed tool (greet) and no capabilities", Capabilities: []string{}},
		{Name: "http", Description: "a tool that GETs from one allowlisted API host (sdk.Send)", Capabilities: []string{"http_egress_allowlist"}},
		{Name: "files", Description: "tools that read and write files under declared filesystem roots (os over WASI)", Capabilities: []string{"filesystem.read_roots", "filesystem.write_roots"}},
	}
}

// File is one template file.
type File struct {
	// Path is where the rendered file goes in the new skill, slash-separated
	// and without the .tmpl suffix (".gitignore", "main.go").
	Path string
	// Text is the text/template source.
	Text string
}

// Files returns the files of the named template, common files included,
// sorted by Path.
func Files(name string) ([]File, error) {
	known := false
	for _, t := range List() {
		known = known || t.Name == name
	}
	if !known {
		return nil, fmt.Errorf("%w %q (have %s)", ErrUnknown, name, strings.Join(names(), ", "))
	}
	byPath := map[string]string{}
	for _, dir := range []string{"skill/common", "skill/" + name} {
		err := fs.WalkDir(skill, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if !strings.HasSuffix(p, ".tmpl") {
				return fmt.Errorf("templates: %s: template files must end in .tmpl", p)
			}
			data, err := skill.ReadFile(p)
			if err != nil {
				return err
			}
			rel := strings.TrimSuffix(strings.TrimPrefix(p, dir+"/"), ".tmpl")
			byPath[path.Clean(rel)] = string(data)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	files := make([]File, 0, len(byPath))
	for p, text := range byPath {
		files = append(files, File{Path: p, Text: text})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, nil
}

func names() []string {
	var ns []string
	for _, t := range List() {
		ns = append(ns, t.Name)
	}
	return ns
}
