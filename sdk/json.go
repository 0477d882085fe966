package sdk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// InputJSON decodes the call's input, one JSON value, into a T. The
// decoding is strict, because a field the tool does not know is more
// likely a caller's mistake than something to ignore: an unknown object
// field, an empty input, and anything after the value are errors. Field
// names otherwise match as in encoding/json (case-insensitively).
//
// The error says what is wrong with the input, ready for SetError.
func InputJSON[T any]() (T, error) {
	var v T
	err := decodeStrict(input(), &v)
	return v, err
}

func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("sdk: input is empty, want JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("sdk: input: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("sdk: input: data after the JSON value")
	}
	return nil
}

// OutputJSON sets the call's output to v encoded as JSON, as
// encoding/json.Marshal does but without escaping <, > and & (the output
// is data for the caller, not for an HTML page) and without a trailing
// newline. If v cannot be encoded, OutputJSON leaves the output as it was
// and returns the error.
func OutputJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("sdk: output: %w", err)
	}
	output(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return nil
}
