package manifest

import "testing"

func TestKeyLines(t *testing.T) {
	doc := `top = 1
[a]
b.c = 2
[[t]]
x = 1
[[t.u]]
y = 2
[[t]]
x = 3
[[t.u]]
[[t.u]]
"q.k" = { inner = [1, { deep = true }] }
arr = [
  "e0",
  { z = 1 },
]
[t.v]
`
	lines := keyLines([]byte(doc))
	want := map[string]int{
		"top":                           1,
		"a":                             2,
		"a.b":                           3,
		"a.b.c":                         3,
		"t[0]":                          4,
		"t[0].x":                        5,
		"t[0].u[0]":                     6,
		"t[0].u[0].y":                   7,
		"t[1]":                          8,
		"t[1].x":                        9,
		"t[1].u[0]":                     10,
		"t[1].u[1]":                     11,
		`t[1].u[1]."q.k"`:               12,
		`t[1].u[1]."q.k".inner[1].deep`: 12,
		"t[1].u[1].arr[0]":              14,
		"t[1].u[1].arr[1]":              15,
		"t[1].u[1].arr[1].z":            15,
		"t[1].v":                        17,
	}
	for path, line := range want {
		if got := lines[path]; got != line {
			t.Errorf("line of %s = %d, want %d", path, got, line)
		}
	}
	for _, tt := range []struct {
		path string
		want int
	}{
		{"t[1].u[1].arr[1].missing", 15},
		{`t[1].u[1]."q.k".nope`, 12},
		{"nowhere.at.all", 0},
	} {
		if got := lineFor(lines, tt.path); got != tt.want {
			t.Errorf("lineFor(%s) = %d, want %d", tt.path, got, tt.want)
		}
	}
}

func TestParentPath(t *testing.T) {
	for path, want := range map[string]string{
		"a.b.c":        "a.b",
		"a[3]":         "a",
		"a":            "",
		`a."b.c"`:      "a",
		`"x[1]"`:       "",
		`a."q\"x"`:     "a",
		"a.b[0].c[12]": "a.b[0].c",
	} {
		if got := parentPath(path); got != want {
			t.Errorf("parentPath(%s) = %q, want %q", path, got, want)
		}
	}
}
