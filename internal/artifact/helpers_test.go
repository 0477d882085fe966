package artifact

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"testing"
	"time"

	"github.com/palyra/palyra-go/internal/manifest"
)

// emptyWasm is the smallest valid Wasm module: magic and version.
var emptyWasm = []byte("\x00asm\x01\x00\x00\x00")

const (
	testSBOM       = `{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"metadata":{"component":{"type":"application","name":"acme.echo","version":"1.0.0"}},"components":[]}`
	testProvenance = `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"modules/echo.wasm","digest":{"sha256":"93a44bbb96c751218e4c00d479e4c14358122a389acca16205b1e4d0dc5f9476"}}],"predicateType":"https://slsa.dev/provenance/v1","predicate":{},"builder":{"id":"test"}}`
)

// testKey derives a key from label, so fuzz seeds and golden comparisons
// are stable; tests that only need "some key" use it too.
func testKey(label string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("palyra-go artifact test key: " + label))
	return ed25519.NewKeyFromSeed(seed[:])
}

func testManifest() *manifest.Manifest {
	return &manifest.Manifest{
		ManifestVersion: 1,
		SkillID:         "acme.echo",
		Name:            "Echo",
		Version:         "1.0.0",
		Publisher:       "acme",
		Entrypoints: manifest.Entrypoints{Tools: []manifest.Tool{{
			ID:           "acme.echo",
			Name:         "echo",
			Description:  "Echoes its input.",
			InputSchema:  map[string]any{"type": "object"},
			OutputSchema: map[string]any{"type": "object"},
		}}},
		Capabilities: manifest.Capabilities{Quotas: manifest.DefaultQuotas()},
		Compat:       manifest.Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.1.0"},
	}
}

func goodRequest(key ed25519.PrivateKey) BuildRequest {
	return BuildRequest{
		Manifest:   testManifest(),
		Modules:    []File{{Path: "modules/echo.wasm", Data: emptyWasm}},
		Assets:     []File{{Path: "assets/readme.txt", Data: []byte("hello\n")}},
		SBOM:       []byte(testSBOM),
		Provenance: []byte(testProvenance),
		Key:        key,
		SignedAt:   time.Unix(1700000000, 0),
	}
}

