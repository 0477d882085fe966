package artifact

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/palyra/palyra-go/internal/signing"
)

// fuzzSeeds are whole artifacts: the golden vector, a good artifact built
// here (stored and deflated) and a few near misses.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	if golden, err := os.ReadFile(filepath.Join(goldenDir, "golden.palyra-skill")); err == nil {
		seeds = append(seeds, golden)
	} else {
		f.Fatal(err)
	}
	for _, m := range []Method{Deflate, Store} {
		req := goodRequest(testKey("good"))
		req.ModuleMethod = m
		b := build(f, req)
		seeds = append(seeds, b.Bytes, append(bytes.Clone(b.Bytes), 0))
	}
	return seeds
}

// FuzzOpen: Open never panics, and whatever it accepts is consistent: every
// path passes the path rules, the files are sorted and unique, the digest
// and signature hold, and the files written out again verify again with the
// same digest and key.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := open(data, nil)
		if err != nil {
			return
		}
		if !slices.IsSortedFunc(a.Files, func(x, y File) int { return bytes.Compare([]byte(x.Path), []byte(y.Path)) }) {
			t.Fatal("files not sorted")
		}
		for i, f := range a.Files {
			if err := checkPath(f.Path); err != nil {
				t.Fatalf("accepted path %q: %v", f.Path, err)
			}
			if i > 0 && a.Files[i-1].Path == f.Path {
				t.Fatalf("accepted duplicate %q", f.Path)
			}
		}
		if got := PayloadDigest(a.Files); got != a.PayloadSHA256 {
			t.Fatalf("digest %s, Artifact says %s", got, a.PayloadSHA256)
		}
		if signing.KeyID(a.PublicKey) != a.KeyID {
			t.Fatal("key id does not match key")
		}
		var buf bytes.Buffer
		if err := Write(&buf, a.Files, Store); err != nil {
			t.Fatalf("Write of accepted files: %v", err)
		}
		b, err := open(buf.Bytes(), nil)
		if err != nil {
			t.Fatalf("accepted artifact does not re-verify: %v", err)
		}
		if b.PayloadSHA256 != a.PayloadSHA256 || !b.PublicKey.Equal(a.PublicKey) {
			t.Fatal("re-verified artifact differs")
		}
	})
}

// FuzzParseSignature: ParseSignature never panics, and a document it
// accepts is internally consistent and survives a marshal round trip.
func FuzzParseSignature(f *testing.F) {
	for _, s := range fuzzSeeds(f)[:2] {
		a, err := open(s, nil)
		if err != nil {
			f.Fatal(err)
		}
		sig, _ := a.File(SignaturePath)
		f.Add(sig)
	}
	f.Add([]byte(`{"algorithm":"ed25519-sha256"}`))
	f.Add([]byte(`{"a":1,"A":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, pub, err := ParseSignature(data)
		if err != nil {
			return
		}
		if s.Algorithm != SignatureAlgorithm || signing.KeyID(pub) != s.KeyID || !isLowerHex(s.PayloadSHA256, 64) {
			t.Fatalf("accepted inconsistent signature %+v", s)
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, pub2, err := ParseSignature(js)
		if err != nil {
			t.Fatalf("re-marshaled signature rejected: %v", err)
		}
		if s2 != s || !pub2.Equal(pub) {
			t.Fatal("round trip changed the signature")
		}
	})
}
