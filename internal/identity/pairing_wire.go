package identity

// The pairing wire format: frames and the strict JSON codec of each
// message. docs/pairing.md describes it for implementers of other clients.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/palyra/palyra-go/internal/cpace"
)

const (
	// pairingVersion is the "v" of the hello message.
	pairingVersion = 1
	// maxFrame bounds a frame's payload; a larger announced length is
	// refused before anything is allocated for it.
	maxFrame = 16 << 10
	// sidSize is the CPace session id length the client picks.
	sidSize = 16
	// macSize is HMAC-SHA256's output.
	macSize = 32
	// maxOffers bounds the offers of one attempt: each offer is one guess
	// a fake daemon gets at the client's 6-digit code, so the client
	// refuses more. It is the registry's cap on active codes, so a
	// 6-digit attempt can always try every active code.
	maxOffers = MaxActiveCodes
	// maxCSR bounds the CSR a request carries.
	maxCSR = 4 << 10
	// maxErrorText bounds the text of an error message kept by the client.
	maxErrorText = 200
)

// Message types.
const (
	msgHello     = "hello"
	msgOffers    = "offers"
	msgError     = "error"
	msgConfirm   = "confirm"
	msgAbort     = "abort"
	msgConfirmed = "confirmed"
	msgRequest   = "request"
	msgPending   = "pending"
	msgGrant     = "grant"
)

// Error codes of the error message, and the sentinel each maps to.
const (
	codeRateLimited   = "rate_limited"
	codeNoActiveCode  = "no_active_code"
	codePairingFailed = "pairing_failed"
	codeRejected      = "rejected"
	codeRefused       = "refused"
	codeRevoked       = "revoked"
	codeProtocol      = "protocol"
	codeInternal      = "internal"
)

// errDaemonInternal is what a client reports for the daemon's "internal"
// error: the daemon failed, not the handshake.
var errDaemonInternal = errors.New("identity: the daemon failed to complete pairing")

var errorCodes = map[string]error{
	codeRateLimited:   ErrRateLimited,
	codeNoActiveCode:  ErrNoActiveCode,
	codePairingFailed: ErrPairingFailed,
	codeRejected:      ErrPairingRejected,
	codeRefused:       ErrPairingRefused,
	codeRevoked:       ErrDeviceRevoked,
	codeProtocol:      ErrProtocol,
	codeInternal:      errDaemonInternal,
}

// errorCodeFor is the wire code the daemon sends for err.
func errorCodeFor(err error) string {
	for _, c := range []string{codeRateLimited, codeNoActiveCode, codePairingFailed, codeRejected, codeRefused, codeRevoked, codeProtocol} {
		if errors.Is(err, errorCodes[c]) {
			return c
		}
	}
	if errors.Is(err, ErrCertificateRevoked) {
		return codeRevoked
	}
	if errors.Is(err, ErrInvalidRequest) {
		return codeProtocol
	}
	return codeInternal
}

// errorTexts are the only texts the daemon puts in an error message:
// fixed, so nothing secret or internal reaches the peer.
var errorTexts = map[string]string{
	codeRateLimited:   "too many pairing attempts; try again later",
	codeNoActiveCode:  "no active pairing code matches",
	codePairingFailed: "pairing failed",
	codeRejected:      "the operator rejected this device",
	codeRefused:       "the daemon refused this device (kind, identity key, or a newer pairing)",
	codeRevoked:       "this device is revoked",
	codeProtocol:      "malformed or unexpected pairing message",
	codeInternal:      "the daemon could not complete pairing",
}

// The messages. Field order is the order Marshal writes; decoders do not
// depend on it.

type helloMsg struct {
	V        int    `json:"v"`
	Type     string `json:"type"`
	Kind     string `json:"kind"`
	DeviceID string `json:"device_id"`
	CodeID   string `json:"code_id"`
	SID      []byte `json:"sid"`
	YA       []byte `json:"ya"`
}

