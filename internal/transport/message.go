package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// ProtocolVersion is the "v" of every message. A message of another
// version is refused (ErrBadMessage), never guessed at.
const ProtocolVersion = 1

// ErrBadMessage: a frame's payload is not a valid message of this
// protocol version. Errors wrapping it say what is wrong.
var ErrBadMessage = errors.New("transport: bad message")

// RequestType says what a request asks for.
type RequestType string

// The request types.
const (
	// TypeCall runs one tool of a skill (CallRequest).
	TypeCall RequestType = "call"
	// TypeList lists the installed skills; it has no body.
	TypeList RequestType = "list"
	// TypeInfo describes one skill (InfoRequest).
	TypeInfo RequestType = "info"
	// TypeRenew asks for a fresh client certificate for a new key
	// (RenewRequest) over an mTLS connection, before the current one
	// expires; Result.Output is the new certificate's DER.
	TypeRenew RequestType = "renew"
	// TypeOffer is sent by a node to the daemon: the eligible skills it
	// can run (OfferRequest). Each offer replaces the node's previous one.
	TypeOffer RequestType = "offer"
)

// Request is one request, carried alone on its own stream. Exactly the body
// of its Type is set: Call for TypeCall, Info for TypeInfo, none for
// TypeList.
type Request struct {
	// ID is chosen by the sender, at least 1, and echoed in the response.
	ID    uint64
	Type  RequestType
	Call  *CallRequest
	Info  *InfoRequest
	Renew *RenewRequest
	Offer *OfferRequest
}

// RenewRequest is the body of a TypeRenew request.
type RenewRequest struct {
	// CSR is a PKCS#10 certificate request (DER) for the new key.
	CSR []byte
}

// OfferRequest is the body of a TypeOffer request.
type OfferRequest struct {
	Skills []SkillOffer
}

// SkillOffer names one signed skill version a node can run.
type SkillOffer struct {
	ID      string
	Version string
	// Digest is the artifact's payload digest as the journal records it.
	Digest string
}

// CallRequest is the body of a TypeCall request: host.Call's arguments.
type CallRequest struct {
	Skill string
	Tool  string
	// Input is the tool's input, passed through as bytes.
	Input []byte
	// Timeout is how long the caller waits; the server stops the call
	// then (and never later than its own limit). On the wire it is whole
	// milliseconds, rounded up; zero means the server's default.
	Timeout time.Duration
	// Report asks for host.Run's report (duration, logs…) in Result.Data
	// as well as the output.
	Report bool
	// Version and Digest, when set, pin the signed version that must run
	// the call: the daemon sets them when it routes a call to a node, and
	// the node refuses the call if its installed skill differs.
	Version string
	Digest  string
}

// InfoRequest is the body of a TypeInfo request.
type InfoRequest struct {
	Skill string
}

// Response answers the request with the same ID: exactly one of Result and
// Error is set. A server that could not read a request at all answers with
// an Error and ID 0.
type Response struct {
	ID     uint64
	Result *Result
	Error  *RemoteError
}

// Result is a successful response.
type Result struct {
	// Output is a call's output bytes.
	Output []byte
	// Data is a JSON document whose shape the request type defines (the
	// list, the info, a call's report); the transport only checks that it
	// is JSON.
	Data json.RawMessage
}

// RemoteError is a failure reported by the peer. Code is what programs
// test (the daemon maps its sentinel errors to codes and a client maps
// them back); ExitCode is the exit status the local command would have
// had, so a remote CLI exits the same way (0 on the wire means 1).
type RemoteError struct {
	Code     string
	Message  string
	ExitCode int
	// Detail is an optional JSON document (e.g. a call's report, or a
	// schema violation's details) for --json output.
	Detail json.RawMessage
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return "remote error: " + e.Code
	}
	return fmt.Sprintf("remote error %s: %s", e.Code, e.Message)
}

