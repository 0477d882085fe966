package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
)

// QUIC application error codes this package closes connections and
// resets streams with.
const (
	codeNoError      quic.ApplicationErrorCode = 0x0
	codeDeviceClosed quic.ApplicationErrorCode = 0x101 // CloseDevice
	codeShutdown     quic.ApplicationErrorCode = 0x102 // the server is going away
	codeRefused      quic.ApplicationErrorCode = 0x103 // refused after the handshake
	codeCertExpired  quic.ApplicationErrorCode = 0x104 // the client certificate's NotAfter passed

	streamBadRequest quic.StreamErrorCode = 0x201 // undecodable request or oversize frame
	streamTimeout    quic.StreamErrorCode = 0x202 // ReadTimeout or WriteTimeout passed
	streamCanceled   quic.StreamErrorCode = 0x203 // the caller gave up
	streamDone       quic.StreamErrorCode = 0x0   // the caller has its response
)

// Errors a caller tells apart when a connection ends under it.
var (
	// ErrDeviceClosed: the server closed the connection because the
	// device was revoked or removed (Server.CloseDevice).
	ErrDeviceClosed = errors.New("transport: connection closed by the server for this device")
	// ErrShutdown: the peer is shutting down.
	ErrShutdown = errors.New("transport: peer shut down")
	// ErrCertificateExpired: the server closed the connection when the
	// client certificate it was opened with expired; redial with the
	// renewed one.
	ErrCertificateExpired = errors.New("transport: connection outlived its client certificate")
	// ErrRefused: the peer refused the handshake (certificate, revocation
	// hook, ALPN). With TLS 1.3 the client finishes its handshake before
	// the server has checked the client certificate, so a client learns
	// of it from Dial or from its first Call.
	ErrRefused = errors.New("transport: connection refused by the peer")
)

// Peer is the verified identity at the other end of a connection.
type Peer struct {
	// DeviceID is the device named by the client certificate
	// (identity.DeviceIDFromCert); empty on the client side, where the
	// peer is the daemon.
	DeviceID string
	// Certificate is the peer's verified leaf certificate.
	Certificate *x509.Certificate
	RemoteAddr  net.Addr
	// Conn is the connection the request came on. A daemon can call a
	// peer that serves requests (a node) back over it.
	Conn *Conn
}

// Handler answers one request. Its context ends when the request's
// timeout passes, the caller gives up, or the connection closes. A
// returned *RemoteError goes to the caller as is; context errors become
// CodeDeadlineExceeded or CodeCanceled, any other error CodeInternal with
// the error's text.
type Handler func(ctx context.Context, peer Peer, req *Request) (*Result, error)

// Conn is one mutually authenticated QUIC connection. Call is safe for
// concurrent use; each call is one stream, and the peer's MaxStreams
// bounds how many run at once (more wait for a stream).
type Conn struct {
	qc     *quic.Conn
	peer   Peer
	limits Limits
	log    *slog.Logger
	nextID atomic.Uint64

	// serving side: what a request handler runs under.
	callTimeout time.Duration
	slots       chan struct{} // nil: unbounded beyond MaxStreams
}

// Peer returns the verified identity of the other end.
func (c *Conn) Peer() Peer { return c.peer }

// TLS returns the connection's TLS state (DidResume, the peer's chain…).
func (c *Conn) TLS() tls.ConnectionState { return c.qc.ConnectionState().TLS }

// Done is closed when the connection has ended, for whatever reason.
func (c *Conn) Done() <-chan struct{} { return c.qc.Context().Done() }

// Close closes the connection; calls in flight fail.
func (c *Conn) Close() error { return c.qc.CloseWithError(codeNoError, "") }