func build(t testing.TB, req BuildRequest) *Built {
	t.Helper()
	b, err := Build(req)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

// open runs Open and OpenBytes on data, each keeping every entry and
// with MetadataOnly, and requires the four to agree: same verdict, same
// failed check, same digest and entries, and MetadataOnly's files exactly
// the metadata entries of the others'. It returns Open's result with opts.
func open(data []byte, opts *ReadOptions) (*Artifact, error) {
	var o ReadOptions
	if opts != nil {
		o = *opts
	}
	o.MetadataOnly = false
	all, metaOnly := o, o
	metaOnly.MetadataOnly = true
	var as [4]*Artifact
	var errs [4]error
	for i, ro := range []*ReadOptions{&all, &metaOnly} {
		as[2*i], errs[2*i] = Open(context.Background(), bytes.NewReader(data), int64(len(data)), ro)
		as[2*i+1], errs[2*i+1] = OpenBytes(context.Background(), data, ro)
	}
	a, err := as[0], errs[0]
	var ce *CheckError
	errors.As(err, &ce)
	for i := 1; i < 4; i++ {
		b, errB := as[i], errs[i]
		var ceB *CheckError
		errors.As(errB, &ceB)
		switch {
		case (err == nil) != (errB == nil),
			(ce == nil) != (ceB == nil),
			ce != nil && (ce.Check != ceB.Check || ce.Entry != ceB.Entry),
			err == nil && (a.PayloadSHA256 != b.PayloadSHA256 || !slices.Equal(a.Entries, b.Entries)):
			return nil, fmt.Errorf("Open variants disagree (0 and %d): %v / %v", i, err, errB)
		}
		if err != nil {
			continue
		}
		want := a.Files
		if i >= 2 {
			want = slices.DeleteFunc(slices.Clone(a.Files), func(f File) bool { return !isMetadataPath(f.Path) })
		}
		if !slices.EqualFunc(want, b.Files, func(x, y File) bool { return x.Path == y.Path && bytes.Equal(x.Data, y.Data) }) {
			return nil, fmt.Errorf("Open variants 0 and %d keep different files", i)
		}
	}
	if err == nil && len(a.Entries) != len(a.Files) {
		return nil, fmt.Errorf("%d entries described, %d files", len(a.Entries), len(a.Files))
	}
	if err == nil {
		for i, f := range a.Files {
			if e := a.Entries[i]; e.Path != f.Path || e.Size != int64(len(f.Data)) || e.SHA256 != SHA256Hex(f.Data) {
				return nil, fmt.Errorf("entry %d is %+v, file %s has %d bytes", i, e, f.Path, len(f.Data))
			}
		}
	}
	if opts != nil && opts.MetadataOnly {
		return as[2], errs[2]
	}
	return a, err
}

func mustOpen(t testing.TB, data []byte) *Artifact {
	t.Helper()
	a, err := open(data, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return a
}

// resign replaces signature.json with a fresh signature by key over files,
// for variants that must get past the signature to reach a later check.
func resign(t testing.TB, files []File, key ed25519.PrivateKey, publisher string) []File {
	t.Helper()
	var out []File
	for _, f := range files {
		if f.Path != SignaturePath {
			out = append(out, f)
		}
	}
	sig := Sign(key, publisher, PayloadDigest(out), time.Unix(1700000000, 0))
	js, err := sig.marshal()
	if err != nil {
		t.Fatal(err)
	}
	return append(out, File{SignaturePath, js})
}

func write(t testing.TB, files []File, m Method) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, files, m); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// replace returns files with path's data set to data (added if absent).
func replace(files []File, path string, data []byte) []File {
	out := make([]File, 0, len(files)+1)
	found := false
	for _, f := range files {
		if f.Path == path {
			f = File{path, data}
			found = true
		}
		out = append(out, f)
	}
	if !found {
		out = append(out, File{path, data})
	}
	return out
}

// withManifest re-encodes skill.toml after edit, so the variant's manifest
// is otherwise valid.
func withManifest(t testing.TB, files []File, edit func(*manifest.Manifest)) []File {
	t.Helper()
	a := &Artifact{Files: files}
	toml, _ := a.File(ManifestPath)
	m, err := manifest.Parse(toml)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	toml, err = manifest.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	return replace(files, ManifestPath, toml)
}

// rawZip is a ZIP written field by field, so a test can make each field
// wrong in exactly one way.
type rawZip struct {
	entries []*rawEntry
	prefix  []byte // bytes before the first local header
	// adjustPrefix moves every offset past prefix (a well-formed
	// self-extractor); otherwise offsets ignore it (naive concatenation).
	adjustPrefix bool
	suffix       []byte // bytes after the end record
	comment      []byte // archive comment
	// count overrides the end record's entry count when nonzero.
	count uint16
}

type rawEntry struct {
	central, local rawHeader
	body           []byte // compressed data as stored
	gapAfter       []byte // stray bytes after this entry's data (offsets adjusted)
	sameOffsetAs   int    // >0: central record points at entry sameOffsetAs-1; no local record written
}

type rawHeader struct {
	creator, reader, flags, method, time, date uint16
	crc                                        uint32
	csize, usize                               uint32
	name                                       string
	extra, comment                             []byte
	external                                   uint32
	offset                                     uint32
}

// newRawEntry makes an entry as Write would: deflated or stored, mode 0644.
func newRawEntry(name string, data []byte, method uint16) *rawEntry {
	body := data
	if method == methodDeflate {
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.BestCompression)
		fw.Write(data)
		fw.Close()
		body = c.Bytes()
	}
	h := rawHeader{
		creator: 3<<8 | 20, reader: 20, method: method, date: 0x21,
		crc: crc32.ChecksumIEEE(data), csize: uint32(len(body)), usize: uint32(len(data)),
		name: name, external: 0o100644 << 16,
	}
	return &rawEntry{central: h, local: h, body: body}
}

// rawFromFiles makes a rawZip of files, deflated, sorted as given.
func rawFromFiles(files []File) *rawZip {
	z := &rawZip{}
	for _, f := range files {
		z.entries = append(z.entries, newRawEntry(f.Path, f.Data, methodDeflate))
	}
	return z
}

func (z *rawZip) entry(name string) *rawEntry {
	for _, e := range z.entries {
		if e.central.name == name {
			return e
		}
	}
	panic("no entry " + name)
}

