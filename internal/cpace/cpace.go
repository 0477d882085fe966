package cpace

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"github.com/gtank/ristretto255"
)

const (
	// DSI is the domain separation identifier of G_Ristretto255.
	DSI = "CPaceRistretto255"
	// dsiISK separates the ISK hash from the generator hash.
	dsiISK = DSI + "_ISK"
	// hashBlockSize is SHA-512's input block size (H.s_in_bytes).
	hashBlockSize = 128
	// PointSize is the length of an encoded ristretto255 element, which is
	// the length of every CPace message produced by Start.
	PointSize = 32
	// ISKSize is the length of the intermediate session key (SHA-512).
	ISKSize = sha512.Size
)

// Role selects the transcript the ISK is computed over.
type Role int

const (
	// Initiator is party A in the initiator-responder setting
	// (transcript_ir, A's message first).
	Initiator Role = iota + 1
	// Responder is party B in the initiator-responder setting.
	Responder
	// Symmetric is for flows without fixed roles: the transcript is the
	// ordered concatenation transcript_oc, so both sides agree whatever
	// order messages arrive in.
	Symmetric
)

var (
	// ErrInvalidPoint reports a peer share that does not decode as a
	// ristretto255 element or yields the identity; the draft requires
	// aborting the session.
	ErrInvalidPoint = errors.New("cpace: invalid peer point")
	// ErrFinished reports a second Finish on a State.
	ErrFinished = errors.New("cpace: state already used")
	// ErrRole reports an unknown Role value.
	ErrRole = errors.New("cpace: unknown role")
)

// State holds one party's secret scalar between Start and Finish.
type State struct {
	role Role
	sid  []byte
	ad   []byte
	y    *ristretto255.Scalar
	msg  []byte
	done bool
}

// Start begins a CPace session: it derives the generator from the password
// related string prs, the channel identifier ci and the session id sid,
// samples a secret scalar and returns the state and the public share to send
// to the peer together with ad (the associated data, sent in the clear).
func Start(prs, ci, sid, ad []byte, role Role) (*State, []byte, error) {
	return start(rand.Reader, prs, ci, sid, ad, role)
}

// StartWithRand is Start drawing the secret scalar from rnd instead of
// crypto/rand. The same bytes give the same scalar, so a party that must
// answer several peer shares with its one share (a pairing client facing
// one offer per candidate code) restarts from the same bytes for each
// share, and tests can know a party's scalar. In production rnd must be
// bytes read once from crypto/rand and kept secret like the scalar.
func StartWithRand(rnd io.Reader, prs, ci, sid, ad []byte, role Role) (*State, []byte, error) {
	return start(rnd, prs, ci, sid, ad, role)
}

// start is Start with an injectable randomness source; tests feed the
// draft's scalars through it.
func start(rnd io.Reader, prs, ci, sid, ad []byte, role Role) (*State, []byte, error) {
	if role != Initiator && role != Responder && role != Symmetric {
		return nil, nil, fmt.Errorf("%w: %d", ErrRole, role)
	}
	y, err := sampleScalar(rnd)
	if err != nil {
		return nil, nil, err
	}
	g := calculateGenerator(prs, ci, sid)
	msg := ristretto255.NewElement().ScalarMult(y, g).Encode(nil)
	st := &State{
		role: role,
		sid:  bytes.Clone(sid),
		ad:   bytes.Clone(ad),
		y:    y,
		msg:  msg,
	}
	return st, bytes.Clone(msg), nil
}

// Finish verifies the peer's share peerMsg and returns the ISK. It fails with
// ErrInvalidPoint when the share is malformed or degenerate. Finish is
// single use: after any call, successful or not, further calls fail with
// ErrFinished and the session must be restarted.
func (s *State) Finish(peerMsg, peerAD []byte) ([]byte, error) {
	if s.done {
		return nil, ErrFinished
	}
	// Burn the state whatever the outcome: the draft says to abort on a bad
	// share, and one scalar must never answer two peer shares.
	s.done = true
	k, err := scalarMultVfy(s.y, peerMsg)
	s.y.Zero()
	if err != nil {
		return nil, err
	}
	var tr []byte
	switch s.role {
	case Initiator:
		tr = transcriptIR(s.msg, s.ad, peerMsg, peerAD)
	case Responder:
		tr = transcriptIR(peerMsg, peerAD, s.msg, s.ad)
	default:
		tr = transcriptOC(s.msg, s.ad, peerMsg, peerAD)
	}
	return deriveISK(s.sid, k, tr), nil
}

