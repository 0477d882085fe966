// Command tamper copies a .palyra-skill artifact, flipping the low bit of the
// last byte of its first module, and rezips it as a well-formed ZIP — so the
// demo shows the verifier catching a changed module, not a broken archive.
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"strings"
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
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := zip.NewWriter(out)
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
		if !done && strings.HasPrefix(f.Name, "modules/") && len(data) > 0 {
			data[len(data)-1] ^= 1
			done = true
			fmt.Printf("flipped one bit of %s\n", f.Name)
		}
		hdr := f.FileHeader
		w, err := zw.CreateHeader(&zip.FileHeader{Name: hdr.Name, Method: hdr.Method, Modified: hdr.Modified})
		if err != nil {
			return err
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	if !done {
		return fmt.Errorf("%s: no module to tamper with", src)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}
