package faultclient

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// listRequest is a well-formed request (list) of protocol version 1.
var listRequest = []byte(`{"v":1,"id":1,"type":"list"}`)

// ListRequest returns a well-formed request (list), for a stream that
// must get a normal answer.
func ListRequest() []byte { return append([]byte(nil), listRequest...) }

// Frame returns payload with its big-endian uint32 length prefix.
func Frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

// Dialer dials from one UDP socket of its own, so its address is known
// before the handshake: a test finds the server's log record of a refused
// handshake by it ("remote"), even when the handshake never completes.
type Dialer struct {
	udp *net.UDPConn
	tr  *quic.Transport
}

// NewDialer opens a UDP socket on 127.0.0.1; t's cleanup closes it.
func NewDialer(t testing.TB) *Dialer {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &Dialer{udp: udp, tr: &quic.Transport{Conn: udp}}
	t.Cleanup(func() {
		d.tr.Close()
		udp.Close()
	})
	return d
}

// Addr is the dialer's address, as the server logs it ("remote").
func (d *Dialer) Addr() string { return d.udp.LocalAddr().String() }

// Dial connects to addr with conf as it is (no check of what the server
// negotiated), the handshake bounded by ctx.
func (d *Dialer) Dial(ctx context.Context, addr string, conf *tls.Config) (*quic.Conn, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	return d.tr.Dial(ctx, ua, conf, &quic.Config{
		HandshakeIdleTimeout: 2 * time.Second,
		MaxIdleTimeout:       10 * time.Second,
		KeepAlivePeriod:      time.Second,
		MaxIncomingStreams:   -1,
	})
}

// Request dials addr with conf, sends one well-formed request and reads
// the answer. It returns an error unless an answer frame came back: a
// refused handshake fails it, in Dial or (TLS 1.3: the client finishes
// before the server has checked its certificate) on the stream.
func (d *Dialer) Request(ctx context.Context, addr string, conf *tls.Config) ([]byte, error) {
	qc, err := d.Dial(ctx, addr, conf)
	if err != nil {
		return nil, err
	}
	defer qc.CloseWithError(0, "")
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := st.Write(Frame(listRequest)); err != nil {
		return nil, err
	}
	st.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetReadDeadline(dl)
	}
	return readFrame(st)
}

// ReadAnswer reads one frame from st within timeout and returns its
// payload; a length over 16 MiB is an error (no server of ours sends it).
func ReadAnswer(st *quic.Stream, timeout time.Duration) ([]byte, error) {
	_ = st.SetReadDeadline(time.Now().Add(timeout))
	return readFrame(st)
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 16<<20 {
		return nil, fmt.Errorf("faultclient: answer of %d bytes", n)
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(r, buf)
	return buf, err
}

// BadStream is one way to misbehave on a stream: what a server must
// refuse with an error answer on that stream and a logged reason, keeping
// the connection.
type BadStream struct {
	Name string
	// Write misbehaves on st.
	Write func(st *quic.Stream) error
	// TooLarge: the server must refuse on the length prefix alone, before
	// any payload arrives or is allocated (frame_too_large). Otherwise the
	// frame arrives whole and does not decode (bad_request).
	TooLarge bool
}

// BadStreams are the ways a client misbehaves on a stream against a
// server whose frame limit is maxFrame (transport.MaxFrameSize).
func BadStreams(maxFrame uint32) []BadStream {
	frame := func(payload []byte) func(st *quic.Stream) error {
		return func(st *quic.Stream) error {
			if _, err := st.Write(Frame(payload)); err != nil {
				return err
			}
			return st.Close()
		}
	}
	random := make([]byte, 64)
	rand.Read(random)
	return []BadStream{
		// No payload follows a prefix over the limit: a server waiting
		// for (or allocating) it would time out instead of answering.
		{"oversize length prefix", func(st *quic.Stream) error {
			_, err := st.Write(binary.BigEndian.AppendUint32(nil, maxFrame+1))
			return err
		}, true},
		{"4 GiB length prefix", func(st *quic.Stream) error {
			_, err := st.Write([]byte{0xff, 0xff, 0xff, 0xff})
			return err
		}, true},
		// Text where a frame belongs: "GET " read as a length is ~1.2 GB.
		{"plain text instead of a frame", func(st *quic.Stream) error {
			_, err := st.Write([]byte("GET / HTTP/1.1\r\nHost: daemon\r\n\r\n"))
			return err
		}, true},
		{"garbage payload", frame([]byte("\x00\x01garbage{{{")), false},
		{"random payload", frame(random), false},
		{"unknown field", frame([]byte(`{"v":1,"id":1,"type":"list","admin":true}`)), false},
		{"wrong version", frame([]byte(`{"v":2,"id":1,"type":"list"}`)), false},
		{"data after the request", func(st *quic.Stream) error {
			if _, err := st.Write(append(Frame(listRequest), "more"...)); err != nil {
				return err
			}
			return st.Close()
		}, false},
	}
}

// Stall leaves the i-th stream of a stalling client unfinished, in one of
// four ways by i%4: nothing written at all, half a length prefix, a
// prefix and half its payload, a whole request on a stream never closed.
// A stream with nothing written reaches the server only when a later
// stream of the connection carries data (QUIC opens the streams below it
// implicitly), so a caller stalls at least two.
func Stall(st *quic.Stream, i int) error {
	var err error
	switch i % 4 {
	case 0:
	case 1:
		_, err = st.Write([]byte{0, 0})
	case 2:
		_, err = st.Write([]byte{0, 0, 0, 10, '{', '"'})
	case 3:
		_, err = st.Write(Frame(listRequest))
	}
	return err
}

// ErrNotReset: a stalled stream was answered or closed normally instead of
// being reset.
var ErrNotReset = errors.New("faultclient: the stream was not reset")

// WaitReset reads st until the server resets it, within timeout, and
// returns the reset's code.
func WaitReset(st *quic.Stream, timeout time.Duration) (quic.StreamErrorCode, error) {
	_ = st.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, st)
	var se *quic.StreamError
	if errors.As(err, &se) && se.Remote {
		return se.ErrorCode, nil
	}
	if err == nil {
		err = ErrNotReset
	}
	return 0, err
}