// sampleScalar implements the draft's recommended G.sample_scalar: 32
// random bytes with the bits above group_size_bits (252) cleared, read as a
// little-endian integer. Such values are below the group order, so the
// encoding is canonical. Zero is resampled.
func sampleScalar(rnd io.Reader) (*ristretto255.Scalar, error) {
	var b [32]byte
	for {
		if _, err := io.ReadFull(rnd, b[:]); err != nil {
			return nil, fmt.Errorf("cpace: sampling scalar: %w", err)
		}
		b[31] &= 0x0f
		y := ristretto255.NewScalar()
		if err := y.Decode(b[:]); err != nil {
			return nil, fmt.Errorf("cpace: sampling scalar: %w", err)
		}
		if y.Equal(ristretto255.NewScalar()) == 0 {
			return y, nil
		}
	}
}

// scalarMultVfy is G.scalar_mult_vfy with the abort folded in: it returns
// the encoding of y*decode(X), or ErrInvalidPoint if X does not decode or
// the result is the identity.
func scalarMultVfy(y *ristretto255.Scalar, x []byte) ([]byte, error) {
	p := ristretto255.NewElement()
	if err := p.Decode(x); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPoint, err)
	}
	k := ristretto255.NewElement().ScalarMult(y, p)
	if k.Equal(ristretto255.NewElement().Zero()) == 1 {
		return nil, fmt.Errorf("%w: identity", ErrInvalidPoint)
	}
	return k.Encode(nil), nil
}

// calculateGenerator is G.calculate_generator for ristretto255 / SHA-512.
func calculateGenerator(prs, ci, sid []byte) *ristretto255.Element {
	h := sha512.Sum512(generatorString([]byte(DSI), prs, ci, sid, hashBlockSize))
	return ristretto255.NewElement().FromUniformBytes(h[:])
}

// generatorString pads PRS with zeros so that DSI and PRS fill the first
// hash block, as the draft specifies.
func generatorString(dsi, prs, ci, sid []byte, sInBytes int) []byte {
	zpad := max(0, sInBytes-1-len(prependLen(prs))-len(prependLen(dsi)))
	return lvCat(dsi, prs, make([]byte, zpad), ci, sid)
}

// deriveISK is H.hash(lv_cat(DSI||"_ISK", sid, K) || transcript).
func deriveISK(sid, k, transcript []byte) []byte {
	h := sha512.New()
	h.Write(lvCat([]byte(dsiISK), sid, k))
	h.Write(transcript)
	return h.Sum(nil)
}

// prependLen prefixes data with the LEB128 encoding of its length.
func prependLen(data []byte) []byte {
	n := uint64(len(data))
	var out []byte
	for {
		if n < 128 {
			out = append(out, byte(n))
		} else {
			out = append(out, byte(n&0x7f)|0x80)
		}
		n >>= 7
		if n == 0 {
			break
		}
	}
	return append(out, data...)
}

// lvCat concatenates its arguments, each prefixed with its length.
func lvCat(args ...[]byte) []byte {
	var out []byte
	for _, a := range args {
		out = append(out, prependLen(a)...)
	}
	return out
}

// lexicographicallyLarger reports a > b in the draft's byte ordering (a
// longer string with an equal prefix is larger).
func lexicographicallyLarger(a, b []byte) bool {
	return bytes.Compare(a, b) > 0
}

// oCat is the draft's ordered concatenation: "oc" then the larger string.
func oCat(a, b []byte) []byte {
	out := []byte("oc")
	if lexicographicallyLarger(a, b) {
		return append(append(out, a...), b...)
	}
	return append(append(out, b...), a...)
}

func transcriptIR(ya, ada, yb, adb []byte) []byte {
	return append(lvCat(ya, ada), lvCat(yb, adb)...)
}

func transcriptOC(ya, ada, yb, adb []byte) []byte {
	return oCat(lvCat(ya, ada), lvCat(yb, adb))
}
