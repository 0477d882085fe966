package artifact

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/palyra/palyra-go/internal/manifest"
)

// ReadOptions tightens Open's caps. The zero value (or a nil *ReadOptions)
// applies Palyra's: a field left 0, or set above Palyra's cap, takes
// Palyra's cap, since an artifact over it would not install in Palyra.
type ReadOptions struct {
	MaxArtifactBytes int64 // archive file size; also caps the total uncompressed size
	MaxEntryBytes    int64 // one entry's uncompressed size
	MaxEntries       int
}

type limits struct {
	archive, total, entry int64
	entries               int
}

func (o *ReadOptions) limits() *limits {
	l := &limits{archive: MaxArtifactBytes, total: MaxArtifactBytes, entry: MaxEntryBytes, entries: MaxEntries}
	if o == nil {
		return l
	}
	if o.MaxArtifactBytes > 0 && o.MaxArtifactBytes < l.archive {
		l.archive, l.total = o.MaxArtifactBytes, o.MaxArtifactBytes
	}
	if o.MaxEntryBytes > 0 && o.MaxEntryBytes < l.entry {
		l.entry = o.MaxEntryBytes
	}
	if o.MaxEntries > 0 && o.MaxEntries < l.entries {
		l.entries = o.MaxEntries
	}
	return l
}

// Artifact is an artifact that passed every check. Its embedded key is
// self-asserted: whether PublicKey may sign for Manifest.Publisher is the
// trust store's decision, not this package's.
type Artifact struct {
	Manifest      *manifest.Manifest
	ManifestTOML  []byte
	Signature     Signature
	PublicKey     ed25519.PublicKey
	KeyID         string // Signature.KeyID, checked against PublicKey
	PayloadSHA256 string // lowercase hex, recomputed and equal to Signature's
	// Files are all entries, skill.toml and signature.json included,
	// sorted by path.
	Files []File
}

// File returns the contents of the entry at path.
func (a *Artifact) File(path string) ([]byte, bool) {
	i, ok := slices.BinarySearchFunc(a.Files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		return nil, false
	}
	return a.Files[i].Data, true
}

// Modules returns the modules/*.wasm entries, sorted by path.
func (a *Artifact) Modules() []File {
	var mods []File
	for _, f := range a.Files {
		if isModulePath(f.Path) {
			mods = append(mods, f)
		}
	}
	return mods
}

// Open reads and verifies the .palyra-skill archive of size bytes in r. It
// trusts nothing in it before checking it: every check listed in the package
// documentation runs, in that order, and the first that fails is returned as
// a *CheckError naming the check and the entry. Only when all pass does it
// return the Artifact. It does not decide whether the signing key is
// trusted.
func Open(ctx context.Context, r io.ReaderAt, size int64, opts *ReadOptions) (*Artifact, error) {
	lim := opts.limits()
	if size > lim.archive {
		return nil, fail(CheckArchiveSize, "", ErrTooLarge, "%d bytes, cap %d", size, lim.archive)
	}
	entries, err := readStructure(r, size, lim)
	if err != nil {
		return nil, err
	}
	c, err := readEntries(ctx, r, entries)
	if err != nil {
		return nil, err
	}
	return verify(ctx, c)
}

// readStructure runs every check that needs only headers: nothing is
// decompressed before the whole structure has passed.
func readStructure(r io.ReaderAt, size int64, lim *limits) ([]*entry, error) {
	cdOffset, cdSize, count, endOffset, err := readEnd(r, size)
	if err != nil {
		return nil, err
	}
	if count > lim.entries {
		return nil, fail(CheckEntryCount, "", ErrTooLarge, "%d entries, cap %d", count, lim.entries)
	}
	entries, err := readCentral(r, cdOffset, cdSize, count, endOffset)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if err := checkEntryHeader(e, lim); err != nil {
			return nil, err
		}
	}
	if err := checkEntrySet(entries, lim); err != nil {
		return nil, err
	}
	if err := readLocal(r, entries, cdOffset); err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b *entry) int { return strings.Compare(a.name, b.name) })
	return entries, nil
}

