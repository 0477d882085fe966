package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
)

// FuzzReadFrame: ReadFrame never returns more than MaxFrameSize bytes,
// returns exactly the bytes its prefix announces, and fails with the
// right error otherwise.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{})
	f.Add(frame(0, ""))
	f.Add(frame(5, "hello"))
	f.Add(frame(5, "hel"))
	f.Add(frame(MaxFrameSize+1, ""))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ReadFrame(bytes.NewReader(data))
		if len(data) < 4 {
			if err != io.EOF && err != io.ErrUnexpectedEOF {
				t.Fatalf("%d bytes: err = %v", len(data), err)
			}
			return
		}
		n := binary.BigEndian.Uint32(data)
		switch {
		case n > MaxFrameSize:
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("length %d: err = %v, want ErrFrameTooLarge", n, err)
			}
		case int(n) > len(data)-4:
			if err != io.ErrUnexpectedEOF {
				t.Fatalf("length %d of %d: err = %v", n, len(data)-4, err)
			}
		default:
			if err != nil || !bytes.Equal(got, data[4:4+n]) {
				t.Fatalf("length %d: %q, %v", n, got, err)
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, got); err != nil || !bytes.Equal(buf.Bytes(), data[:4+n]) {
				t.Fatalf("re-encoding differs: %v", err)
			}
		}
	})
}

var messageSeeds = []string{
	`{"v":1,"id":1,"type":"list"}`,
	`{"v":1,"id":2,"type":"info","info":{"skill":"acme.echo"}}`,
	`{"v":1,"id":4,"type":"renew","renew":{"csr":"MIIB"}}`,
	`{"v":1,"id":5,"type":"offer","offer":{"skills":[{"id":"acme.echo","version":"1.0.0","digest":"sha256:ab"}]}}`,
	`{"v":1,"id":6,"type":"offer","offer":{"skills":[]}}`,
	`{"v":1,"id":7,"type":"call","call":{"skill":"s","tool":"t","version":"1.0.0","digest":"sha256:ab"}}`,
	`{"v":1,"id":3,"type":"call","call":{"skill":"s","tool":"t","input":"AAEC","timeout_ms":1500,"report":true}}`,
	`{"v":1,"id":1,"type":"result","result":{"output":"e30=","data":{"a":[1,2]}}}`,
	`{"v":1,"id":0,"type":"error","error":{"code":"bad_request","message":"m","exit_code":2,"detail":{"x":null}}}`,
	`{"v":1,"id":1,"id":1,"type":"list"}`,
	`{"V":1,"id":1,"type":"list"}`,
	`{"v":1,"id":1,"type":"list"} `,
	`{"v":1,"id":1,"type":"list"}{}`,
	"{\"v\":1,\"id\":1,\"type\":\"info\",\"info\":{\"skill\":\"\xff\"}}",
}

// FuzzDecodeRequest: the decoder never panics, fails only with
// ErrBadMessage, and what it accepts re-encodes to a message it accepts
// again with the same meaning (encoding is a fixed point after one round).
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := DecodeRequest(data)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error not wrapping ErrBadMessage: %v", err)
			}
			return
		}
		enc, err := EncodeRequest(req)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		again, err := DecodeRequest(enc)
		if err != nil {
			t.Fatalf("own encoding %s refused: %v", enc, err)
		}
		enc2, err := EncodeRequest(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s (%v)", enc, enc2, err)
		}
	})
}

// FuzzDecodeResponse is FuzzDecodeRequest for responses.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := DecodeResponse(data)
		if err != nil {
			if !errors.Is(err, ErrBadMessage) {
				t.Fatalf("error not wrapping ErrBadMessage: %v", err)
			}
			return
		}
		enc, err := EncodeResponse(resp)
		if err != nil {
			t.Fatalf("accepted %q but cannot encode it: %v", data, err)
		}
		again, err := DecodeResponse(enc)
		if err != nil {
			t.Fatalf("own encoding %s refused: %v", enc, err)
		}
		enc2, err := EncodeResponse(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s (%v)", enc, enc2, err)
		}
	})
}

// FuzzDecodeAgainstReference: the fast envelope decoder accepts nothing
// the slow token-by-token reference refuses, and decodes what it accepts
// the same way. The reference accepts a little more: keys spelled with
// escapes ("\u0076" for "v"), which the fast one refuses.
func FuzzDecodeAgainstReference(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"v":1,"id":1,"type":"list","\u0076":1}`))
	f.Add([]byte(`{"v":1,"id":1,"type":"result","result":{"data":{"A":null,"A":1}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ferr := decodeEnvelope(data)
		ref, rerr := decodeEnvelopeReference(data)
		switch {
		case ferr == nil && rerr != nil:
			t.Fatalf("fast decoder accepted %q, the reference refuses it: %v", data, rerr)
		case ferr == nil && !reflect.DeepEqual(fast, ref):
			t.Fatalf("decoders differ on %q:\nfast %+v\nref  %+v", data, fast, ref)
		case ferr != nil && rerr == nil && !bytes.Contains(data, []byte{'\\'}):
			t.Fatalf("fast decoder refused %q (%v), the reference accepts it", data, ferr)
		}
	})
}
