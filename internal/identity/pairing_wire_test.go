package identity

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func validHello() helloMsg {
	return helloMsg{V: 1, Type: msgHello, Kind: "cli", DeviceID: testCodeID, CodeID: "", SID: bytes.Repeat([]byte{1}, 16), YA: bytes.Repeat([]byte{2}, 32)}
}

func validOffers(n int) offersMsg {
	m := offersMsg{Type: msgOffers}
	for i := 0; i < n; i++ {
		m.Offers = append(m.Offers, offer{YB: bytes.Repeat([]byte{3}, 32), MAC: bytes.Repeat([]byte{4}, 32)})
	}
	return m
}

func validRequest() requestMsg {
	return requestMsg{Type: msgRequest, IdentityKey: bytes.Repeat([]byte{5}, 32), Signature: bytes.Repeat([]byte{6}, 64), CSR: []byte{0x30, 1, 2}, MAC: bytes.Repeat([]byte{7}, 32)}
}

func validGrant() grantMsg {
	return grantMsg{Type: msgGrant, ClientCert: []byte{0x30, 1}, CACert: []byte{0x30, 2}, MAC: bytes.Repeat([]byte{8}, 32)}
}

// errReader fails the test if the payload of a refused frame is read.
type headerOnly struct {
	hdr  []byte
	read int
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if h.read >= len(h.hdr) {
		return 0, errors.New("payload read after an oversize header")
	}
	n := copy(p, h.hdr[h.read:])
	h.read += n
	return n, nil
}

func TestReadFrame(t *testing.T) {
	hdr := func(n uint32) []byte {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], n)
		return b[:]
	}
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"empty payload", hdr(0), []byte{}, nil},
		{"payload", append(hdr(3), "abc"...), []byte("abc"), nil},
		{"largest", append(hdr(maxFrame), make([]byte, maxFrame)...), make([]byte, maxFrame), nil},
		{"one over", append(hdr(maxFrame+1), make([]byte, maxFrame+1)...), nil, ErrProtocol},
		{"truncated header", []byte{0, 0}, nil, ErrProtocol},
		{"truncated payload", append(hdr(10), "abc"...), nil, ErrProtocol},
		{"no frame", nil, nil, io.EOF},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h [4]byte
			got, err := readFrame(bytes.NewReader(tc.in), h[:])
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %d bytes, %v", len(got), err)
			}
		})
	}
}

