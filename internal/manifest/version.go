package manifest

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// ValidateVersion reports whether s is an exact MAJOR.MINOR.PATCH version:
// three decimal numbers that fit in 32 bits, without sign, leading zeros,
// blanks, pre-release or build suffix.
func ValidateVersion(s string) error {
	return valueError("version", s, versionProblem(s))
}

// CompareVersions compares two MAJOR.MINOR.PATCH versions numerically and
// returns -1, 0 or +1. It fails if either is not valid per ValidateVersion.
func CompareVersions(a, b string) (int, error) {
	va, err := parseVersion(a)
	if err != nil {
		return 0, err
	}
	vb, err := parseVersion(b)
	if err != nil {
		return 0, err
	}
	for i := range va {
		if c := cmp.Compare(va[i], vb[i]); c != 0 {
			return c, nil
		}
	}
	return 0, nil
}

func parseVersion(s string) ([3]uint32, error) {
	var v [3]uint32
	if msg := versionProblem(s); msg != "" {
		return v, valueError("version", s, msg)
	}
	for i, part := range strings.Split(s, ".") {
		n, _ := strconv.ParseUint(part, 10, 32) // checked by versionProblem
		v[i] = uint32(n)
	}
	return v, nil
}

// versionProblem is Palyra's parse_semver (three u32 parts) made exact: Rust's
// u32 parser also takes "+1" and "01", and Palyra trims blanks first. Those
// spellings would make two strings name one version, which matters wherever
// versions are compared as strings (journal, rollback protection).
func versionProblem(s string) string {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return fmt.Sprintf("%q must be MAJOR.MINOR.PATCH", s)
	}
	for i, part := range parts {
		name := [...]string{"major", "minor", "patch"}[i]
		if part == "" || strings.Trim(part, "0123456789") != "" {
			return fmt.Sprintf("%q: %s must be a decimal number", s, name)
		}
		if len(part) > 1 && part[0] == '0' {
			return fmt.Sprintf("%q: %s must not have leading zeros", s, name)
		}
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return fmt.Sprintf("%q: %s does not fit in 32 bits", s, name)
		}
	}
	return ""
}

// CheckCompat reports whether a host speaking protocol major protocolMajor,
// at version hostVersion, satisfies c: the required protocol major is not
// above the host's, and hostVersion lies within [min_palyra_version,
// max_palyra_version] (no upper bound when max is empty). A failure wraps
// ErrIncompatible.
func CheckCompat(c Compat, protocolMajor int, hostVersion string) error {
	if c.RequiredProtocolMajor > protocolMajor {
		return fmt.Errorf("compat.required_protocol_major %d is above the host's protocol major %d: %w",
			c.RequiredProtocolMajor, protocolMajor, ErrIncompatible)
	}
	below, err := CompareVersions(hostVersion, c.MinPalyraVersion)
	if err != nil {
		return fmt.Errorf("compat check: %w", err)
	}
	if below < 0 {
		return fmt.Errorf("compat.min_palyra_version %s is above the host version %s: %w",
			c.MinPalyraVersion, hostVersion, ErrIncompatible)
	}
	if c.MaxPalyraVersion == "" {
		return nil
	}
	above, err := CompareVersions(hostVersion, c.MaxPalyraVersion)
	if err != nil {
		return fmt.Errorf("compat check: %w", err)
	}
	if above > 0 {
		return fmt.Errorf("host version %s is above compat.max_palyra_version %s: %w",
			hostVersion, c.MaxPalyraVersion, ErrIncompatible)
	}
	return nil
}