// readEntries decompresses every entry, sorted by path, into memory, and
// checks its size and CRC. Output is bounded by the declared size, already
// capped: an entry that inflates to more (a lying header) is cut off one
// byte past it and refused.
//
// It also hashes while the bytes are hot: each entry's SHA-256 (for the
// integrity check) here, and the payload digest in a second goroutine fed
// entry by entry, so the two hash passes overlap with each other and with
// decompression. Their results are only looked at once every entry has
// passed its structural checks.
func readEntries(ctx context.Context, r io.ReaderAt, entries []*entry) (*contents, error) {
	c := &contents{files: make([]File, len(entries)), sums: make([]string, len(entries))}
	ready := make(chan int, len(entries))
	digest := make(chan string, 1)
	go func() {
		d := newPayloadHasher()
		for i := range ready {
			d.add(c.files[i])
		}
		digest <- d.sum()
	}()
	var compressed []byte
	var br bytes.Reader
	var fr io.ReadCloser
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			close(ready)
			return nil, err
		}
		data, err := readEntry(r, e, &compressed, &br, &fr)
		if err == nil && crc32.ChecksumIEEE(data) != e.crc {
			err = fail(CheckCRC, e.name, ErrMalformedArchive, "CRC-32 %08x, header says %08x", crc32.ChecksumIEEE(data), e.crc)
		}
		if err != nil {
			close(ready)
			return nil, err
		}
		c.files[i] = File{Path: e.name, Data: data}
		ready <- i
		sum := sha256.Sum256(data)
		c.sums[i] = hex.EncodeToString(sum[:])
	}
	close(ready)
	c.payloadSHA256 = <-digest
	return c, nil
}

// contents are the entries' bytes, sorted by path, with their hashes.
type contents struct {
	files         []File
	sums          []string // hex SHA-256 of files[i].Data
	payloadSHA256 string
}

// readEntry returns e's uncompressed bytes. compressed, br and fr are
// reused from entry to entry.
func readEntry(r io.ReaderAt, e *entry, compressed *[]byte, br *bytes.Reader, fr *io.ReadCloser) ([]byte, error) {
	data := make([]byte, e.usize)
	if e.method == methodStore {
		if err := readAt(r, data, e.dataOffset); err != nil {
			return nil, fmt.Errorf("artifact: read %q: %w", e.name, err)
		}
		return data, nil
	}
	if uint64(cap(*compressed)) < e.csize {
		*compressed = make([]byte, e.csize)
	}
	buf := (*compressed)[:e.csize]
	if err := readAt(r, buf, e.dataOffset); err != nil {
		return nil, fmt.Errorf("artifact: read %q: %w", e.name, err)
	}
	br.Reset(buf)
	if *fr == nil {
		*fr = flate.NewReader(br)
	} else if err := (*fr).(flate.Resetter).Reset(br, nil); err != nil {
		return nil, err
	}
	if err := inflate(e, *fr, br, data); err != nil {
		return nil, err
	}
	return data, nil
}

// inflate fills data from fr and requires the deflate stream to end exactly
// there, and exactly at the end of its compressed bytes in br: bytes after
// the stream's end would be hidden from every reader but a careless one.
func inflate(e *entry, fr io.Reader, br *bytes.Reader, data []byte) error {
	for n := 0; n < len(data); {
		m, err := fr.Read(data[n:])
		n += m
		switch {
		case err == io.EOF && n < len(data):
			return fail(CheckSize, e.name, ErrMalformedArchive, "inflates to %d bytes, declared %d", n, e.usize)
		case err != nil && err != io.EOF:
			return fail(CheckDeflate, e.name, ErrMalformedArchive, "%v", err)
		}
	}
	var one [1]byte
	for {
		m, err := fr.Read(one[:])
		if m > 0 {
			return fail(CheckSize, e.name, ErrMalformedArchive, "inflates to more than the declared %d bytes", e.usize)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fail(CheckDeflate, e.name, ErrMalformedArchive, "%v", err)
		}
	}
	if br.Len() != 0 {
		return fail(CheckDeflate, e.name, ErrMalformedArchive, "%d bytes after the end of the deflate stream", br.Len())
	}
	return nil
}

