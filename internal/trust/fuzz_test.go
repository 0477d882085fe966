package trust

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzParse feeds arbitrary bytes to both file parsers. Whatever they
// accept must be valid JSON, and must survive our encoding unchanged.
func FuzzParse(f *testing.F) {
	k := hexOf(testKey("a"))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"trusted_publishers": {"acme": ["` + k + `"]}, "tofu_publishers": {"x": "` + k + `"}}`))
	f.Add([]byte(`{"trusted_publishers": {" a": ["` + k + `"], "a": ["` + k + `"]}}`))
	f.Add([]byte(`{"revoked_keys": [{"publisher": "a", "key_id": "ed25519:0011223344556677", "revoked_at_unix_ms": 5}]}`))
	f.Add([]byte(`{"tofu_publishers": {"a": "` + k + `", "a": "` + k + `"}}`))
	f.Add([]byte(`{"revoked_keys": [], "lifted_revocations": [{"publisher": "a", "key_id": "ed25519:0011223344556677", "revoked_at_unix_ms": 5, "lifted_at_unix_ms": 6}]}`))
	f.Add([]byte(" \n\t"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := parseStoreFile(data); err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			enc, err := st.encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := parseStoreFile(enc)
			if err != nil {
				t.Fatalf("our own encoding does not parse: %v\n%s", err, enc)
			}
			if !reflect.DeepEqual(st, again) {
				t.Fatalf("round trip changed the store: %+v != %+v", st, again)
			}
		}
		if rev, err := parseRevocationsFile(data); err == nil {
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			enc, err := rev.encode()
			if err != nil {
				t.Fatal(err)
			}
			again, err := parseRevocationsFile(enc)
			if err != nil || !reflect.DeepEqual(rev, again) {
				t.Fatalf("round trip: %v", err)
			}
		}
	})
}
