package artifact

import (
	"strings"
	"testing"
)

func TestCheckStrictJSON(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // substring; "" means accepted
	}{
		{`{}`, ""},
		{" {\"a\": [1, {\"a\": 2}], \"b\": {\"a\": null}}\n", ""},
		{`{"a":{"b":1},"c":{"b":2}}`, ""},             // same key in sibling objects
		{`{"k":1,"\u212a":2}`, "differ only in case"}, // KELVIN SIGN folds to k
		{`{"a":1,"a":2}`, "duplicate key"},
		{`{"a":1,"\u0061":2}`, "duplicate key"},
		{`{"x":{"Id":1,"ID":2}}`, "differ only in case"},
		{`{"a":1} x`, "after the top-level object"},
		{`{"a":1}{}`, "after the top-level object"},
		{`[1]`, "not an object"},
		{`"s"`, "not an object"},
		{``, "empty"},
		{`{"a":1`, "syntax"},
		{"{\"a\":\"\xff\"}", "UTF-8"},
		{strings.Repeat("[", 70) + strings.Repeat("]", 70), "not an object"},
		{`{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`, "nested deeper"},
	}
	for _, tc := range tests {
		err := checkStrictJSON([]byte(tc.in))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.in, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
		}
	}
}

func TestParseSignature(t *testing.T) {
	key := testKey("good")
	good := Sign(key, "acme", strings.Repeat("0f", 32), signedAt)
	js, err := good.marshal()
	if err != nil {
		t.Fatal(err)
	}
	s, pub, err := ParseSignature(js)
	if err != nil || s != good || !pub.Equal(key.Public()) {
		t.Fatalf("ParseSignature(good) = %+v, %x, %v", s, pub, err)
	}
	field := func(old, new string) string { return strings.Replace(string(js), old, new, 1) }
	tests := []struct {
		name, in, check string
	}{
		{"unknown field", field(`"algorithm"`, `"extra": 1, "algorithm"`), CheckSignatureFields},
		{"missing field", field(`"signed_at_unix_ms": 1700000000000`, `"x": 0`), CheckSignatureFields},
		{"null string", field(`"publisher": "acme"`, `"publisher": null`), CheckSignatureFields},
		{"number as string", field(`"publisher": "acme"`, `"publisher": 7`), CheckSignatureFields},
		{"fractional time", field(`1700000000000`, `1.5`), CheckSignatureFields},
		{"exponent time", field(`1700000000000`, `1e3`), CheckSignatureFields},
		{"string time", field(`1700000000000`, `"1700000000000"`), CheckSignatureFields},
		{"empty publisher", field(`"publisher": "acme"`, `"publisher": ""`), CheckSignatureFields},
		{"key with newline", field(good.PublicKeyBase64, good.PublicKeyBase64[:8]+`\n`+good.PublicKeyBase64[8:]), CheckSignatureFields},
		{"key unpadded", field(good.PublicKeyBase64, strings.TrimRight(good.PublicKeyBase64, "=")), CheckSignatureFields},
		{"key url-safe", field(`"public_key_base64": "`, `"public_key_base64": "-_`), CheckSignatureFields},
		{"digest short", field(good.PayloadSHA256, good.PayloadSHA256[:62]), CheckSignatureFields},
		{"case-variant key", field(`"algorithm"`, `"ALGORITHM": "x", "algorithm"`), CheckJSON},
		{"not JSON", `algorithm=ed25519`, CheckJSON},
		{"oversized", string(js) + strings.Repeat(" ", MaxSignatureBytes), CheckMetadataSize},
	}
	for _, tc := range tests {
		_, _, err := ParseSignature([]byte(tc.in))
		ce, ok := err.(*CheckError)
		if !ok || ce.Check != tc.check || ce.Entry != SignaturePath {
			t.Errorf("%s: error %v, want check %s", tc.name, err, tc.check)
		}
	}
}