// verify runs the content checks on the decompressed entries.
func verify(ctx context.Context, c *contents) (*Artifact, error) {
	files := c.files
	get := func(path string) []byte {
		i, _ := slices.BinarySearchFunc(files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
		return files[i].Data // the entry-set check guarantees presence
	}
	for _, p := range []string{SBOMPath, ProvenancePath} {
		if err := checkStrictJSON(get(p)); err != nil {
			return nil, fail(CheckJSON, p, ErrInvalidMetadata, "%v", err)
		}
	}
	if err := checkSBOM(get(SBOMPath)); err != nil {
		return nil, fail(CheckSBOM, SBOMPath, ErrInvalidMetadata, "%v", err)
	}
	if err := checkProvenance(get(ProvenancePath)); err != nil {
		return nil, fail(CheckProvenance, ProvenancePath, ErrInvalidMetadata, "%v", err)
	}
	sig, pub, err := ParseSignature(get(SignaturePath))
	if err != nil {
		return nil, err
	}
	toml := get(ManifestPath)
	if !utf8.Valid(toml) {
		return nil, fail(CheckManifest, ManifestPath, ErrInvalidManifest, "not valid UTF-8")
	}
	m, err := manifest.Parse(toml)
	if err != nil {
		return nil, fail(CheckManifest, ManifestPath, ErrInvalidManifest, "%v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkIntegrity(m, c); err != nil {
		return nil, err
	}
	sum := c.payloadSHA256
	if sum != sig.PayloadSHA256 {
		return nil, fail(CheckPayloadDigest, SignaturePath, ErrPayloadDigestMismatch, "entries digest to %s, signature.json says %s", sum, sig.PayloadSHA256)
	}
	sigBytes, _ := strictBase64(sig.SignatureBase64, ed25519.SignatureSize) // checked by ParseSignature
	if !ed25519.Verify(pub, []byte(sum), sigBytes) {
		return nil, fail(CheckSignature, SignaturePath, ErrBadSignature, "Ed25519 signature does not verify with key %s", sig.KeyID)
	}
	if sig.Publisher != m.Publisher {
		return nil, fail(CheckPublisher, SignaturePath, ErrPublisherMismatch, "signed by publisher %q, manifest publisher %q", sig.Publisher, m.Publisher)
	}
	return &Artifact{
		Manifest:      m,
		ManifestTOML:  toml,
		Signature:     sig,
		PublicKey:     pub,
		KeyID:         sig.KeyID,
		PayloadSHA256: sum,
		Files:         files,
	}, nil
}

// checkIntegrity requires skill.toml's integrity list to name every entry
// but skill.toml and signature.json exactly once, with its SHA-256.
func checkIntegrity(m *manifest.Manifest, c *contents) error {
	declared := make(map[string]string, len(m.Integrity.Files))
	for _, f := range m.Integrity.Files {
		if _, dup := declared[f.Path]; dup {
			return fail(CheckIntegrity, f.Path, ErrIntegrityMismatch, "listed twice in skill.toml")
		}
		declared[f.Path] = f.SHA256
	}
	for i, f := range c.files {
		if f.Path == ManifestPath || f.Path == SignaturePath {
			continue
		}
		want, ok := declared[f.Path]
		if !ok {
			return fail(CheckIntegrity, f.Path, ErrIntegrityMismatch, "entry missing from skill.toml's integrity list")
		}
		delete(declared, f.Path)
		if got := c.sums[i]; got != want {
			return fail(CheckIntegrity, f.Path, ErrIntegrityMismatch, "sha256 %s, skill.toml says %s", got, want)
		}
	}
	for _, f := range m.Integrity.Files {
		if _, left := declared[f.Path]; left {
			return fail(CheckIntegrity, f.Path, ErrIntegrityMismatch, "listed in skill.toml but not in the archive")
		}
	}
	return nil
}

// checkSBOM applies Palyra's minimum: a CycloneDX document with a
// specVersion. (What the SBOM says is internal/sbom's business.) Keys are
// looked up exactly: encoding/json's case-insensitive field matching would
// accept "BOMFORMAT", which Palyra does not.
func checkSBOM(data []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if format, _ := jsonString(doc["bomFormat"]); format != "CycloneDX" {
		return errors.New(`bomFormat is not "CycloneDX"`)
	}
	if spec, _ := jsonString(doc["specVersion"]); spec == "" {
		return errors.New("no specVersion string")
	}
	return nil
}

// checkProvenance applies Palyra's minimum: a top-level builder object and a
// non-empty subject array.
func checkProvenance(data []byte) error {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if b := doc["builder"]; len(b) == 0 || b[0] != '{' {
		return errors.New("no builder object")
	}
	var subject []json.RawMessage
	if s := doc["subject"]; len(s) == 0 || s[0] != '[' || json.Unmarshal(s, &subject) != nil || len(subject) == 0 {
		return errors.New("no non-empty subject array")
	}
	return nil
}

// jsonString decodes raw if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}