type offer struct {
	YB  []byte `json:"yb"`
	MAC []byte `json:"mac"`
}

type offersMsg struct {
	Type   string  `json:"type"`
	Offers []offer `json:"offers"`
}

type errorMsg struct {
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type confirmMsg struct {
	Type  string `json:"type"`
	Offer int    `json:"offer"`
	MAC   []byte `json:"mac"`
}

// typeOnly is the form of abort, confirmed and pending.
type typeOnly struct {
	Type string `json:"type"`
}

type requestMsg struct {
	Type        string `json:"type"`
	IdentityKey []byte `json:"identity_key"`
	Signature   []byte `json:"signature"`
	CSR         []byte `json:"csr"`
	MAC         []byte `json:"mac"`
}

type grantMsg struct {
	Type       string `json:"type"`
	ClientCert []byte `json:"client_cert"`
	CACert     []byte `json:"ca_cert"`
	MAC        []byte `json:"mac"`
}

// protoErr wraps ErrProtocol with what is wrong.
func protoErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))
}

// checkJSON checks that payload is one JSON object and nothing else, with
// no duplicate key in any object and every key made of [a-z_] only.
// encoding/json alone takes the last of duplicate keys and matches keys
// case-insensitively (Unicode folding included), so two decoders could
// read one message differently; these rules leave one reading.
func checkJSON(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return protoErr("not JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return protoErr("message is not a JSON object")
	}
	if err := checkObject(dec, 1); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return protoErr("trailing data after the message")
	}
	return nil
}

// maxDepth bounds nesting; the deepest message (offers) has depth 3.
const maxDepth = 4

