package trust

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFileSize bounds what is read from either file: a trust store is a few
// kilobytes, and anything near this size is not one.
const maxFileSize = 8 << 20

// storeFile is the content of Palyra's trust-store.json, normalized: valid
// publisher ids, lowercase hex keys, trusted key lists sorted, deduplicated
// and non-empty. Field order is Palyra's struct order, which serde keeps.
type storeFile struct {
	Trusted map[string][]string `json:"trusted_publishers"`
	Tofu    map[string]string   `json:"tofu_publishers"`
}

func newStoreFile() *storeFile {
	return &storeFile{Trusted: map[string][]string{}, Tofu: map[string]string{}}
}

// revocationsFile is palyra-go's own sibling file. Lifted is history: the
// revocations an operator lifted (trust add --force), kept so that the
// file says who was trusted when. It is written only when non-empty, so a
// store that never lifted a revocation keeps its earlier shape.
type revocationsFile struct {
	Revoked []Revocation       `json:"revoked_keys"`
	Lifted  []LiftedRevocation `json:"lifted_revocations,omitempty"`
}

// Revocation records a revoked key. A revoked key is refused for every
// publisher, not only the one it was revoked for.
type Revocation struct {
	Publisher       string `json:"publisher"`
	KeyID           string `json:"key_id"`
	RevokedAtUnixMS int64  `json:"revoked_at_unix_ms"`
}

// LiftedRevocation records a revocation that an operator lifted with
// [Store.Reinstate].
type LiftedRevocation struct {
	Revocation
	LiftedAtUnixMS int64 `json:"lifted_at_unix_ms"`
}

// revokedPublisher reports whether some key of publisher has been revoked.
func (r *revocationsFile) revokedPublisher(publisher string) (keyID string, ok bool) {
	for _, rv := range r.Revoked {
		if rv.Publisher == publisher {
			return rv.KeyID, true
		}
	}
	return "", false
}

func (r *revocationsFile) isRevoked(keyID string) bool {
	for _, rv := range r.Revoked {
		if rv.KeyID == keyID {
			return true
		}
	}
	return false
}

// validatePublisher applies Palyra's identifier rule: non-empty, only
// [a-z0-9._:-]. It does not trim: callers pass manifest values that
// Palyra's manifest parser has already trimmed.
func validatePublisher(p string) error {
	if p == "" {
		return fmt.Errorf("%w: empty", ErrInvalidPublisher)
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == ':') {
			return fmt.Errorf("%w: %q has %q, want only [a-z0-9._:-]", ErrInvalidPublisher, p, c)
		}
	}
	return nil
}

