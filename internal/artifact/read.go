package artifact

import (
	"bufio"
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

// ReadOptions tightens Open's caps, and says which entries' bytes to keep.
// The zero value (or a nil *ReadOptions) applies Palyra's caps and keeps
// every entry: a cap left 0, or set above Palyra's, takes Palyra's, since an
// artifact over it would not install in Palyra.
type ReadOptions struct {
	MaxArtifactBytes int64 // archive file size; also caps the total uncompressed size
	MaxEntryBytes    int64 // one entry's uncompressed size
	MaxEntries       int

	// MetadataOnly keeps the bytes of skill.toml, signature.json,
	// sbom.cdx.json and provenance.json only: modules and assets stream
	// through a few small buffers, checked and hashed on the way (every
	// check runs, the same), and are then dropped, so Artifact.Files holds
	// the four metadata entries and Artifact.Entries describes them all.
	// For a caller that verifies without extracting: it saves allocating,
	// faulting in and filling a buffer for the whole uncompressed payload.
	MetadataOnly bool
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
	// sorted by path; with ReadOptions.MetadataOnly, only the four
	// metadata entries.
	Files []File
	// Entries describe every entry, sorted by path, whether or not its
	// bytes were kept.
	Entries []Entry
}

// Entry describes one entry of a verified artifact.
type Entry struct {
	Path string
	Size int64
	// SHA256 is lowercase hex: the integrity list's, checked, or for
	// skill.toml and signature.json (which it does not list) computed.
	SHA256 string
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
	return openSource(ctx, source{r: r}, size, opts)
}

// OpenBytes is Open on an archive held in memory. It does not copy stored
// entries: their Files alias data, which must therefore not be modified
// while the Artifact is in use — what was verified is what data holds. It
// is the faster way to verify an artifact already read into memory.
func OpenBytes(ctx context.Context, data []byte, opts *ReadOptions) (*Artifact, error) {
	return openSource(ctx, source{r: bytes.NewReader(data), b: data}, int64(len(data)), opts)
}

func openSource(ctx context.Context, src source, size int64, opts *ReadOptions) (*Artifact, error) {
	lim := opts.limits()
	if size > lim.archive {
		return nil, fail(CheckArchiveSize, "", ErrTooLarge, "%d bytes, cap %d", size, lim.archive)
	}
	entries, err := readStructure(src.r, size, lim)
	if err != nil {
		return nil, err
	}
	c, err := readEntries(ctx, src, entries, opts != nil && opts.MetadataOnly)
	if err != nil {
		return nil, err
	}
	return verify(ctx, c)
}

// source is the archive: an io.ReaderAt, and for OpenBytes also its bytes,
// which entry data is then sliced from rather than copied.
type source struct {
	r io.ReaderAt
	b []byte
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

// readEntries decompresses every entry, sorted by path, and checks its
// size and CRC. Output is bounded by the declared size, already capped: an
// entry that inflates to more (a lying header) is cut off one byte past it
// and refused.
//
// The bytes are hashed as they arrive, in chunks, by two goroutines: this
// one computes each entry's SHA-256 (for the integrity check); a second
// computes the CRC-32 and the payload digest. Copying and the three hash
// passes so overlap. The hashes are only looked at once every entry has
// passed its structural checks; the CRC of each entry is compared before
// the next entry is read.
//
// An entry that is kept is inflated into a buffer of its declared size (a
// stored one read by OpenBytes is not copied at all). An entry that is not
// (a module or asset, with metadataOnly) streams through a few chunk
// buffers that the hasher hands back once it is done with them: its bytes
// are checked and hashed, never held whole.
func readEntries(ctx context.Context, src source, entries []*entry, metadataOnly bool) (*contents, error) {
	c := &contents{entries: make([]Entry, len(entries))}
	pieces := make(chan piece, 64)
	crcs := make(chan uint32, len(entries)) // buffered: the hasher never blocks on it
	digest := make(chan string, 1)
	// free holds the chunk buffers of entries that are not kept, made as
	// needed up to chunkBuffers. It has room for all of them, so the
	// hasher never blocks handing one back.
	free := make(chan []byte, chunkBuffers)
	made := 0
	chunk := func(n int) []byte {
		var b []byte
		select {
		case b = <-free:
		default:
			if made < chunkBuffers {
				made++
			} else {
				b = <-free
			}
		}
		if cap(b) < n { // new, or made for a smaller entry
			b = make([]byte, n)
		}
		return b[:n]
	}
	go func() {
		d := newPayloadHasher()
		var crc uint32
		for p := range pieces {
			if p.begin {
				if p.payload {
					d.begin(p.path, p.size)
				}
				crc = 0
			}
			crc = crc32.Update(crc, crc32.IEEETable, p.data)
			if p.payload {
				d.h.Write(p.data)
			}
			if p.recycle {
				free <- p.data[:cap(p.data)]
			}
			if p.end {
				crcs <- crc
			}
		}
		digest <- d.sum()
	}()
	closed := false
	defer func() {
		if !closed { // an early return: let the hasher finish and exit
			close(pieces)
		}
	}()

	var mem memInput
	var sec fileSection
	var buffered *bufio.Reader
	var fr io.ReadCloser
	h := sha256.New()
	var sum [sha256.Size]byte
	for i, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		payload := e.name != SignaturePath
		inPlace := e.method == methodStore && src.b != nil // hashed where it lies in the archive
		keep := !metadataOnly || isMetadataPath(e.name)
		pooled := !keep && !inPlace
		var data []byte
		switch {
		case inPlace:
			data = src.b[e.dataOffset : e.dataOffset+int64(e.usize) : e.dataOffset+int64(e.usize)]
		case keep:
			data = make([]byte, e.usize)
		}
		pieces <- piece{begin: true, path: e.name, size: e.usize, payload: payload}
		h.Reset()
		filled := 0
		// next returns room for the entry's next n bytes: the rest of
		// data, or a chunk buffer the hasher has handed back.
		next := func(n int) []byte {
			if pooled {
				return chunk(n)
			}
			b := data[filled : filled+n]
			filled += n
			return b
		}
		emit := func(b []byte) {
			h.Write(b)
			pieces <- piece{data: b, payload: payload, recycle: pooled}
		}
		var err error
		switch {
		case inPlace: // no copy: hash in place
			for off := 0; off < len(data); off += chunkSize {
				emit(data[off:min(off+chunkSize, len(data))])
			}
		case e.method == methodStore:
			err = readStored(src.r, e, next, emit)
		case src.b != nil:
			// readLocal has checked that every entry lies inside the archive.
			mem.Reset(src.b[e.dataOffset:e.end()])
			err = readDeflated(e, &mem, &fr, next, emit)
		default:
			// The compressed bytes stream from r too, read ahead a chunk at
			// a time: never held whole.
			sec = fileSection{r: src.r, off: e.dataOffset, end: e.end()}
			if buffered == nil {
				buffered = bufio.NewReaderSize(&sec, chunkSize)
			} else {
				buffered.Reset(&sec)
			}
			err = readDeflated(e, fileInput{buffered, &sec}, &fr, next, emit)
			if sec.err != nil { // the archive could not be read, whatever the inflater made of it
				err = fmt.Errorf("artifact: read %q: %w", e.name, sec.err)
			}
		}
		if err != nil {
			return nil, err
		}
		pieces <- piece{end: true}
		if got := <-crcs; got != e.crc {
			return nil, fail(CheckCRC, e.name, ErrMalformedArchive, "CRC-32 %08x, header says %08x", got, e.crc)
		}
		if keep {
			c.files = append(c.files, File{Path: e.name, Data: data})
		}
		c.entries[i] = Entry{Path: e.name, Size: int64(e.usize), SHA256: hex.EncodeToString(h.Sum(sum[:0]))}
	}
	close(pieces)
	closed = true
	c.payloadSHA256 = <-digest
	return c, nil
}

// piece is a run of an entry's bytes on their way to the CRC and payload
// hasher. begin opens an entry (its path and declared size, for the
// digest's length prefixes); end closes it and asks for its CRC. recycle
// hands data's buffer back to the pool once hashed.
type piece struct {
	begin   bool
	path    string
	size    uint64
	data    []byte
	payload bool // part of the payload digest (every entry but signature.json)
	recycle bool
	end     bool
}

// chunkSize is how many bytes are read or inflated before they are handed
// to the hashers, and the size of the chunk and read-ahead buffers: large
// enough that channel traffic and read calls are noise, small enough to
// stay in cache between the copy and the hashes, and for the few buffers a
// streamed verify touches to cost few page faults (256 KiB chunks cost a
// 10 MB verify a fifth of its faults).
const chunkSize = 64 << 10

// chunkBuffers is how many chunk buffers an entry that is not kept streams
// through: enough that the inflater need not wait for the hasher while it
// works on the previous chunks.
const chunkBuffers = 4

// contents are the entries' hashes, sorted by path, and the bytes of the
// entries kept.
type contents struct {
	entries       []Entry
	files         []File // the entries kept, sorted by path
	payloadSHA256 string
}

// readStored reads a stored entry from r chunk by chunk, each into next's
// room, and emits it.
func readStored(r io.ReaderAt, e *entry, next func(int) []byte, emit func([]byte)) error {
	for off := uint64(0); off < e.usize; off += chunkSize {
		b := next(int(min(chunkSize, e.usize-off)))
		if err := readAt(r, b, e.dataOffset+int64(off)); err != nil {
			return fmt.Errorf("artifact: read %q: %w", e.name, err)
		}
		emit(b)
	}
	return nil
}

// deflateInput is an entry's compressed bytes as the inflater reads them
// (an io.ByteReader, so that it reads no further than the stream's end).
type deflateInput interface {
	flate.Reader
	// unread counts the compressed bytes the inflater has not read.
	unread() int64
}

// memInput is an entry's compressed bytes in memory.
type memInput struct{ bytes.Reader }

func (m *memInput) unread() int64 { return int64(m.Len()) }

// fileSection reads an entry's compressed bytes, [off, end), from the
// archive's io.ReaderAt. A read that comes back short (the archive is
// shorter than Open was told) is an I/O error, kept in err, not an end of
// the deflate stream.
type fileSection struct {
	r        io.ReaderAt
	off, end int64
	err      error
}

func (s *fileSection) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.off >= s.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.end-s.off)]
	if err := readAt(s.r, p, s.off); err != nil {
		s.err = err
		return 0, err
	}
	s.off += int64(len(p))
	return len(p), nil
}

