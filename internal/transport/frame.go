package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// MaxFrameSize is the largest frame payload either side sends or accepts:
// 512 KiB, as in Palyra.
const MaxFrameSize = 512 << 10

// frameHeaderSize is the length prefix: a big-endian uint32.
const frameHeaderSize = 4

// ErrFrameTooLarge: a frame's length prefix (or a payload to send) is over
// MaxFrameSize. ReadFrame returns it after reading only the prefix, so an
// oversize length costs no allocation.
var ErrFrameTooLarge = errors.New("transport: frame too large")

// ReadFrame reads one frame, a big-endian uint32 length and that many bytes
// of payload, from r. It returns io.EOF only when r ends before the first
// byte; a frame cut short anywhere else is io.ErrUnexpectedEOF. The
// payload buffer is allocated only once the length has been checked
// against MaxFrameSize.
//
// ReadFrame itself has no timeout: callers reading from a peer set a read
// deadline on the stream first (the server and Conn.Call do).
func ReadFrame(r io.Reader) ([]byte, error) {
	var hdr [frameHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrameSize {
		return nil, fmt.Errorf("%w: length prefix %d, limit %d", ErrFrameTooLarge, n, MaxFrameSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf, nil
}

// WriteFrame writes payload as one frame with a single Write call, so a
// stream never carries a length prefix without its payload because of a
// split write. A payload over MaxFrameSize is refused before anything is
// written.
func WriteFrame(w io.Writer, payload []byte) error {
	if len(payload) > MaxFrameSize {
		return fmt.Errorf("%w: payload of %d bytes, limit %d", ErrFrameTooLarge, len(payload), MaxFrameSize)
	}
	buf := make([]byte, frameHeaderSize+len(payload))
	binary.BigEndian.PutUint32(buf, uint32(len(payload)))
	copy(buf[frameHeaderSize:], payload)
	_, err := w.Write(buf)
	return err
}
