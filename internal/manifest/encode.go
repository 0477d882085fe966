package manifest

import (
	"bytes"
	"fmt"

	"github.com/pelletier/go-toml/v2"
)

// Encode writes m as TOML: keys in the schema's order, tables in Palyra's
// order, config properties and schema keys sorted, schemas and risk flags
// as inline tables and the integrity list as one inline table per line.
// The same manifest always encodes to the same bytes. Encode does not
// validate (call Validate first); for any manifest Parse returned,
// Parse(Encode(m)) is equal to m.
func Encode(m *Manifest) ([]byte, error) {
	if m == nil {
		return nil, fmt.Errorf("manifest: encode: nil manifest")
	}
	var buf bytes.Buffer
	enc := toml.NewEncoder(&buf)
	enc.SetIndentTables(false)
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("manifest: encode: %w", err)
	}
	return buf.Bytes(), nil
}