// Call sends req on a new stream and waits for the response. It uses its
// own request id (req is not modified). When ctx has a deadline and a call
// request names no timeout, the time left is sent as the timeout, so the
// server stops when the caller stops waiting. A remote failure is a
// *RemoteError; the end of the connection is ErrDeviceClosed, ErrShutdown
// or ErrRefused where the peer said why.
func (c *Conn) Call(ctx context.Context, req *Request) (*Result, error) {
	r := *req
	r.ID = c.nextID.Add(1)
	if r.Type == TypeCall && r.Call != nil && r.Call.Timeout == 0 {
		if dl, ok := ctx.Deadline(); ok {
			call := *r.Call
			call.Timeout = time.Until(dl)
			if call.Timeout <= 0 {
				return nil, fmt.Errorf("transport: call %s/%s: %w", call.Skill, call.Tool, context.DeadlineExceeded)
			}
			r.Call = &call
		}
	}
	payload, err := EncodeRequest(&r)
	if err != nil {
		return nil, err
	}
	if len(payload) > MaxFrameSize {
		return nil, fmt.Errorf("%w: request of %d bytes, limit %d", ErrFrameTooLarge, len(payload), MaxFrameSize)
	}
	st, err := c.qc.OpenStreamSync(ctx)
	if err != nil {
		return nil, c.callError(ctx, err)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelWrite(streamCanceled)
		st.CancelRead(streamCanceled)
	})
	defer stop()
	_ = st.SetWriteDeadline(time.Now().Add(c.limits.WriteTimeout))
	if err := WriteFrame(st, payload); err != nil {
		st.CancelWrite(streamCanceled)
		st.CancelRead(streamCanceled)
		return nil, c.callError(ctx, err)
	}
	if err := st.Close(); err != nil {
		st.CancelRead(streamCanceled)
		return nil, c.callError(ctx, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = st.SetReadDeadline(dl)
	}
	data, err := ReadFrame(st)
	if err != nil {
		st.CancelRead(streamCanceled)
		return nil, c.callError(ctx, err)
	}
	st.CancelRead(streamDone) // nothing may follow the response; release the stream now
	resp, err := DecodeResponse(data)
	if err != nil {
		return nil, err
	}
	if resp.Error != nil {
		if resp.ID != r.ID && resp.ID != 0 {
			return nil, fmt.Errorf("%w: response id %d to request %d", ErrBadMessage, resp.ID, r.ID)
		}
		return nil, resp.Error
	}
	if resp.ID != r.ID {
		return nil, fmt.Errorf("%w: response id %d to request %d", ErrBadMessage, resp.ID, r.ID)
	}
	return resp.Result, nil
}

// callError names why a call failed: the caller's context, the peer's
// reason for closing the connection, or the underlying error.
func (c *Conn) callError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("transport: call: %w", ctxErr)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("transport: call: %w", context.DeadlineExceeded)
	}
	return fmt.Errorf("transport: call: %w", classify(err))
}

// classify maps the QUIC error that ended a connection to this package's
// sentinels, keeping the original in the chain.
func classify(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote {
		switch ae.ErrorCode {
		case codeDeviceClosed:
			return fmt.Errorf("%w (%s): %w", ErrDeviceClosed, ae.ErrorMessage, err)
		case codeShutdown:
			return fmt.Errorf("%w: %w", ErrShutdown, err)
		case codeRefused:
			return fmt.Errorf("%w (%s): %w", ErrRefused, ae.ErrorMessage, err)
		case codeCertExpired:
			return fmt.Errorf("%w: %w", ErrCertificateExpired, err)
		}
	}
	var te *quic.TransportError
	if errors.As(err, &te) && te.Remote && te.ErrorCode.IsCryptoError() {
		return fmt.Errorf("%w: %w", ErrRefused, err)
	}
	return err
}