// fileInput is a fileSection read through a buffer.
type fileInput struct {
	*bufio.Reader
	sec *fileSection
}

func (f fileInput) unread() int64 { return int64(f.Buffered()) + f.sec.end - f.sec.off }

// readDeflated inflates the compressed bytes of e chunk by chunk, each into
// next's room, emits them, and requires the deflate stream to end exactly at
// the declared size, and exactly at the end of its compressed bytes: bytes
// after the stream's end would be hidden from every reader but a careless
// one. fr is reused from entry to entry.
func readDeflated(e *entry, in deflateInput, fr *io.ReadCloser, next func(int) []byte, emit func([]byte)) error {
	if *fr == nil {
		*fr = flate.NewReader(in)
	} else if err := (*fr).(flate.Resetter).Reset(in, nil); err != nil {
		return err
	}
	for n := uint64(0); n < e.usize; {
		b := next(int(min(chunkSize, e.usize-n)))
		for got := 0; got < len(b); {
			m, err := (*fr).Read(b[got:])
			got += m
			switch {
			case err == io.EOF && got < len(b):
				return fail(CheckSize, e.name, ErrMalformedArchive, "inflates to %d bytes, declared %d", n+uint64(got), e.usize)
			case err != nil && err != io.EOF:
				return fail(CheckDeflate, e.name, ErrMalformedArchive, "%v", err)
			}
		}
		n += uint64(len(b))
		emit(b)
	}
	var one [1]byte
	for {
		m, err := (*fr).Read(one[:])
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
	if n := in.unread(); n != 0 {
		return fail(CheckDeflate, e.name, ErrMalformedArchive, "%d bytes after the end of the deflate stream", n)
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
		Entries:       c.entries,
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
	for _, f := range c.entries {
		if f.Path == ManifestPath || f.Path == SignaturePath {
			continue
		}
		want, ok := declared[f.Path]
		if !ok {
			return fail(CheckIntegrity, f.Path, ErrIntegrityMismatch, "entry missing from skill.toml's integrity list")
		}
		delete(declared, f.Path)
		if got := f.SHA256; got != want {
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
