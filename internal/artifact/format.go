package artifact

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"
)

// Entry paths and constants of the artifact format.
const (
	ManifestPath   = "skill.toml"
	SignaturePath  = "signature.json"
	SBOMPath       = "sbom.cdx.json"
	ProvenancePath = "provenance.json"
	ModulesDir     = "modules/"
	AssetsDir      = "assets/"
	Extension      = ".palyra-skill"

	// SignatureAlgorithm is the only algorithm signature.json may name.
	SignatureAlgorithm = "ed25519-sha256"
	// payloadContext domain-separates the payload digest.
	payloadContext = "palyra.skill.payload.v1"
)

// File is one entry of an artifact.
type File struct {
	Path string
	Data []byte
}

// PayloadDigest returns the lowercase-hex payload digest of files: SHA-256
// over "palyra.skill.payload.v1", then for every entry but signature.json in
// path order u64be(len(path)) ‖ path ‖ u64be(len(data)) ‖ data.
func PayloadDigest(files []File) string {
	sorted := make([]File, 0, len(files))
	for _, f := range files {
		if f.Path != SignaturePath {
			sorted = append(sorted, f)
		}
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	d := newPayloadHasher()
	for _, f := range sorted {
		d.add(f)
	}
	return d.sum()
}

// payloadHasher computes the payload digest incrementally; the caller feeds
// it entries in path order.
type payloadHasher struct{ h hash.Hash }

func newPayloadHasher() payloadHasher {
	h := sha256.New()
	h.Write([]byte(payloadContext))
	return payloadHasher{h}
}

// add hashes f, unless it is signature.json, which the digest excludes.
func (d payloadHasher) add(f File) {
	if f.Path == SignaturePath {
		return
	}
	d.begin(f.Path, uint64(len(f.Data)))
	d.h.Write(f.Data)
}

// begin hashes an entry's length-prefixed path and its data's length
// prefix; the caller then writes exactly size bytes of data to d.h. The
// caller leaves out signature.json.
func (d payloadHasher) begin(path string, size uint64) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(path)))
	d.h.Write(n[:])
	d.h.Write([]byte(path))
	binary.BigEndian.PutUint64(n[:], size)
	d.h.Write(n[:])
}

func (d payloadHasher) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// SHA256Hex is the lowercase hex SHA-256 of data, as integrity lists use.
func SHA256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
