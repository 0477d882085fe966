package manifest

import (
	"errors"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0.0", "1.0.0", 0},
		{"0.9.0", "0.10.0", -1},
		{"1.10.0", "1.9.9", 1},
		{"2.0.0", "10.0.0", -1},
		{"0.0.1", "0.0.0", 1},
		{"4294967295.0.0", "4294967294.9.9", 1},
	}
	for _, tt := range tests {
		got, err := CompareVersions(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("CompareVersions(%q, %q) = %d, %v; want %d", tt.a, tt.b, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"1.0", "1.0.0"}, {"1.0.0", "1.0.0-rc1"}} {
		if _, err := CompareVersions(bad[0], bad[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("CompareVersions(%q, %q) error = %v, want ErrInvalid", bad[0], bad[1], err)
		}
	}
}

func TestCheckCompat(t *testing.T) {
	c := Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.2.0", MaxPalyraVersion: "0.9.0"}
	tests := []struct {
		name     string
		c        Compat
		protocol int
		host     string
		wantErr  error
	}{
		{"inside range", c, 1, "0.5.0", nil},
		{"at minimum", c, 1, "0.2.0", nil},
		{"at maximum", c, 1, "0.9.0", nil},
		{"newer protocol on host", c, 2, "0.5.0", nil},
		{"protocol too old", c, 0, "0.5.0", ErrIncompatible},
		{"host below minimum", c, 1, "0.1.9", ErrIncompatible},
		{"host above maximum", c, 1, "0.10.0", ErrIncompatible},
		{"no maximum", Compat{RequiredProtocolMajor: 1, MinPalyraVersion: "0.2.0"}, 1, "99.0.0", nil},
		{"bad host version", c, 1, "dev", ErrInvalid},
	}
	for _, tt := range tests {
		err := CheckCompat(tt.c, tt.protocol, tt.host)
		if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
			t.Errorf("%s: CheckCompat = %v, want %v", tt.name, err, tt.wantErr)
		}
	}
}
