package artifact

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/ed25519"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/palyra/palyra-go/internal/manifest"
)

// Method is the compression of module and asset entries.
type Method int

// Compression methods the writer can use. The zero value is Deflate.
const (
	Deflate Method = iota
	Store
)

// BuildRequest is what Build packages.
type BuildRequest struct {
	// Manifest is the skill's manifest. Build rewrites a copy's
	// Integrity.Files; the caller's value is left alone.
	Manifest *manifest.Manifest
	// Modules have paths "modules/NAME.wasm"; Assets "assets/…".
	Modules, Assets []File
	// SBOM and Provenance are the sbom.cdx.json and provenance.json bytes.
	SBOM, Provenance []byte
	Key              ed25519.PrivateKey
	// SignedAt is recorded in signature.json (use SOURCE_DATE_EPOCH for
	// reproducible artifacts).
	SignedAt time.Time
	// ModuleMethod compresses modules and assets; metadata is always
	// deflated.
	ModuleMethod Method
}

// Built is a packaged artifact.
type Built struct {
	Bytes         []byte
	Manifest      *manifest.Manifest // with the rewritten integrity list
	ManifestTOML  []byte
	PayloadSHA256 string
	Signature     Signature
}

// Build writes a signed artifact: the integrity list is rewritten to every
// entry but skill.toml and signature.json, the payload digest is signed, and
// the ZIP is written deterministically (see Write).
func Build(req BuildRequest) (*Built, error) {
	if req.Manifest == nil {
		return nil, errors.New("artifact: no manifest")
	}
	if len(req.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("artifact: no signing key")
	}
	if len(req.Modules) == 0 {
		return nil, errors.New("artifact: no modules")
	}
	payload := []File{{SBOMPath, req.SBOM}, {ProvenancePath, req.Provenance}}
	for _, f := range req.Modules {
		if !strings.HasPrefix(f.Path, ModulesDir) || !strings.HasSuffix(f.Path, ".wasm") {
			return nil, fmt.Errorf("artifact: module path %q: want modules/NAME.wasm", f.Path)
		}
		payload = append(payload, f)
	}
	for _, f := range req.Assets {
		if !strings.HasPrefix(f.Path, AssetsDir) {
			return nil, fmt.Errorf("artifact: asset path %q: want assets/…", f.Path)
		}
		payload = append(payload, f)
	}
	sort.Slice(payload, func(i, j int) bool { return payload[i].Path < payload[j].Path })
	for i := 1; i < len(payload); i++ {
		if payload[i].Path == payload[i-1].Path {
			return nil, fmt.Errorf("artifact: duplicate entry %q", payload[i].Path)
		}
	}
	// Refuse to build what Open (and Palyra) would refuse to read.
	if n := len(payload) + 2; n > MaxEntries {
		return nil, fmt.Errorf("artifact: %w: %d entries, cap %d", ErrTooLarge, n, MaxEntries)
	}
	var total int64
	for _, f := range payload {
		if len(f.Data) > MaxEntryBytes {
			return nil, fmt.Errorf("artifact: %w: %s is %d bytes, cap %d", ErrTooLarge, f.Path, len(f.Data), MaxEntryBytes)
		}
		if c := metadataCap(f.Path); c > 0 && int64(len(f.Data)) > c {
			return nil, fmt.Errorf("artifact: %w: %s is %d bytes, cap %d", ErrTooLarge, f.Path, len(f.Data), c)
		}
		total += int64(len(f.Data))
	}
	if total > MaxArtifactBytes {
		return nil, fmt.Errorf("artifact: %w: %d bytes in all, cap %d", ErrTooLarge, total, MaxArtifactBytes)
	}
	m := *req.Manifest
	m.Integrity.Files = make([]manifest.IntegrityFile, len(payload))
	for i, f := range payload {
		m.Integrity.Files[i] = manifest.IntegrityFile{Path: f.Path, SHA256: SHA256Hex(f.Data)}
	}
	toml, err := manifest.Encode(&m)
	if err != nil {
		return nil, fmt.Errorf("artifact: encode skill.toml: %w", err)
	}
	files := append(payload, File{ManifestPath, toml})
	digest := PayloadDigest(files)
	sig := Sign(req.Key, m.Publisher, digest, req.SignedAt)
	sigJSON, err := sig.marshal()
	if err != nil {
		return nil, err
	}
	files = append(files, File{SignaturePath, sigJSON})
	method := req.ModuleMethod
	var buf bytes.Buffer
	if err := Write(&buf, files, method); err != nil {
		return nil, err
	}
	return &Built{Bytes: buf.Bytes(), Manifest: &m, ManifestTOML: toml, PayloadSHA256: digest, Signature: sig}, nil
}

// Write writes files as a deterministic ZIP: entries sorted by path, time
// 1980-01-01 00:00, mode 0644, no extra fields, no comment, no directory
// entries, no data descriptors. Modules and assets use moduleMethod; the
// metadata entries are deflated. Every path must pass Open's path rules
// and appear once.
func Write(w io.Writer, files []File, moduleMethod Method) error {
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	for i, f := range sorted {
		if err := checkPath(f.Path); err != nil {
			return fmt.Errorf("artifact: entry %q: %w", f.Path, err)
		}
		if i > 0 && sorted[i-1].Path == f.Path {
			return fmt.Errorf("artifact: duplicate entry %q", f.Path)
		}
	}
	zw := zip.NewWriter(w)
	for _, f := range sorted {
		method := uint16(zip.Deflate)
		if moduleMethod == Store && (strings.HasPrefix(f.Path, ModulesDir) || strings.HasPrefix(f.Path, AssetsDir)) {
			method = zip.Store
		}
		body := f.Data
		if method == zip.Deflate {
			var c bytes.Buffer
			fw, err := flate.NewWriter(&c, flate.DefaultCompression)
			if err != nil {
				return err
			}
			if _, err := fw.Write(f.Data); err != nil {
				return err
			}
			if err := fw.Close(); err != nil {
				return err
			}
			body = c.Bytes()
		}
		hdr := &zip.FileHeader{
			Name:               f.Path,
			Method:             method,
			CRC32:              crc32.ChecksumIEEE(f.Data),
			CompressedSize64:   uint64(len(body)),
			UncompressedSize64: uint64(len(f.Data)),
			CreatorVersion:     3<<8 | 20, // Unix, spec 2.0
			ReaderVersion:      20,
			ExternalAttrs:      0o100644 << 16,
		}
		// 1980-01-01 00:00 in MS-DOS form, set through the deprecated
		// fields on purpose: setting Modified would make archive/zip add an
		// extended-timestamp extra field, which the format has none of.
		//lint:ignore SA1019 see above
		hdr.ModifiedDate, hdr.ModifiedTime = 0x21, 0
		fw, err := zw.CreateRaw(hdr)
		if err != nil {
			return fmt.Errorf("artifact: write %s: %w", f.Path, err)
		}
		if _, err := fw.Write(body); err != nil {
			return fmt.Errorf("artifact: write %s: %w", f.Path, err)
		}
	}
	return zw.Close()
}
