package manifest

import (
	"bytes"
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// Parse decodes and validates skill.toml. (Skeleton: strict decode only;
// the validation rules are filled in by the manifest work.)
func Parse(data []byte) (*Manifest, error) {
	m := &Manifest{ManifestVersion: 2, Capabilities: Capabilities{Quotas: Quotas{
		WallClockTimeoutMS: 30000, FuelBudget: 10_000_000, MaxMemoryBytes: 64 << 20}}}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fmt.Errorf("skill.toml: %w", err)
	}
	return m, nil
}

// Encode writes m as TOML.
func Encode(m *Manifest) ([]byte, error) {
	return toml.Marshal(m)
}