// Error codes the transport itself sends; the daemon adds its own (any
// string of 1-64 characters from a-z, 0-9 and '_', starting with a letter).
const (
	CodeBadRequest       = "bad_request"       // the request did not decode or validate
	CodeFrameTooLarge    = "frame_too_large"   // a frame over MaxFrameSize
	CodeDeadlineExceeded = "deadline_exceeded" // the call's deadline passed
	CodeCanceled         = "canceled"          // the call was canceled
	CodeOverloaded       = "overloaded"        // no slot freed up before the deadline
	CodeInternal         = "internal"          // the handler failed with an uncoded error
)

// wire forms: what goes in the JSON, field for field.
type wireEnvelope struct {
	V      int         `json:"v"`
	ID     uint64      `json:"id"`
	Type   string      `json:"type"`
	Call   *wireCall   `json:"call,omitempty"`
	Info   *wireInfo   `json:"info,omitempty"`
	Renew  *wireRenew  `json:"renew,omitempty"`
	Offer  *wireOffer  `json:"offer,omitempty"`
	Result *wireResult `json:"result,omitempty"`
	Error  *wireError  `json:"error,omitempty"`
}

type wireCall struct {
	Skill     string `json:"skill"`
	Tool      string `json:"tool"`
	Input     []byte `json:"input,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
	Report    bool   `json:"report,omitempty"`
	Version   string `json:"version,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

type wireRenew struct {
	CSR []byte `json:"csr"`
}

type wireOffer struct {
	Skills []wireSkillOffer `json:"skills"`
}

type wireSkillOffer struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

type wireInfo struct {
	Skill string `json:"skill"`
}

type wireResult struct {
	Output []byte          `json:"output,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

type wireError struct {
	Code     string          `json:"code"`
	Message  string          `json:"message,omitempty"`
	ExitCode int             `json:"exit_code,omitempty"`
	Detail   json.RawMessage `json:"detail,omitempty"`
}

// maxTimeoutMS bounds timeout_ms so it converts to a time.Duration without
// overflow.
const maxTimeoutMS = int64(math.MaxInt64 / time.Millisecond)

// EncodeRequest returns req's wire form after checking it as
// DecodeRequest would.
func EncodeRequest(req *Request) ([]byte, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	env := wireEnvelope{V: ProtocolVersion, ID: req.ID, Type: string(req.Type)}
	switch req.Type {
	case TypeCall:
		ms := int64(req.Call.Timeout / time.Millisecond)
		if req.Call.Timeout%time.Millisecond != 0 {
			ms++ // round up: a sub-millisecond timeout must not become "the default"
		}
		env.Call = &wireCall{Skill: req.Call.Skill, Tool: req.Call.Tool, Input: req.Call.Input, TimeoutMS: ms, Report: req.Call.Report, Version: req.Call.Version, Digest: req.Call.Digest}
	case TypeInfo:
		env.Info = &wireInfo{Skill: req.Info.Skill}
	case TypeRenew:
		env.Renew = &wireRenew{CSR: req.Renew.CSR}
	case TypeOffer:
		o := &wireOffer{Skills: make([]wireSkillOffer, len(req.Offer.Skills))}
		for i, sk := range req.Offer.Skills {
			o.Skills[i] = wireSkillOffer(sk)
		}
		env.Offer = o
	}
	return json.Marshal(&env)
}

// EncodeResponse returns resp's wire form after checking it as
// DecodeResponse would.
func EncodeResponse(resp *Response) ([]byte, error) {
	if err := resp.validate(); err != nil {
		return nil, err
	}
	env := wireEnvelope{V: ProtocolVersion, ID: resp.ID}
	if resp.Error != nil {
		e := resp.Error
		env.Type = "error"
		env.Error = &wireError{Code: e.Code, Message: e.Message, ExitCode: e.ExitCode, Detail: e.Detail}
	} else {
		env.Type = "result"
		env.Result = &wireResult{Output: resp.Result.Output, Data: resp.Result.Data}
	}
	return json.Marshal(&env)
}

// MaxOfferSkills bounds the skills one offer may name.
const MaxOfferSkills = 4096

func (req *Request) validate() error {
	if req.ID == 0 {
		return fmt.Errorf("%w: request id must be at least 1", ErrBadMessage)
	}
	bodies := 0
	for _, set := range []bool{req.Call != nil, req.Info != nil, req.Renew != nil, req.Offer != nil} {
		if set {
			bodies++
		}
	}
	if bodies > 1 {
		return fmt.Errorf("%w: %s request with more than one body", ErrBadMessage, req.Type)
	}
	switch req.Type {
	case TypeCall:
		c := req.Call
		if c == nil {
			return fmt.Errorf("%w: call request without its call body", ErrBadMessage)
		}
		if c.Skill == "" || c.Tool == "" {
			return fmt.Errorf("%w: call request needs a skill and a tool", ErrBadMessage)
		}
		if c.Timeout < 0 || c.Timeout > time.Duration(maxTimeoutMS)*time.Millisecond {
			return fmt.Errorf("%w: call timeout %s out of range", ErrBadMessage, c.Timeout)
		}
		if (c.Version == "") != (c.Digest == "") {
			return fmt.Errorf("%w: call request pins a version and a digest together or neither", ErrBadMessage)
		}
	case TypeInfo:
		if req.Info == nil || req.Info.Skill == "" {
			return fmt.Errorf("%w: info request needs a skill", ErrBadMessage)
		}
	case TypeList:
		if bodies != 0 {
			return fmt.Errorf("%w: list request takes no body", ErrBadMessage)
		}
	case TypeRenew:
		if req.Renew == nil || len(req.Renew.CSR) == 0 {
			return fmt.Errorf("%w: renew request needs a CSR", ErrBadMessage)
		}
	case TypeOffer:
		if req.Offer == nil {
			return fmt.Errorf("%w: offer request without its offer body", ErrBadMessage)
		}
		if len(req.Offer.Skills) > MaxOfferSkills {
			return fmt.Errorf("%w: offer names %d skills, limit %d", ErrBadMessage, len(req.Offer.Skills), MaxOfferSkills)
		}
		for i, sk := range req.Offer.Skills {
			if sk.ID == "" || sk.Version == "" || sk.Digest == "" {
				return fmt.Errorf("%w: offer skill %d needs an id, a version and a digest", ErrBadMessage, i)
			}
		}
	default:
		return fmt.Errorf("%w: unknown request type %q", ErrBadMessage, req.Type)
	}
	return nil
}

func (resp *Response) validate() error {
	switch {
	case (resp.Result == nil) == (resp.Error == nil):
		return fmt.Errorf("%w: response needs exactly one of result and error", ErrBadMessage)
	case resp.Result != nil:
		if resp.ID == 0 {
			return fmt.Errorf("%w: result with id 0", ErrBadMessage)
		}
		if len(resp.Result.Data) > 0 && !json.Valid(resp.Result.Data) {
			return fmt.Errorf("%w: result data is not JSON", ErrBadMessage)
		}
	default:
		e := resp.Error
		if !validCode(e.Code) {
			return fmt.Errorf("%w: error code %q (want 1-64 of a-z, 0-9, '_', starting with a letter)", ErrBadMessage, e.Code)
		}
		if e.ExitCode < 0 || e.ExitCode > 125 {
			return fmt.Errorf("%w: exit code %d out of range 0-125", ErrBadMessage, e.ExitCode)
		}
		if len(e.Detail) > 0 && !json.Valid(e.Detail) {
			return fmt.Errorf("%w: error detail is not JSON", ErrBadMessage)
		}
	}
	return nil
}

func validCode(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// DecodeRequest decodes one request strictly: one JSON object and nothing
// after it, keys matched exactly (no case folding), no unknown or
// duplicate keys, no nulls, version ProtocolVersion, and the checks of
// Request (an id, a known type with exactly its body, required fields),
// valid UTF-8 throughout.
// Errors wrap ErrBadMessage.
func DecodeRequest(data []byte) (*Request, error) {
	env, err := decodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	if env.Result != nil || env.Error != nil {
		return nil, fmt.Errorf("%w: request carries a response body", ErrBadMessage)
	}
	req := &Request{ID: env.ID, Type: RequestType(env.Type)}
	if c := env.Call; c != nil {
		if c.TimeoutMS < 0 || c.TimeoutMS > maxTimeoutMS {
			return nil, fmt.Errorf("%w: timeout_ms %d out of range", ErrBadMessage, c.TimeoutMS)
		}
		req.Call = &CallRequest{Skill: c.Skill, Tool: c.Tool, Input: c.Input, Timeout: time.Duration(c.TimeoutMS) * time.Millisecond, Report: c.Report, Version: c.Version, Digest: c.Digest}
	}
	if env.Info != nil {
		req.Info = &InfoRequest{Skill: env.Info.Skill}
	}
	if env.Renew != nil {
		req.Renew = &RenewRequest{CSR: env.Renew.CSR}
	}
	if o := env.Offer; o != nil {
		req.Offer = &OfferRequest{Skills: make([]SkillOffer, len(o.Skills))}
		for i, sk := range o.Skills {
			req.Offer.Skills[i] = SkillOffer(sk)
		}
	}
	if err := req.validate(); err != nil {
		return nil, err
	}
	return req, nil
}

// DecodeResponse decodes one response as strictly as DecodeRequest.
func DecodeResponse(data []byte) (*Response, error) {
	env, err := decodeEnvelope(data)
	if err != nil {
		return nil, err
	}
	if env.Call != nil || env.Info != nil || env.Renew != nil || env.Offer != nil {
		return nil, fmt.Errorf("%w: response carries a request body", ErrBadMessage)
	}
	resp := &Response{ID: env.ID}
	switch env.Type {
	case "result":
		if env.Result == nil || env.Error != nil {
			return nil, fmt.Errorf("%w: result response needs exactly its result body", ErrBadMessage)
		}
		resp.Result = &Result{Output: env.Result.Output, Data: env.Result.Data}
	case "error":
		if env.Error == nil || env.Result != nil {
			return nil, fmt.Errorf("%w: error response needs exactly its error body", ErrBadMessage)
		}
		e := env.Error
		resp.Error = &RemoteError{Code: e.Code, Message: e.Message, ExitCode: e.ExitCode, Detail: e.Detail}
	default:
		return nil, fmt.Errorf("%w: unknown response type %q", ErrBadMessage, env.Type)
	}
	if err := resp.validate(); err != nil {
		return nil, err
	}
	return resp, nil
}

// decodeEnvelope decodes the envelope in three passes over the bytes:
// UTF-8 validity, encoding/json with DisallowUnknownFields (types, unknown
// keys up to case folding), and checkKeys (exact keys, no repeats, no
// nulls, nothing after the object), which closes the gaps encoding/json
// leaves.
func decodeEnvelope(data []byte) (*wireEnvelope, error) {
	// encoding/json would turn invalid UTF-8 into U+FFFD; refuse it.
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%w: message is not valid UTF-8", ErrBadMessage)
	}
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: message is not an object", ErrBadMessage)
	}
	var env wireEnvelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	k := keyScanner{data: data}
	if err := k.document(); err != nil {
		return nil, err
	}
	// Looked for by name: a zero value does not show a key is absent
	// (id 0 is even valid, in an error answering an unreadable request).
	if !k.hasV || !k.hasID || !k.hasType {
		return nil, fmt.Errorf("%w: message needs v, id and type", ErrBadMessage)
	}
	if env.V != ProtocolVersion {
		return nil, fmt.Errorf("%w: protocol version %d, want %d", ErrBadMessage, env.V, ProtocolVersion)
	}
	return &env, nil
}

// keyScanner walks a document encoding/json has decoded and refuses what
// it let through: in the envelope and its bodies (the first two object
// levels; data and detail below them are opaque) a key that is not plain
// lowercase ASCII or underscore (encoding/json matches keys ignoring case
// and folds U+212A to 'k' and U+017F to 's'), a key given twice
// (encoding/json keeps the last), a null value (encoding/json skips it);
// and anything but whitespace after the object. It trusts the structure
// encoding/json validated but never indexes out of range.
type keyScanner struct {
	data []byte
	i    int
	// which required keys the envelope has
	hasV, hasID, hasType bool
}

func (k *keyScanner) peek() byte {
	if k.i < len(k.data) {
		return k.data[k.i]
	}
	return 0
}

func (k *keyScanner) ws() {
	for k.i < len(k.data) {
		switch k.data[k.i] {
		case ' ', '\t', '\n', '\r':
			k.i++
		default:
			return
		}
	}
}

func (k *keyScanner) document() error {
	k.ws()
	if k.peek() != '{' {
		return fmt.Errorf("%w: message is not an object", ErrBadMessage)
	}
	if err := k.object(1); err != nil {
		return err
	}
	k.ws()
	if k.i != len(k.data) {
		return fmt.Errorf("%w: data after the object", ErrBadMessage)
	}
	return nil
}

// object checks the object at k.i, whose keys sit at depth.
func (k *keyScanner) object(depth int) error {
	k.i++ // '{'
	var seen [8]string
	n := 0
	k.ws()
	if k.peek() == '}' {
		k.i++
		return nil
	}
	for k.i < len(k.data) {
		k.ws()
		start := k.i + 1
		escaped := k.str()
		key := string(k.data[start:max(start, k.i-1)])
		if escaped || !plainKey(key) {
			return fmt.Errorf("%w: unknown key %q", ErrBadMessage, key)
		}
		for _, s := range seen[:n] {
			if s == key {
				return fmt.Errorf("%w: duplicate key %q", ErrBadMessage, key)
			}
		}
		if n == len(seen) {
			return fmt.Errorf("%w: too many keys", ErrBadMessage) // no object of the protocol has 8
		}
		seen[n] = key
		n++
		if depth == 1 {
			switch key {
			case "v":
				k.hasV = true
			case "id":
				k.hasID = true
			case "type":
				k.hasType = true
			}
		}
		k.ws()
		k.i++ // ':'
		k.ws()
		switch c := k.peek(); {
		case c == 'n':
			return fmt.Errorf("%w: %s is null", ErrBadMessage, key)
		case c == '{' && depth < 2:
			if err := k.object(depth + 1); err != nil {
				return err
			}
		default:
			k.skip()
		}
		k.ws()
		if k.peek() != ',' {
			break
		}
		k.i++
	}
	k.i++ // '}'
	return nil
}

// plainKey: 1-32 bytes of a-z and '_', the alphabet of every key of the
// protocol, so a key encoding/json accepted is also exactly the field's.
func plainKey(s string) bool {
	if len(s) == 0 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// str skips the string at k.i and reports whether it had escapes.
func (k *keyScanner) str() (escaped bool) {
	k.i++ // opening quote
	for k.i < len(k.data) {
		switch k.data[k.i] {
		case '\\':
			escaped = true
			k.i += 2
			continue
		case '"':
			k.i++
			return escaped
		}
		k.i++
	}
	return escaped
}

// skip skips one value of any kind.
func (k *keyScanner) skip() {
	switch k.peek() {
	case '"':
		k.str()
	case '{', '[':
		depth := 0
		for k.i < len(k.data) {
			switch k.data[k.i] {
			case '"':
				k.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					k.i++
					return
				}
			}
			k.i++
		}
	default: // number, true, false
		for k.i < len(k.data) {
			switch k.data[k.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			k.i++
		}
	}
}