// both applies edit to the central and the local header.
func (e *rawEntry) both(edit func(*rawHeader)) {
	edit(&e.central)
	edit(&e.local)
}

func (z *rawZip) bytes() []byte {
	var out bytes.Buffer
	le := func(v any) { binary.Write(&out, binary.LittleEndian, v) }
	out.Write(z.prefix)
	base := uint32(0)
	if z.adjustPrefix {
		base = uint32(len(z.prefix))
	}
	offsets := make([]uint32, len(z.entries))
	for i, e := range z.entries {
		if e.sameOffsetAs > 0 {
			offsets[i] = offsets[e.sameOffsetAs-1]
			continue
		}
		offsets[i] = uint32(out.Len()-len(z.prefix)) + base
		h := e.local
		le(uint32(sigLocal))
		le([]uint16{h.reader, h.flags, h.method, h.time, h.date})
		le([]uint32{h.crc, h.csize, h.usize})
		le([]uint16{uint16(len(h.name)), uint16(len(h.extra))})
		out.WriteString(h.name)
		out.Write(h.extra)
		out.Write(e.body)
		out.Write(e.gapAfter)
	}
	cdStart := uint32(out.Len()-len(z.prefix)) + base
	for i, e := range z.entries {
		h := e.central
		off := offsets[i]
		if h.offset != 0 {
			off = h.offset
		}
		le(uint32(sigCentral))
		le([]uint16{h.creator, h.reader, h.flags, h.method, h.time, h.date})
		le([]uint32{h.crc, h.csize, h.usize})
		le([]uint16{uint16(len(h.name)), uint16(len(h.extra)), uint16(len(h.comment)), 0, 0})
		le([]uint32{h.external, off})
		out.WriteString(h.name)
		out.Write(h.extra)
		out.Write(h.comment)
	}
	cdSize := uint32(out.Len()-len(z.prefix)) + base - cdStart
	n := uint16(len(z.entries))
	if z.count != 0 {
		n = z.count
	}
	le(uint32(sigEnd))
	le([]uint16{0, 0, n, n})
	le([]uint32{cdSize, cdStart})
	le(uint16(len(z.comment)))
	out.Write(z.comment)
	out.Write(z.suffix)
	return out.Bytes()
}

// pseudoRandom is deterministic incompressible data.
func pseudoRandom(n int, label string) []byte {
	out := make([]byte, 0, n+sha256.Size)
	block := sha256.Sum256([]byte(label))
	for len(out) < n {
		out = append(out, block[:]...)
		block = sha256.Sum256(block[:])
	}
	return out[:n]
}

// wasmLike is deterministic data with roughly the statistics of compiled
// Wasm code: a skewed opcode alphabet, small LEB128 immediates (local and
// global indices, offsets), and repeated sequences (inlined helpers, common
// prologues). Deflate compresses it about 3:1, as it does real modules.
func wasmLike(n int) []byte {
	ops := []byte{0x20, 0x20, 0x20, 0x20, 0x21, 0x22, 0x41, 0x41, 0x28, 0x28, 0x36, 0x6a, 0x6b, 0x10, 0x0b, 0x02, 0x03, 0x0c, 0x0d, 0x45, 0x46, 0x47, 0x71, 0x72, 0x1a, 0x23, 0x24, 0x29, 0x37}
	rnd := pseudoRandom(n+1024, "wasm-like")
	out := make([]byte, 0, n+64)
	for i := 0; len(out) < n; i++ {
		r := rnd[i%len(rnd)]
		if r < 64 && len(out) > 256 {
			// Repeat a recent run, as inlined code and prologues do.
			back := 1 + int(rnd[(i+1)%len(rnd)])*int(rnd[(i+2)%len(rnd)])%min(len(out), 8192)
			start := len(out) - back
			run := 6 + int(rnd[(i+3)%len(rnd)]%24)
			for k := 0; k < run; k++ {
				out = append(out, out[start+k%back])
			}
			continue
		}
		out = append(out, ops[int(r)%len(ops)])
		switch imm := rnd[(i+5)%len(rnd)]; {
		case imm < 160:
			out = append(out, imm&0x0f)
		case imm < 230:
			out = append(out, imm&0x7f)
		default:
			out = append(out, imm|0x80, rnd[(i+6)%len(rnd)]&0x3f)
		}
	}
	return out[:n]
}