// normalizeKeyHex is Palyra's normalize_public_key_hex: trimmed, lowercase,
// 32 bytes of hex.
func normalizeKeyHex(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	b, err := hex.DecodeString(s)
	if err != nil {
		return "", errors.New("key is not hex")
	}
	if len(b) != ed25519.PublicKeySize {
		return "", fmt.Errorf("key is %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return s, nil
}

// validateKeyID accepts Palyra's key id, "ed25519:" + 16 hex digits, in
// either case, and returns it lowercase.
func validateKeyID(id string) (string, error) {
	low := strings.ToLower(id)
	rest, ok := strings.CutPrefix(low, "ed25519:")
	if ok && len(rest) == 16 {
		if _, err := hex.DecodeString(rest); err == nil {
			return low, nil
		}
	}
	return "", fmt.Errorf("%w: %q, want ed25519: followed by 16 hex digits", ErrInvalidKeyID, id)
}

// parseStoreFile reads trust-store.json strictly and normalizes it the way
// Palyra's SkillTrustStore::normalize does.
func parseStoreFile(data []byte) (*storeFile, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	rawTrusted := map[string][]string{}
	rawTofu := map[string]string{}
	err := readObject(dec, "top level", func(field string) error {
		switch field {
		case "trusted_publishers":
			return readObject(dec, field, func(pub string) error {
				keys, err := readStringArray(dec, fmt.Sprintf("%s[%q]", field, pub))
				rawTrusted[pub] = keys
				return err
			})
		case "tofu_publishers":
			return readObject(dec, field, func(pub string) error {
				key, err := readString(dec, fmt.Sprintf("%s[%q]", field, pub))
				rawTofu[pub] = key
				return err
			})
		}
		return unknownField("top level", field, "trusted_publishers", "tofu_publishers")
	})
	if err != nil {
		return nil, err
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}

	f := newStoreFile()
	// Sorted iteration keeps the error for a bad file the same on every run.
	for _, raw := range slices.Sorted(maps.Keys(rawTrusted)) {
		pub := strings.TrimSpace(raw)
		if err := validatePublisher(pub); err != nil {
			return nil, fmt.Errorf("trusted_publishers[%q]: %w", raw, err)
		}
		if len(rawTrusted[raw]) == 0 {
			return nil, fmt.Errorf("trusted_publishers[%q]: an allowlisted publisher needs at least one key", raw)
		}
		for i, k := range rawTrusted[raw] {
			nk, err := normalizeKeyHex(k)
			if err != nil {
				return nil, fmt.Errorf("trusted_publishers[%q][%d]: %w", raw, i, err)
			}
			f.Trusted[pub] = append(f.Trusted[pub], nk)
		}
	}
	for pub, keys := range f.Trusted {
		slices.Sort(keys)
		f.Trusted[pub] = slices.Compact(keys)
	}
	for _, raw := range slices.Sorted(maps.Keys(rawTofu)) {
		pub := strings.TrimSpace(raw)
		if err := validatePublisher(pub); err != nil {
			return nil, fmt.Errorf("tofu_publishers[%q]: %w", raw, err)
		}
		nk, err := normalizeKeyHex(rawTofu[raw])
		if err != nil {
			return nil, fmt.Errorf("tofu_publishers[%q]: %w", raw, err)
		}
		if prev, ok := f.Tofu[pub]; ok && prev != nk {
			return nil, fmt.Errorf("tofu_publishers: conflicting pins for publisher %q", pub)
		}
		f.Tofu[pub] = nk
	}
	return f, nil
}

// encode writes f as serde_json::to_vec_pretty would: encoding/json sorts
// map keys, indents by two spaces and writes {} for an empty map.
func (f *storeFile) encode() ([]byte, error) {
	out := storeFile{Trusted: f.Trusted, Tofu: f.Tofu}
	if out.Trusted == nil {
		out.Trusted = map[string][]string{}
	}
	if out.Tofu == nil {
		out.Tofu = map[string]string{}
	}
	return json.MarshalIndent(out, "", "  ")
}

func parseRevocationsFile(data []byte) (*revocationsFile, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	r := &revocationsFile{}
	// readEntry reads one revocation; lifted ones also carry
	// lifted_at_unix_ms.
	readEntry := func(where string, lifted bool) (LiftedRevocation, error) {
		var rv LiftedRevocation
		names := []string{"publisher", "key_id", "revoked_at_unix_ms"}
		if lifted {
			names = append(names, "lifted_at_unix_ms")
		}
		have := make([]bool, len(names))
		err := readObject(dec, where, func(k string) error {
			var err error
			switch k {
			case "publisher":
				have[0] = true
				rv.Publisher, err = readString(dec, where+".publisher")
			case "key_id":
				have[1] = true
				rv.KeyID, err = readString(dec, where+".key_id")
			case "revoked_at_unix_ms":
				have[2] = true
				rv.RevokedAtUnixMS, err = readInt(dec, where+".revoked_at_unix_ms")
			case "lifted_at_unix_ms":
				if !lifted {
					return unknownField(where, k, names...)
				}
				have[3] = true
				rv.LiftedAtUnixMS, err = readInt(dec, where+".lifted_at_unix_ms")
			default:
				err = unknownField(where, k, names...)
			}
			return err
		})
		if err != nil {
			return rv, err
		}
		for j, name := range names {
			if !have[j] {
				return rv, fmt.Errorf("%s: missing %s", where, name)
			}
		}
		if err := validatePublisher(rv.Publisher); err != nil {
			return rv, fmt.Errorf("%s.publisher: %w", where, err)
		}
		if id, err := validateKeyID(rv.KeyID); err != nil || id != rv.KeyID {
			return rv, fmt.Errorf("%s.key_id: %q is not a lowercase Palyra key id", where, rv.KeyID)
		}
		return rv, nil
	}
	err := readObject(dec, "top level", func(field string) error {
		switch field {
		case "revoked_keys":
			return readArray(dec, field, func(i int) error {
				where := fmt.Sprintf("revoked_keys[%d]", i)
				rv, err := readEntry(where, false)
				if err != nil {
					return err
				}
				if r.isRevoked(rv.KeyID) {
					return fmt.Errorf("%s: key %s is listed twice", where, rv.KeyID)
				}
				r.Revoked = append(r.Revoked, rv.Revocation)
				return nil
			})
		case "lifted_revocations":
			return readArray(dec, field, func(i int) error {
				rv, err := readEntry(fmt.Sprintf("lifted_revocations[%d]", i), true)
				r.Lifted = append(r.Lifted, rv)
				return err
			})
		}
		return unknownField("top level", field, "revoked_keys", "lifted_revocations")
	})
	if err != nil {
		return nil, err
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	r.sort()
	return r, nil
}

func (r *revocationsFile) sort() {
	sort.Slice(r.Revoked, func(i, j int) bool { return r.Revoked[i].KeyID < r.Revoked[j].KeyID })
}

func (r *revocationsFile) encode() ([]byte, error) {
	out := revocationsFile{Revoked: r.Revoked, Lifted: r.Lifted}
	if out.Revoked == nil {
		out.Revoked = []Revocation{}
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return append(b, '\n'), err
}

// readObject reads one JSON object, calling member with each key while the
// decoder sits on that key's value; member must consume the value. Keys are
// compared exactly, so a repeated key is an error rather than "last wins".
func readObject(dec *json.Decoder, where string, member func(key string) error) error {
	if err := expectDelim(dec, where, '{', "an object"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%s: object key is %s", where, describe(tok))
		}
		if seen[key] {
			return fmt.Errorf("%s: duplicate key %q", where, key)
		}
		seen[key] = true
		if err := member(key); err != nil {
			return err
		}
	}
	return expectDelim(dec, where, '}', "the end of the object")
}

func readArray(dec *json.Decoder, where string, elem func(i int) error) error {
	if err := expectDelim(dec, where, '[', "an array"); err != nil {
		return err
	}
	for i := 0; dec.More(); i++ {
		if err := elem(i); err != nil {
			return err
		}
	}
	return expectDelim(dec, where, ']', "the end of the array")
}

func readStringArray(dec *json.Decoder, where string) ([]string, error) {
	var out []string
	err := readArray(dec, where, func(i int) error {
		s, err := readString(dec, fmt.Sprintf("%s[%d]", where, i))
		out = append(out, s)
		return err
	})
	return out, err
}

func readString(dec *json.Decoder, where string) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%s: want a string, got %s", where, describe(tok))
	}
	return s, nil
}

func readInt(dec *json.Decoder, where string) (int64, error) {
	tok, err := dec.Token()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", where, err)
	}
	n, ok := tok.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%s: want an integer, got %s", where, describe(tok))
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%s: %s is not a non-negative 64-bit integer", where, n)
	}
	return v, nil
}

func expectDelim(dec *json.Decoder, where string, want json.Delim, name string) error {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("%s: want %s, got end of input", where, name)
		}
		return fmt.Errorf("%s: %w", where, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%s: want %s, got %s", where, name, describe(tok))
	}
	return nil
}

func expectEOF(dec *json.Decoder) error {
	tok, err := dec.Token()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("after the top-level object: %w", err)
	}
	return fmt.Errorf("after the top-level object: unexpected %s", describe(tok))
}

func unknownField(where, field string, known ...string) error {
	for _, k := range known {
		if strings.EqualFold(field, k) {
			return fmt.Errorf("%s: unknown field %q (field names are case-sensitive: did you mean %q?)", where, field, k)
		}
	}
	return fmt.Errorf("%s: unknown field %q, want one of %s", where, field, strings.Join(known, ", "))
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case json.Delim:
		switch t {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return fmt.Sprintf("%q", string(t))
	}
	return fmt.Sprintf("%T", tok)
}
