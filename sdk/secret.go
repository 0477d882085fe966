package sdk

import (
	"errors"
	"strings"
)

// Secret returns the secret key of scope, from the host's secret store
// (palyra_secret_get, a Palyra host function in extism:host/user). scope
// is written as in skill.toml: "global", "principal:ID", "channel:ID" or
// "skill:ID". The host hands out only what the skill's manifest requests
// under capabilities.secrets and the operator granted.
//
// A denied or missing secret is an error carrying the host's reason, and
// leaves the call's error as it was, so the tool can fall back or fail
// with its own message. The secret is the caller's copy; keep it no longer
// than needed, and never log or output it.
//
// A skill that calls Secret imports palyra_secret_get, which other Extism
// hosts do not provide unless they define it (see the package doc).
func Secret(scope, key string) ([]byte, error) {
	if scope == "" || key == "" || strings.Contains(key, "/") {
		return nil, errors.New(`sdk: secret scope and key must be non-empty, and the key has no "/"`)
	}
	return secretGet(scope, key)
}
