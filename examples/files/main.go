// Command files is an example Palyra skill that works with files: list
// and read documents under a read-only root, and append to notes under a
// writable one.
//
// There is no file API in the sdk: the skill uses package os, and the host
// mounts the filesystem roots skill.toml asks for (and the operator
// granted) as WASI preopened directories. The root "library" is the
// directory library under the skill's data directory on the host, and
// "/library" in the skill; nothing else of the host's filesystem exists
// for it, and writes under a read root fail.
//
// Build it as a skill module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o files.wasm .
//
// The tools' logic is in this file, built for every target so that it can
// be tested natively with sdktest; exports_wasip1.go exports it to the host.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/tool"
)

// main is never called: a c-shared module is a library whose host calls
// its exported tools. Go still requires it in a main package.
func main() {}

// The roots skill.toml asks for.
const (
	readRoot  = "library"
	writeRoot = "notes"
)

// dataDir is where the roots are: "/" in the sandbox, where the host
// mounts each root at "/" + root. Paths are absolute on purpose: under
// WASI, Go's working directory is the first root mounted, not "/", so a
// relative "library/intro.txt" is not found. Tests run natively point
// dataDir at a temporary directory laid out as the skill's data directory
// on the host.
var dataDir = "/"

// Limits: a document read whole, a note appended at once, and the
// entries list returns.
const (
	maxReadBytes   = 1 << 20
	maxAppendBytes = 64 << 10
	maxEntries     = 1000
)

// root returns the directory of a root, or an error saying it is not
// available: the operator may not have granted it.
func root(name string) (string, error) {
	dir := filepath.Join(dataDir, name)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("filesystem root %q is not available to the skill (not granted by the operator?)", name)
	}
	return dir, nil
}

// checkName checks that name is a path inside a root: slash-separated, no
// "." or ".." element, no leading slash. The host confines the skill to
// its roots anyway; this gives a clear error instead of a confusing one.
func checkName(name string) error {
	if name == "." || !fs.ValidPath(name) || strings.Contains(name, `\`) {
		return fmt.Errorf("name %q: want a relative path like %q, without . or .. elements", name, "guides/intro.txt")
	}
	return nil
}

// Entry is one document in the library.
type Entry struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
}

type listOutput struct {
	Entries []Entry `json:"entries"`
	// Truncated is true when the library holds more than the list shows.
	Truncated bool `json:"truncated"`
}

// list is the list tool: every regular file under the read root, in
// lexical order. Its input is an empty JSON object, or nothing, so that
// `palyra skills run palyra.files list` needs no --input.
func list() int32 {
	if len(sdk.Input()) == 0 {
		return tool.Return(listFiles())
	}
	return tool.Run(tool.NoContext(func(struct{}) (listOutput, error) { return listFiles() }), nil, 0, 0)
}

func listFiles() (listOutput, error) {
	dir, err := root(readRoot)
	if err != nil {
		return listOutput{}, err
	}
	out := listOutput{Entries: []Entry{}}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p) // p is dir or under it
		name := filepath.ToSlash(rel)
		if err != nil {
			return rootError(readRoot, name, err)
		}
		// Symbolic links are not followed, directories are walked.
		if !d.Type().IsRegular() {
			return nil
		}
		if len(out.Entries) == maxEntries {
			out.Truncated = true
			return filepath.SkipAll
		}
		fi, err := d.Info()
		if err != nil {
			return rootError(readRoot, name, err)
		}
		out.Entries = append(out.Entries, Entry{Name: name, Bytes: fi.Size()})
		return nil
	})
	return out, err
}

type readInput struct {
	// Name is the document's path under the read root.
	Name string `json:"name"`
}

type readOutput struct {
	Name  string `json:"name"`
	Text  string `json:"text"`
	Bytes int    `json:"bytes"`
}

// read is the read tool: a UTF-8 text document under the read root, up to
// 1 MiB.
func read() int32 { return tool.Run(tool.NoContext(readDoc), nil, 0, 0) }

func readDoc(in readInput) (readOutput, error) {
	if err := checkName(in.Name); err != nil {
		return readOutput{}, err
	}
	dir, err := root(readRoot)
	if err != nil {
		return readOutput{}, err
	}
	f, err := os.Open(filepath.Join(dir, filepath.FromSlash(in.Name)))
	if err != nil {
		return readOutput{}, rootError(readRoot, in.Name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxReadBytes+1))
	if err != nil {
		return readOutput{}, rootError(readRoot, in.Name, err)
	}
	if len(data) > maxReadBytes {
		return readOutput{}, fmt.Errorf("%s: larger than %d bytes", path.Join(readRoot, in.Name), maxReadBytes)
	}
	if !utf8.Valid(data) {
		return readOutput{}, fmt.Errorf("%s: not UTF-8 text", path.Join(readRoot, in.Name))
	}
	return readOutput{Name: in.Name, Text: string(data), Bytes: len(data)}, nil
}

type appendInput struct {
	// Name is the note's file name in the write root: one path element.
	Name string `json:"name"`
	// Text is appended as one line.
	Text string `json:"text"`
}

type appendOutput struct {
	Name string `json:"name"`
	// Bytes is the note's size after the append.
	Bytes int64 `json:"bytes"`
}

// appendNote is the append_note tool: it appends text and a newline to a
// note in the write root, creating the note if needed.
func appendNote() int32 { return tool.Run(tool.NoContext(appendLine), nil, 0, 0) }

func appendLine(in appendInput) (appendOutput, error) {
	if err := checkName(in.Name); err != nil {
		return appendOutput{}, err
	}
	if strings.Contains(in.Name, "/") {
		return appendOutput{}, fmt.Errorf("name %q: want a file name, not a path", in.Name)
	}
	if strings.ContainsAny(in.Text, "\r\n") {
		return appendOutput{}, errors.New("text: want one line, without line breaks")
	}
	if len(in.Text) > maxAppendBytes {
		return appendOutput{}, fmt.Errorf("text: %d bytes, want at most %d", len(in.Text), maxAppendBytes)
	}
	dir, err := root(writeRoot)
	if err != nil {
		return appendOutput{}, err
	}
	f, err := os.OpenFile(filepath.Join(dir, in.Name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return appendOutput{}, rootError(writeRoot, in.Name, err)
	}
	if _, err := f.WriteString(in.Text + "\n"); err != nil {
		f.Close()
		return appendOutput{}, rootError(writeRoot, in.Name, err)
	}
	fi, err := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return appendOutput{}, rootError(writeRoot, in.Name, err)
	}
	sdk.Log(sdk.LogInfo, fmt.Sprintf("appended %d bytes to %s", len(in.Text)+1, in.Name))
	return appendOutput{Name: in.Name, Bytes: fi.Size()}, nil
}

// rootError reports a failure on a file without the sandbox's or the test
// directory's path, which mean nothing to the caller.
func rootError(root, name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", path.Join(root, name), err)
}
