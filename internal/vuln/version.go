package vuln

import (
	"go/version"
	"strings"

	"golang.org/x/mod/semver"
)

// canonical returns v as golang.org/x/mod/semver compares it: "1.2.3" and
// "v1.2.3" give "v1.2.3" (build metadata such as +incompatible dropped,
// since it does not order), and a Go toolchain version ("go1.21.3",
// "go1.22rc1") its semver form (v1.21.3, v1.22.0-rc.1). ok is false when v
// is none of these.
func canonical(v string) (string, bool) {
	if strings.HasPrefix(v, "go") {
		return goToSemver(v)
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	if !semver.IsValid(v) {
		return "", false
	}
	return semver.Canonical(v), true
}

// goToSemver converts a Go toolchain version to semver, the way the Go
// vulndb writes the standard library's versions. go/version checks the
// form; a trailing " X:experiment" (runtime.Version with GOEXPERIMENT) is
// dropped.
func goToSemver(v string) (string, bool) {
	v, _, _ = strings.Cut(v, " ")
	if !version.IsValid(v) {
		return "", false
	}
	num := strings.TrimPrefix(v, "go")
	var pre string
	for _, tag := range []string{"rc", "beta", "alpha"} {
		if i := strings.Index(num, tag); i >= 0 {
			num, pre = num[:i], "-"+tag+"."+num[i+len(tag):]
			break
		}
	}
	parts := strings.Split(num, ".")
	for len(parts) < 3 {
		parts = append(parts, "0")
	}
	s := "v" + strings.Join(parts, ".") + pre
	if !semver.IsValid(s) {
		return "", false
	}
	return semver.Canonical(s), true
}
