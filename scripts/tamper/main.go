// Command tamper copies a .palyra-skill artifact, flipping the low bit of the
// last byte of its first module, and rewrites it with the artifact writer —
// so the ZIP is well formed and the demo shows the verifier catching a
// changed module, not a broken archive.
package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/palyra/palyra-go/internal/artifact"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tamper SRC DST")
		os.Exit(2)
	}
	if err := tamper(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "tamper:", err)
		os.Exit(1)
	}
}

func tamper(src, dst string) error {
	zr, err := zip.OpenReader(src)
	if err != nil {
		return err
	}
	defer zr.Close()
	var files []artifact.File
	done := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return err
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if !done && strings.HasPrefix(f.Name, artifact.ModulesDir) && len(data) > 0 {
			data[len(data)-1] ^= 1
			done = true
			fmt.Printf("flipped one bit of %s\n", f.Name)
		}
		files = append(files, artifact.File{Path: f.Name, Data: data})
	}
	if !done {
		return fmt.Errorf("%s: no module to tamper with", src)
	}
	var buf bytes.Buffer
	if err := artifact.Write(&buf, files, artifact.Deflate); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}