// checkObject reads the rest of an object whose '{' was just read.
func checkObject(dec *json.Decoder, depth int) error {
	seen := map[string]bool{}
	for {
		tok, err := dec.Token()
		if err != nil {
			return protoErr("not JSON: %v", err)
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return nil
		}
		key, ok := tok.(string)
		if !ok {
			return protoErr("object key is not a string")
		}
		if !isWireKey(key) {
			return protoErr("key %q: keys are lower-case letters and '_'", truncate(key, 32))
		}
		if seen[key] {
			return protoErr("duplicate key %q", key)
		}
		seen[key] = true
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
}

func checkValue(dec *json.Decoder, depth int) error {
	tok, err := dec.Token()
	if err != nil {
		return protoErr("not JSON: %v", err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return nil
	}
	if depth >= maxDepth {
		return protoErr("nested too deep")
	}
	switch d {
	case '{':
		return checkObject(dec, depth+1)
	case '[':
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil { // ']'
			return protoErr("not JSON: %v", err)
		}
		return nil
	}
	return protoErr("unexpected %v", d)
}

func isWireKey(k string) bool {
	for i := 0; i < len(k); i++ {
		if !(k[i] >= 'a' && k[i] <= 'z' || k[i] == '_') {
			return false
		}
	}
	return k != ""
}

// messageType reads a checked payload's "type".
func messageType(payload []byte) (string, error) {
	if err := checkJSON(payload); err != nil {
		return "", err
	}
	var env struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(payload, &env); err != nil {
		return "", protoErr("type: %v", err)
	}
	return env.Type, nil
}

// strictDecode decodes a payload already checked by messageType into v,
// refusing unknown fields.
func strictDecode(payload []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return protoErr("%v", err)
	}
	return nil
}

// decodeAs decodes a payload of one of the wanted types into the value
// the matching constructor returns. An error message is returned as the
// daemon's error (mapped to its sentinel) when errorOK.
func decodeAs(payload []byte, errorOK bool, want map[string]any) (string, error) {
	typ, err := messageType(payload)
	if err != nil {
		return "", err
	}
	if typ == msgError && errorOK {
		var e errorMsg
		if err := strictDecode(payload, &e); err != nil {
			return "", err
		}
		return "", daemonError(e)
	}
	v, ok := want[typ]
	if !ok {
		return "", protoErr("unexpected message type %q", truncate(typ, 32))
	}
	if err := strictDecode(payload, v); err != nil {
		return "", err
	}
	return typ, nil
}

// daemonError maps an error message to its sentinel; the daemon's text is
// kept (truncated, quoted) for people, never matched on.
func daemonError(e errorMsg) error {
	sentinel, ok := errorCodes[e.Code]
	if !ok {
		return protoErr("unknown error code %q", truncate(e.Code, 32))
	}
	return fmt.Errorf("%w (daemon says %q)", sentinel, truncate(e.Message, maxErrorText))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func checkLen(name string, b []byte, n int) error {
	if len(b) != n {
		return protoErr("%s is %d bytes, want %d", name, len(b), n)
	}
	return nil
}

// decodeHello reads message 1 (client → daemon).
func decodeHello(payload []byte) (*helloMsg, error) {
	var m helloMsg
	if _, err := decodeAs(payload, false, map[string]any{msgHello: &m}); err != nil {
		return nil, err
	}
	if m.V != pairingVersion {
		return nil, protoErr("version %d, want %d", m.V, pairingVersion)
	}
	if _, err := ParseClientKind(m.Kind); err != nil {
		return nil, protoErr("kind %q is not cli, desktop or node", truncate(m.Kind, 32))
	}
	if !isCanonicalULID(m.DeviceID) {
		return nil, protoErr("device_id is not a canonical ULID")
	}
	if m.CodeID != "" && !isCanonicalULID(m.CodeID) {
		return nil, protoErr("code_id is neither empty nor a canonical ULID")
	}
	if err := checkLen("sid", m.SID, sidSize); err != nil {
		return nil, err
	}
	if err := checkLen("ya", m.YA, cpace.PointSize); err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeOffers reads message 2 (daemon → client): offers or an error.
func decodeOffers(payload []byte) (*offersMsg, error) {
	var m offersMsg
	if _, err := decodeAs(payload, true, map[string]any{msgOffers: &m}); err != nil {
		return nil, err
	}
	if len(m.Offers) == 0 || len(m.Offers) > maxOffers {
		return nil, protoErr("%d offers, want 1 to %d", len(m.Offers), maxOffers)
	}
	for i, o := range m.Offers {
		if err := checkLen(fmt.Sprintf("offer %d yb", i), o.YB, cpace.PointSize); err != nil {
			return nil, err
		}
		if err := checkLen(fmt.Sprintf("offer %d mac", i), o.MAC, macSize); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

// decodeConfirm reads message 3 (client → daemon): a confirm, or nil for
// an abort (the client found no offer it could confirm).
func decodeConfirm(payload []byte, offers int) (*confirmMsg, error) {
	var m confirmMsg
	var a typeOnly
	typ, err := decodeAs(payload, false, map[string]any{msgConfirm: &m, msgAbort: &a})
	if err != nil {
		return nil, err
	}
	if typ == msgAbort {
		return nil, nil
	}
	if m.Offer < 0 || m.Offer >= offers {
		return nil, protoErr("offer %d out of range [0, %d)", m.Offer, offers)
	}
	if err := checkLen("mac", m.MAC, macSize); err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeConfirmed reads message 4 (daemon → client).
func decodeConfirmed(payload []byte) error {
	var m typeOnly
	_, err := decodeAs(payload, true, map[string]any{msgConfirmed: &m})
	return err
}

// decodeRequest reads message 5 (client → daemon).
func decodeRequest(payload []byte) (*requestMsg, error) {
	var m requestMsg
	if _, err := decodeAs(payload, false, map[string]any{msgRequest: &m}); err != nil {
		return nil, err
	}
	if err := checkLen("identity_key", m.IdentityKey, 32); err != nil {
		return nil, err
	}
	if err := checkLen("signature", m.Signature, 64); err != nil {
		return nil, err
	}
	if len(m.CSR) == 0 || len(m.CSR) > maxCSR {
		return nil, protoErr("csr is %d bytes, want 1 to %d", len(m.CSR), maxCSR)
	}
	if err := checkLen("mac", m.MAC, macSize); err != nil {
		return nil, err
	}
	return &m, nil
}

// decodeGrant reads message 6 (daemon → client): a grant, nil for a
// pending notice (more follows), or the daemon's error.
func decodeGrant(payload []byte) (*grantMsg, error) {
	var m grantMsg
	var p typeOnly
	typ, err := decodeAs(payload, true, map[string]any{msgGrant: &m, msgPending: &p})
	if err != nil {
		return nil, err
	}
	if typ == msgPending {
		return nil, nil
	}
	if len(m.ClientCert) == 0 || len(m.CACert) == 0 {
		return nil, protoErr("grant without a certificate")
	}
	if err := checkLen("mac", m.MAC, macSize); err != nil {
		return nil, err
	}
	return &m, nil
}

// frameConn reads and writes frames on rw under a context: an rw with
// SetDeadline (a net.Conn) gets the context's deadline and is unblocked
// when the context ends; another rw that is an io.Closer is closed then.
type frameConn struct {
	rw  io.ReadWriter
	hdr [4]byte
}

type deadliner interface {
	SetDeadline(time.Time) error
}

// run runs f with ctx governing rw, and reports the context's error when
// it ended the operation.
func (c *frameConn) run(ctx context.Context, what string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("identity: pairing %s: %w", what, context.Cause(ctx))
	}
	dl, hasDL := ctx.Deadline()
	switch rw := c.rw.(type) {
	case deadliner:
		if err := rw.SetDeadline(dl); err != nil {
			return fmt.Errorf("identity: pairing %s: set deadline: %w", what, err)
		}
		stop := context.AfterFunc(ctx, func() { rw.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	case io.Closer:
		stop := context.AfterFunc(ctx, func() { rw.Close() })
		defer stop()
	}
	err := f()
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("identity: pairing %s: %w", what, context.Cause(ctx))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) && hasDL && !time.Now().Before(dl) {
		// The conn's deadline fired before the context's timer did.
		return fmt.Errorf("identity: pairing %s: %w", what, context.DeadlineExceeded)
	}
	return err
}

// read reads one frame's payload.
func (c *frameConn) read(ctx context.Context, what string) ([]byte, error) {
	var payload []byte
	err := c.run(ctx, "reading "+what, func() error {
		var err error
		payload, err = readFrame(c.rw, c.hdr[:])
		return err
	})
	return payload, err
}

// write writes v as one frame.
func (c *frameConn) write(ctx context.Context, what string, v any) error {
	frame, err := encodeFrame(v)
	if err != nil {
		return err
	}
	return c.run(ctx, "writing "+what, func() error {
		if _, err := c.rw.Write(frame); err != nil {
			return fmt.Errorf("identity: pairing writing %s: %w", what, err)
		}
		return nil
	})
}

// readFrame reads a u32 big-endian length and that many payload bytes. A
// length above maxFrame is refused before the payload is allocated.
func readFrame(r io.Reader, hdr []byte) ([]byte, error) {
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, protoErr("truncated frame header")
		}
		return nil, fmt.Errorf("identity: pairing: reading frame: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n > maxFrame {
		return nil, protoErr("frame of %d bytes exceeds %d", n, maxFrame)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil, protoErr("truncated frame (%d bytes announced)", n)
		}
		return nil, fmt.Errorf("identity: pairing: reading frame: %w", err)
	}
	return payload, nil
}

// encodeFrame marshals v and prepends its length.
func encodeFrame(v any) ([]byte, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("identity: pairing: encoding message: %w", err)
	}
	if len(payload) > maxFrame {
		return nil, fmt.Errorf("identity: pairing: message of %d bytes exceeds the %d-byte frame limit", len(payload), maxFrame)
	}
	frame := make([]byte, 4+len(payload))
	binary.BigEndian.PutUint32(frame, uint32(len(payload)))
	copy(frame[4:], payload)
	return frame, nil
}
