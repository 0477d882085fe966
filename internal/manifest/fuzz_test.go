package manifest

import (
	"reflect"
	"testing"
)

// FuzzParse: Parse never panics, and whatever it accepts survives
// Encode → Parse unchanged and encodes to the same bytes again.
func FuzzParse(f *testing.F) {
	for _, data := range validFixtures(f) {
		f.Add(data)
	}
	f.Add([]byte("Skill_ID = 'x'\n"))
	f.Add([]byte(baseDoc + "\n[operator.config.properties.\"a b\"]\ntype = 'string'\ndefault = 1979-05-27\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse error %v is %T, not *Error", err, err)
			}
			return
		}
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("Encode of a parsed manifest failed: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Encode(m)) failed: %v\ninput:\n%s\nencoded:\n%s", err, data, out)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the manifest\nm:    %+v\nback: %+v\nencoded:\n%s", m, back, out)
		}
		again, err := Encode(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("Encode not stable (err %v):\n%s\n---\n%s", err, out, again)
		}
	})
}