func TestOversizeFrameRefusedBeforeAllocation(t *testing.T) {
	for _, n := range []uint32{maxFrame + 1, 1 << 30, 0xffffffff} {
		var h [4]byte
		r := &headerOnly{hdr: binary.BigEndian.AppendUint32(nil, n)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := readFrame(r, h[:])
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrProtocol) {
			t.Fatalf("length %d: %v, want ErrProtocol", n, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
			t.Fatalf("length %d: %d bytes allocated before refusing", n, grew)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"object", `{"type":"abort"}`, true},
		{"whitespace", " {\"type\" : \"abort\"}\n", true},
		{"nested", `{"type":"offers","offers":[{"yb":"","mac":""}]}`, true},
		{"duplicate key", `{"type":"abort","type":"confirm"}`, false},
		{"duplicate nested key", `{"type":"offers","offers":[{"yb":"","yb":""}]}`, false},
		{"upper-case key", `{"Type":"abort"}`, false},
		{"folded key", "{\"\u017fid\":\"\"}", false}, // long s folds to s in encoding/json
		{"kelvin key", "{\"\u212aind\":\"cli\"}", false},
		{"trailing value", `{"type":"abort"}{}`, false},
		{"trailing garbage", `{"type":"abort"}x`, false},
		{"array", `[{"type":"abort"}]`, false},
		{"string", `"abort"`, false},
		{"empty", ``, false},
		{"unterminated", `{"type":"abort"`, false},
		{"too deep", `{"a":[[[[1]]]]}`, false},
		{"empty key", `{"":1}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkJSON([]byte(tc.in))
			if tc.ok != (err == nil) {
				t.Fatalf("checkJSON(%q) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
		})
	}
}

func TestDecodeHello(t *testing.T) {
	edit := func(f func(h *helloMsg)) []byte {
		h := validHello()
		f(&h)
		return mustJSON(t, h)
	}
	tests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"valid pin form", edit(func(h *helloMsg) {}), true},
		{"valid token form", edit(func(h *helloMsg) { h.CodeID = testCodeID2 }), true},
		{"version 0", edit(func(h *helloMsg) { h.V = 0 }), false},
		{"other type", edit(func(h *helloMsg) { h.Type = "confirm" }), false},
		{"kind", edit(func(h *helloMsg) { h.Kind = "CLI" }), false},
		{"device id not ULID", edit(func(h *helloMsg) { h.DeviceID = "device-1" }), false},
		{"device id lower case", edit(func(h *helloMsg) { h.DeviceID = strings.ToLower(testCodeID) }), false},
		{"code id not ULID", edit(func(h *helloMsg) { h.CodeID = "x" }), false},
		{"short sid", edit(func(h *helloMsg) { h.SID = h.SID[:15] }), false},
		{"long ya", edit(func(h *helloMsg) { h.YA = append(h.YA, 0) }), false},
		{"missing ya", []byte(`{"v":1,"type":"hello","kind":"cli","device_id":"` + testCodeID + `","code_id":"","sid":"AQEBAQEBAQEBAQEBAQEBAQ=="}`), false},
		{"unknown field", []byte(`{"v":1,"type":"hello","kind":"cli","device_id":"` + testCodeID + `","code_id":"","sid":"AQEBAQEBAQEBAQEBAQEBAQ==","ya":"AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=","pin":"123456"}`), false},
		{"v as string", []byte(`{"v":"1","type":"hello"}`), false},
		{"v as float", []byte(`{"v":1.0,"type":"hello"}`), false},
		{"error from a client", mustJSON(t, errorMsg{Type: msgError, Code: codeInternal}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeHello(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("decodeHello(%s) = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v is not ErrProtocol", err)
			}
			if err == nil && m.Type != msgHello {
				t.Fatalf("decoded %+v", m)
			}
		})
	}
}

func TestDecodeOffersAndDaemonErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error // nil: valid offers
	}{
		{"one", mustJSON(t, validOffers(1)), nil},
		{"max", mustJSON(t, validOffers(maxOffers)), nil},
		{"none", mustJSON(t, validOffers(0)), ErrProtocol},
		{"too many", mustJSON(t, validOffers(maxOffers+1)), ErrProtocol},
		{"short mac", []byte(`{"type":"offers","offers":[{"yb":"AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM=","mac":"BA=="}]}`), ErrProtocol},
		{"offer unknown field", []byte(`{"type":"offers","offers":[{"yb":"","mac":"","x":1}]}`), ErrProtocol},
		{"rate limited", mustJSON(t, errorMsg{Type: msgError, Code: codeRateLimited, Message: "slow down"}), ErrRateLimited},
		{"no code", mustJSON(t, errorMsg{Type: msgError, Code: codeNoActiveCode}), ErrNoActiveCode},
		{"failed", mustJSON(t, errorMsg{Type: msgError, Code: codePairingFailed}), ErrPairingFailed},
		{"rejected", mustJSON(t, errorMsg{Type: msgError, Code: codeRejected}), ErrPairingRejected},
		{"refused", mustJSON(t, errorMsg{Type: msgError, Code: codeRefused}), ErrPairingRefused},
		{"revoked", mustJSON(t, errorMsg{Type: msgError, Code: codeRevoked}), ErrDeviceRevoked},
		{"protocol", mustJSON(t, errorMsg{Type: msgError, Code: codeProtocol}), ErrProtocol},
		{"internal", mustJSON(t, errorMsg{Type: msgError, Code: codeInternal}), errDaemonInternal},
		{"unknown code", mustJSON(t, errorMsg{Type: msgError, Code: "teapot"}), ErrProtocol},
		{"error with extra field", []byte(`{"type":"error","code":"internal","message":"","stack":""}`), ErrProtocol},
		{"a grant out of order", mustJSON(t, validGrant()), ErrProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeOffers(tc.in)
			if tc.want == nil {
				if err != nil || len(m.Offers) == 0 {
					t.Fatalf("decodeOffers: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("decodeOffers: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestDaemonErrorTextBoundedAndQuoted(t *testing.T) {
	in := mustJSON(t, errorMsg{Type: msgError, Code: codeInternal, Message: strings.Repeat("\x1b[2J", 500)})
	_, err := decodeOffers(in)
	if len(err.Error()) > 2*maxErrorText+200 || strings.Contains(err.Error(), "\x1b") {
		t.Fatalf("daemon text not bounded or not quoted: %d bytes", len(err.Error()))
	}
}

func TestDecodeConfirm(t *testing.T) {
	mac := bytes.Repeat([]byte{9}, 32)
	tests := []struct {
		name  string
		in    []byte
		abort bool
		ok    bool
	}{
		{"confirm", mustJSON(t, confirmMsg{Type: msgConfirm, Offer: 1, MAC: mac}), false, true},
		{"abort", mustJSON(t, typeOnly{Type: msgAbort}), true, true},
		{"abort with field", []byte(`{"type":"abort","offer":0}`), false, false},
		{"offer out of range", mustJSON(t, confirmMsg{Type: msgConfirm, Offer: 2, MAC: mac}), false, false},
		{"negative offer", mustJSON(t, confirmMsg{Type: msgConfirm, Offer: -1, MAC: mac}), false, false},
		{"huge offer", []byte(`{"type":"confirm","offer":1e99,"mac":""}`), false, false},
		{"short mac", mustJSON(t, confirmMsg{Type: msgConfirm, MAC: mac[:31]}), false, false},
		{"hello again", mustJSON(t, validHello()), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeConfirm(tc.in, 2)
			if tc.ok != (err == nil) {
				t.Fatalf("decodeConfirm: %v, want ok=%v", err, tc.ok)
			}
			if err == nil && tc.abort != (m == nil) {
				t.Fatalf("abort = %v, want %v", m == nil, tc.abort)
			}
		})
	}
}

func TestDecodeRequestAndGrant(t *testing.T) {
	req := func(f func(m *requestMsg)) []byte {
		m := validRequest()
		f(&m)
		return mustJSON(t, m)
	}
	grant := func(f func(m *grantMsg)) []byte {
		m := validGrant()
		f(&m)
		return mustJSON(t, m)
	}
	reqTests := []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"valid", req(func(m *requestMsg) {}), true},
		{"short key", req(func(m *requestMsg) { m.IdentityKey = m.IdentityKey[:31] }), false},
		{"short signature", req(func(m *requestMsg) { m.Signature = m.Signature[:63] }), false},
		{"no csr", req(func(m *requestMsg) { m.CSR = nil }), false},
		{"huge csr", req(func(m *requestMsg) { m.CSR = make([]byte, maxCSR+1) }), false},
		{"no mac", req(func(m *requestMsg) { m.MAC = nil }), false},
		{"base64 url alphabet", []byte(`{"type":"request","identity_key":"-_8=","signature":"","csr":"","mac":""}`), false},
	}
	for _, tc := range reqTests {
		t.Run("request/"+tc.name, func(t *testing.T) {
			_, err := decodeRequest(tc.in)
			if tc.ok != (err == nil) {
				t.Fatalf("decodeRequest: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	grantTests := []struct {
		name    string
		in      []byte
		pending bool
		want    error // nil: ok
	}{
		{"valid", grant(func(m *grantMsg) {}), false, nil},
		{"pending", mustJSON(t, typeOnly{Type: msgPending}), true, nil},
		{"no client cert", grant(func(m *grantMsg) { m.ClientCert = nil }), false, ErrProtocol},
		{"no CA", grant(func(m *grantMsg) { m.CACert = nil }), false, ErrProtocol},
		{"short mac", grant(func(m *grantMsg) { m.MAC = m.MAC[:1] }), false, ErrProtocol},
		{"rejected", mustJSON(t, errorMsg{Type: msgError, Code: codeRejected}), false, ErrPairingRejected},
		{"confirmed again", mustJSON(t, typeOnly{Type: msgConfirmed}), false, ErrProtocol},
	}
	for _, tc := range grantTests {
		t.Run("grant/"+tc.name, func(t *testing.T) {
			m, err := decodeGrant(tc.in)
			if tc.want == nil {
				if err != nil || tc.pending != (m == nil) {
					t.Fatalf("decodeGrant: %v, pending %v", err, m == nil)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("decodeGrant: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestEncodeFrameRefusesOversize(t *testing.T) {
	m := validGrant()
	m.ClientCert = make([]byte, maxFrame)
	if _, err := encodeFrame(m); err == nil {
		t.Fatal("an oversize message was framed")
	}
}

// Fuzz targets: every decoder of handshake messages. Each must refuse
// with ErrProtocol (or a daemon sentinel) or return a message that meets
// its checks and survives a re-encoding unchanged.

func fuzzSeeds(f *testing.F, seeds ...any) {
	for _, s := range seeds {
		b, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"type":"error","code":"internal","message":"x"}`))
	f.Add([]byte(`{"type":"abort","type":"abort"}`))
	f.Add([]byte(`{"Type":"abort"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
}

func refusedWell(t *testing.T, err error) {
	t.Helper()
	for _, s := range errorCodes {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v is none of the protocol's sentinels", err)
}

// reencodes checks v survives Marshal and decode into a fresh value.
func reencodes[T any](t *testing.T, v *T, decode func([]byte) (*T, error)) {
	t.Helper()
	again, err := decode(mustJSON(t, v))
	if err != nil || !reflect.DeepEqual(again, v) {
		t.Fatalf("re-encoding %+v: %+v, %v", v, again, err)
	}
}

func FuzzDecodeHello(f *testing.F) {
	h := validHello()
	h2 := validHello()
	h2.CodeID = testCodeID2
	fuzzSeeds(f, h, h2)
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeHello(in)
		if err != nil {
			refusedWell(t, err)
			return
		}
		if len(m.SID) != sidSize || len(m.YA) != 32 || !isCanonicalULID(m.DeviceID) {
			t.Fatalf("accepted %+v", m)
		}
		reencodes(t, m, decodeHello)
	})
}

func FuzzDecodeOffers(f *testing.F) {
	fuzzSeeds(f, validOffers(1), validOffers(3), errorMsg{Type: msgError, Code: codeRateLimited, Message: "m"})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeOffers(in)
		if err != nil {
			refusedWell(t, err)
			return
		}
		if len(m.Offers) == 0 || len(m.Offers) > maxOffers {
			t.Fatalf("accepted %d offers", len(m.Offers))
		}
		reencodes(t, m, decodeOffers)
	})
}

func FuzzDecodeConfirm(f *testing.F) {
	fuzzSeeds(f, confirmMsg{Type: msgConfirm, Offer: 1, MAC: make([]byte, 32)}, typeOnly{Type: msgAbort})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeConfirm(in, 3)
		if err != nil {
			refusedWell(t, err)
			return
		}
		if m != nil {
			if m.Offer < 0 || m.Offer >= 3 || len(m.MAC) != macSize {
				t.Fatalf("accepted %+v", m)
			}
			reencodes(t, m, func(b []byte) (*confirmMsg, error) { return decodeConfirm(b, 3) })
		}
	})
}

func FuzzDecodeConfirmed(f *testing.F) {
	fuzzSeeds(f, typeOnly{Type: msgConfirmed}, errorMsg{Type: msgError, Code: codePairingFailed})
	f.Fuzz(func(t *testing.T, in []byte) {
		if err := decodeConfirmed(in); err != nil {
			refusedWell(t, err)
		}
	})
}

func FuzzDecodeRequest(f *testing.F) {
	fuzzSeeds(f, validRequest())
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeRequest(in)
		if err != nil {
			refusedWell(t, err)
			return
		}
		if len(m.IdentityKey) != 32 || len(m.Signature) != 64 || len(m.CSR) == 0 || len(m.CSR) > maxCSR {
			t.Fatalf("accepted %+v", m)
		}
		reencodes(t, m, decodeRequest)
	})
}

func FuzzDecodeGrant(f *testing.F) {
	fuzzSeeds(f, validGrant(), typeOnly{Type: msgPending}, errorMsg{Type: msgError, Code: codeRejected})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := decodeGrant(in)
		if err != nil {
			refusedWell(t, err)
			return
		}
		if m != nil {
			if len(m.ClientCert) == 0 || len(m.CACert) == 0 || len(m.MAC) != macSize {
				t.Fatalf("accepted %+v", m)
			}
			reencodes(t, m, decodeGrant)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0x40, 0x01})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		var h [4]byte
		p, err := readFrame(bytes.NewReader(in), h[:])
		if err != nil {
			return
		}
		if len(p) > maxFrame || len(in) < 4+len(p) || !bytes.Equal(p, in[4:4+len(p)]) {
			t.Fatalf("read %d bytes from %d", len(p), len(in))
		}
	})
}
