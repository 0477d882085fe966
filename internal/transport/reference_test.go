package transport

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode/utf8"
)

// decodeEnvelopeReference is the first, slow decoder: key by key with
// json.Decoder.Token, every body re-read. It is kept as the reference the
// fast decoder is fuzzed against (FuzzDecodeAgainstReference): whatever
// decodeEnvelope accepts, this accepts with the same result.
func decodeEnvelopeReference(data []byte) (*wireEnvelope, error) {
	// encoding/json would turn invalid UTF-8 into U+FFFD; refuse it.
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: message is not valid UTF-8", ErrBadMessage)
	}
	var env wireEnvelope
	var haveV, haveID, haveType bool
	err := strictObject(data, "message", func(key string, raw []byte) error {
		switch key {
		case "v":
			haveV = true
			return scalar(raw, key, &env.V)
		case "id":
			haveID = true
			return scalar(raw, key, &env.ID)
		case "type":
			haveType = true
			return scalar(raw, key, &env.Type)
		case "call":
			env.Call = &wireCall{}
			return decodeCall(raw, env.Call)
		case "info":
			env.Info = &wireInfo{}
			return strictObject(raw, key, func(k string, raw []byte) error {
				if k == "skill" {
					return scalar(raw, "info.skill", &env.Info.Skill)
				}
				return unknownKey("info", k)
			})
		case "renew":
			env.Renew = &wireRenew{}
			return strictObject(raw, key, func(k string, raw []byte) error {
				if k == "csr" {
					return scalar(raw, "renew.csr", &env.Renew.CSR)
				}
				return unknownKey("renew", k)
			})
		case "offer":
			env.Offer = &wireOffer{}
			return strictObject(raw, key, func(k string, raw []byte) error {
				if k == "skills" {
					return decodeOfferSkills(raw, &env.Offer.Skills)
				}
				return unknownKey("offer", k)
			})
		case "result":
			env.Result = &wireResult{}
			return strictObject(raw, key, func(k string, raw []byte) error {
				switch k {
				case "output":
					return scalar(raw, "result.output", &env.Result.Output)
				case "data":
					env.Result.Data = bytes.Clone(raw)
					return nil
				}
				return unknownKey("result", k)
			})
		case "error":
			env.Error = &wireError{}
			return strictObject(raw, key, func(k string, raw []byte) error {
				switch k {
				case "code":
					return scalar(raw, "error.code", &env.Error.Code)
				case "message":
					return scalar(raw, "error.message", &env.Error.Message)
				case "exit_code":
					return scalar(raw, "error.exit_code", &env.Error.ExitCode)
				case "detail":
					env.Error.Detail = bytes.Clone(raw)
					return nil
				}
				return unknownKey("error", k)
			})
		}
		return unknownKey("message", key)
	})
	if err != nil {
		return nil, err
	}
	if !haveV || !haveID || !haveType {
		return nil, fmt.Errorf("%w: message needs v, id and type", ErrBadMessage)
	}
	if env.V != ProtocolVersion {
		return nil, fmt.Errorf("%w: protocol version %d, want %d", ErrBadMessage, env.V, ProtocolVersion)
	}
	return &env, nil
}

func decodeCall(raw []byte, c *wireCall) error {
	return strictObject(raw, "call", func(k string, raw []byte) error {
		switch k {
		case "skill":
			return scalar(raw, "call.skill", &c.Skill)
		case "tool":
			return scalar(raw, "call.tool", &c.Tool)
		case "input":
			return scalar(raw, "call.input", &c.Input)
		case "timeout_ms":
			return scalar(raw, "call.timeout_ms", &c.TimeoutMS)
		case "report":
			return scalar(raw, "call.report", &c.Report)
		case "version":
			return scalar(raw, "call.version", &c.Version)
		case "digest":
			return scalar(raw, "call.digest", &c.Digest)
		}
		return unknownKey("call", k)
	})
}

func decodeOfferSkills(raw []byte, out *[]wireSkillOffer) error {
	var elems []json.RawMessage
	if err := scalar(raw, "offer.skills", &elems); err != nil {
		return err
	}
	*out = make([]wireSkillOffer, len(elems))
	for i, e := range elems {
		sk := &(*out)[i]
		err := strictObject(e, "offer.skills[]", func(k string, raw []byte) error {
			switch k {
			case "id":
				return scalar(raw, "offer.skills[].id", &sk.ID)
			case "version":
				return scalar(raw, "offer.skills[].version", &sk.Version)
			case "digest":
				return scalar(raw, "offer.skills[].digest", &sk.Digest)
			}
			return unknownKey("offer.skills[]", k)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func unknownKey(where, key string) error {
	return fmt.Errorf("%w: %s: unknown key %q", ErrBadMessage, where, key)
}

// strictObject reads data as exactly one JSON object followed only by
// whitespace and calls member with each key, compared exactly, and the raw
// value. Repeated keys and null values are errors.
func strictObject(data []byte, where string, member func(key string, raw []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadMessage, where, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: %s is not an object", ErrBadMessage, where)
	}
	seen := make(map[string]bool, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadMessage, where, err)
		}
		key, ok := tok.(string)
		if !ok {
			return fmt.Errorf("%w: %s: bad object key", ErrBadMessage, where)
		}
		if seen[key] {
			return fmt.Errorf("%w: %s: duplicate key %q", ErrBadMessage, where, key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%w: %s.%s: %v", ErrBadMessage, where, key, err)
		}
		if string(raw) == "null" {
			return fmt.Errorf("%w: %s.%s is null", ErrBadMessage, where, key)
		}
		if err := member(key, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("%w: %s: %v", ErrBadMessage, where, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: %s: data after the object", ErrBadMessage, where)
	}
	return nil
}

// scalar decodes a string, number, bool or base64 value; the value's JSON
// type must match the field's.
func scalar(raw []byte, where string, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadMessage, where, err)
	}
	return nil
}