// Serve answers requests the peer opens on this connection until ctx ends
// or the connection closes; it is for the client side of a connection
// dialed with ClientOptions.AcceptStreams (a node answering its daemon).
// It returns once every request it started has been answered.
func (c *Conn) Serve(ctx context.Context, h Handler) error {
	if h == nil {
		return errors.New("transport: Serve: nil handler")
	}
	var wg sync.WaitGroup
	err := c.acceptStreams(ctx, h, &wg)
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// acceptStreams runs a goroutine per stream the peer opens, counted in
// wg, until ctx ends or the connection closes.
func (c *Conn) acceptStreams(ctx context.Context, h Handler, wg *sync.WaitGroup) error {
	for {
		st, err := c.qc.AcceptStream(ctx)
		if err != nil {
			return classify(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serveStream(st, h)
		}()
	}
}

// serveStream reads one request from st within ReadTimeout, runs h and
// writes the response within WriteTimeout. A stream that breaks the
// protocol is logged with its reason, answered with an error when it
// still can be, and reset.
func (c *Conn) serveStream(st *quic.Stream, h Handler) {
	_ = st.SetReadDeadline(time.Now().Add(c.limits.ReadTimeout))
	payload, err := ReadFrame(st)
	if err == nil {
		err = expectFIN(st)
	}
	if err != nil {
		switch {
		case errors.Is(err, ErrFrameTooLarge):
			c.refuseStream(st, ReasonFrameTooLarge, err, CodeFrameTooLarge)
		case errors.Is(err, os.ErrDeadlineExceeded):
			c.refuseStream(st, ReasonReadTimeout, err, "")
		case errors.Is(err, errTrailingData):
			c.refuseStream(st, ReasonBadRequest, err, CodeBadRequest)
		default:
			// The peer reset the stream or the connection ended: nothing
			// to answer, nobody to blame.
			c.log.Debug("transport: stream ended before its request", "device", c.peer.DeviceID, "remote", addrString(c.peer.RemoteAddr), "err", err)
			st.CancelRead(streamCanceled)
			st.CancelWrite(streamCanceled)
		}
		return
	}
	req, err := DecodeRequest(payload)
	if err != nil {
		c.refuseStream(st, ReasonBadRequest, err, CodeBadRequest)
		return
	}

	timeout := c.callTimeout
	if req.Type == TypeCall && req.Call.Timeout > 0 && req.Call.Timeout < timeout {
		timeout = req.Call.Timeout
	}
	// st.Context ends when the caller cancels its side (STOP_SENDING) or
	// the connection closes.
	ctx, cancel := context.WithTimeout(st.Context(), timeout)
	defer cancel()
	var res *Result
	if c.slots != nil {
		select {
		case c.slots <- struct{}{}:
			res, err = c.runHandler(ctx, h, req)
			<-c.slots
		case <-ctx.Done():
			err = &RemoteError{Code: CodeOverloaded, Message: "no free slot before the deadline"}
		}
	} else {
		res, err = c.runHandler(ctx, h, req)
	}
	resp := &Response{ID: req.ID, Result: res}
	if err != nil {
		resp.Result, resp.Error = nil, toRemoteError(err)
	} else if res == nil {
		resp.Result = &Result{}
	}
	data, err := EncodeResponse(resp)
	if err != nil {
		data = mustEncodeError(req.ID, CodeInternal, "handler response: "+err.Error())
	}
	if len(data) > MaxFrameSize {
		data = mustEncodeError(req.ID, CodeFrameTooLarge, fmt.Sprintf("response of %d bytes over the %d-byte frame limit", len(data), MaxFrameSize))
	}
	c.writeResponse(st, data)
}

// runHandler runs h, turning a panic into an internal error for this one
// request (logged with its stack) rather than the end of the process, as
// net/http does.
func (c *Conn) runHandler(ctx context.Context, h Handler, req *Request) (res *Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("transport: handler panicked", "device", c.peer.DeviceID, "type", string(req.Type), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			res, err = nil, &RemoteError{Code: CodeInternal, Message: "the handler failed"}
		}
	}()
	return h(ctx, c.peer, req)
}

var errTrailingData = errors.New("data after the request frame")

// expectFIN checks the peer finished its side right after the request:
// one request per stream, nothing after it.
func expectFIN(st io.Reader) error {
	var b [1]byte
	switch _, err := io.ReadFull(st, b[:]); err {
	case io.EOF:
		return nil
	case nil:
		return errTrailingData
	default:
		return err
	}
}

func (c *Conn) writeResponse(st *quic.Stream, data []byte) {
	_ = st.SetWriteDeadline(time.Now().Add(c.limits.WriteTimeout))
	if err := WriteFrame(st, data); err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			c.log.Warn("transport: stream refused", "reason", ReasonWriteTimeout, "device", c.peer.DeviceID, "remote", addrString(c.peer.RemoteAddr), "stream", int64(st.StreamID()), "err", err)
		}
		st.CancelWrite(streamTimeout)
		return
	}
	_ = st.Close()
}

// refuseStream logs why a stream is refused, answers with an error
// response when code is set, and resets the stream's read side (and its
// write side when there is no answer).
func (c *Conn) refuseStream(st *quic.Stream, reason string, err error, code string) {
	c.log.Warn("transport: stream refused", "reason", reason, "device", c.peer.DeviceID, "remote", addrString(c.peer.RemoteAddr), "stream", int64(st.StreamID()), "err", err)
	if code == "" {
		st.CancelRead(streamTimeout)
		st.CancelWrite(streamTimeout)
		return
	}
	st.CancelRead(streamBadRequest)
	c.writeResponse(st, mustEncodeError(0, code, err.Error()))
}

func mustEncodeError(id uint64, code, msg string) []byte {
	if len(msg) > 1024 {
		msg = msg[:1024]
	}
	data, err := EncodeResponse(&Response{ID: id, Error: &RemoteError{Code: code, Message: msg}})
	if err != nil {
		panic(err) // a known code and a string always encode
	}
	return data
}

func toRemoteError(err error) *RemoteError {
	var re *RemoteError
	if errors.As(err, &re) {
		return re
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &RemoteError{Code: CodeDeadlineExceeded, Message: err.Error()}
	case errors.Is(err, context.Canceled):
		return &RemoteError{Code: CodeCanceled, Message: err.Error()}
	}
	return &RemoteError{Code: CodeInternal, Message: err.Error()}
}

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
