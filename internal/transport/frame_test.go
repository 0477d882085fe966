package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func frame(n uint32, payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, n)
	return append(b, payload...)
}

func TestReadFrame(t *testing.T) {
	cases := []struct {
		name    string
		in      []byte
		want    string
		wantErr error
	}{
		{"empty stream", nil, "", io.EOF},
		{"empty payload", frame(0, ""), "", nil},
		{"payload", frame(5, "hello"), "hello", nil},
		{"only the frame is read", frame(2, "hiTRAILING"), "hi", nil},
		{"half a prefix", []byte{0, 0}, "", io.ErrUnexpectedEOF},
		{"payload cut short", frame(5, "hel"), "", io.ErrUnexpectedEOF},
		{"prefix without payload", frame(3, ""), "", io.ErrUnexpectedEOF},
		{"one over the limit", frame(MaxFrameSize+1, ""), "", ErrFrameTooLarge},
		{"4 GiB", frame(0xffffffff, "x"), "", ErrFrameTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadFrame(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && string(got) != tc.want {
				t.Errorf("payload = %q, want %q", got, tc.want)
			}
		})
	}
}

// prefixOnly yields its bytes and fails the test if read past them: an
// oversize length must be refused on the prefix alone.
type prefixOnly struct {
	t *testing.T
	b []byte
}

func (p *prefixOnly) Read(b []byte) (int, error) {
	if len(p.b) == 0 {
		p.t.Fatal("ReadFrame read past the length prefix of an oversize frame")
	}
	n := copy(b, p.b)
	p.b = p.b[n:]
	return n, nil
}

func TestReadFrameRefusesOversizeOnThePrefix(t *testing.T) {
	_, err := ReadFrame(&prefixOnly{t: t, b: frame(MaxFrameSize+1, "")})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("err = %v, want ErrFrameTooLarge", err)
	}
	// And at the limit it reads the whole payload.
	payload := bytes.Repeat([]byte{'a'}, MaxFrameSize)
	got, err := ReadFrame(bytes.NewReader(frame(MaxFrameSize, string(payload))))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("frame of exactly MaxFrameSize: %d bytes, %v", len(got), err)
	}
}

// countingWriter records each Write call.
type countingWriter struct{ writes [][]byte }

func (w *countingWriter) Write(b []byte) (int, error) {
	w.writes = append(w.writes, bytes.Clone(b))
	return len(b), nil
}

func TestWriteFrame(t *testing.T) {
	var w countingWriter
	if err := WriteFrame(&w, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if len(w.writes) != 1 || !bytes.Equal(w.writes[0], frame(5, "hello")) {
		t.Errorf("writes = %q, want one write of the whole frame", w.writes)
	}
	w.writes = nil
	if err := WriteFrame(&w, make([]byte, MaxFrameSize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversize payload: %v, want ErrFrameTooLarge", err)
	}
	if len(w.writes) != 0 {
		t.Errorf("oversize payload wrote %d times", len(w.writes))
	}
	// What WriteFrame writes, ReadFrame reads back.
	var buf bytes.Buffer
	for _, p := range []string{"", "a", "second frame"} {
		if err := WriteFrame(&buf, []byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"", "a", "second frame"} {
		got, err := ReadFrame(&buf)
		if err != nil || string(got) != p {
			t.Fatalf("read back %q, %v; want %q", got, err, p)
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Errorf("after the last frame: %v, want io.EOF", err)
	}
}
