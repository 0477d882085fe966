//go:build wasip1

package sdk

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
)

// The primitives over the Extism kernel. Bulk data moves 8 bytes per host
// call and the last len%8 bytes one at a time, as Extism's own PDKs do:
// each host call costs far more than the bytes it carries.

func input() []byte {
	buf := make([]byte, extismInputLength())
	n := len(buf) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismInputLoadU64(uint64(i)))
	}
	for i := n; i < len(buf); i++ {
		buf[i] = byte(extismInputLoadU8(uint64(i)))
	}
	return buf
}

func output(b []byte) {
	extismOutputSet(allocBytes(b), uint64(len(b)))
}

// setError leaves the message's block allocated: the host reads it after
// the call returns, and the kernel reports a freed block as empty. The
// kernel's memory is reset before the next call anyway.
func setError(msg string) {
	extismErrorSet(allocBytes([]byte(msg)))
}

func getConfig(key string) (string, bool) {
	k := allocBytes([]byte(key))
	// Free the key only once the value is read: a host that frees the key
	// itself may hand the same block back as the value, and freeing the
	// key early would then free the value under our feet.
	defer extismFree(k)
	v := extismConfigGet(k)
	if v == 0 {
		return "", false
	}
	buf := take(v)
	return string(buf), len(buf) > 0
}

// logMessage hands the message's block to the host, which frees it after
// logging (as go-sdk and the Rust runtime do); freeing it here as well
// could free a block the host has reused meanwhile.
func logMessage(level LogLevel, msg string) {
	addr := allocBytes([]byte(msg))
	switch level {
	case LogTrace:
		extismLogTrace(addr)
	case LogDebug:
		extismLogDebug(addr)
	case LogInfo:
		extismLogInfo(addr)
	case LogWarn:
		extismLogWarn(addr)
	default:
		extismLogError(addr)
	}
}

func logLevel() LogLevel { return LogLevel(extismGetLogLevel()) }

// Blocks passed to var_get, var_set and http_request are handed over, as
// to log_*: extism/go-sdk frees them, so freeing them here could free a
// block the host has reused. The kernel resets its memory at each call.

func varGet(name string) ([]byte, bool) {
	v := extismVarGet(allocBytes([]byte(name)))
	if v == 0 {
		return nil, false
	}
	buf := take(v)
	return buf, len(buf) > 0
}

// varSet sets name to value; an empty value is the null block, which
// deletes the var.
func varSet(name string, value []byte) {
	extismVarSet(allocBytes([]byte(name)), allocBytes(value))
}

// extismRequest is the JSON request description of Extism's http_request.
type extismRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers,omitempty"`
}

func httpSend(req HTTPRequest) (HTTPResponse, error) {
	meta, err := json.Marshal(extismRequest{URL: req.URL, Method: req.Method, Headers: req.Headers})
	if err != nil {
		return HTTPResponse{}, err
	}
	body := extismHTTPRequest(allocBytes(meta), allocBytes(req.Body))
	resp := HTTPResponse{Status: int(extismHTTPStatusCode()), Body: []byte{}}
	if body != 0 {
		resp.Body = take(body)
	}
	if h := extismHTTPHeaders(); h != 0 {
		if err := json.Unmarshal(take(h), &resp.Headers); err != nil {
			return HTTPResponse{}, errors.New("sdk: HTTP response headers from the host: " + err.Error())
		}
	}
	return resp, nil
}

// secretGet tells a failure from an empty secret (both return the null
// block) by the call's error: the host sets it on failure. The error is
// then put back as it was, so that a tool that handles the failure does
// not fail the call by accident, and one that had set an error keeps it.
func secretGet(scope, key string) ([]byte, error) {
	before := extismErrorGet()
	v := palyraSecretGet(allocBytes([]byte(scope + "/" + key)))
	if v != 0 {
		return take(v), nil
	}
	after := extismErrorGet()
	if after == 0 || after == before {
		return []byte{}, nil
	}
	msg := take(after)
	extismErrorSet(before)
	if len(msg) == 0 {
		msg = []byte("palyra_secret_get " + strconv.Quote(scope+"/"+key) + " failed")
	}
	return nil, errors.New(string(msg))
}

// take copies the block h out of the kernel and frees it.
func take(h uint64) []byte {
	buf := make([]byte, extismLength(h))
	load(h, buf)
	extismFree(h)
	return buf
}

// allocBytes copies b into a new kernel block and returns its address, 0
// for an empty b (the kernel's null block).
func allocBytes(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	addr := extismAlloc(uint64(len(b)))
	if addr == 0 {
		// The kernel could not grow its memory; there is no way to report
		// an error without memory, so trap, which the host reports.
		panic("sdk: the host could not allocate " + strconv.Itoa(len(b)) + " bytes")
	}
	n := len(b) &^ 7
	for i := 0; i < n; i += 8 {
		extismStoreU64(addr+uint64(i), binary.LittleEndian.Uint64(b[i:]))
	}
	for i := n; i < len(b); i++ {
		extismStoreU8(addr+uint64(i), uint32(b[i]))
	}
	return addr
}

// load copies len(buf) bytes from the kernel block at addr into buf.
func load(addr uint64, buf []byte) {
	n := len(buf) &^ 7
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], extismLoadU64(addr+uint64(i)))
	}
	for i := n; i < len(buf); i++ {
		buf[i] = byte(extismLoadU8(addr + uint64(i)))
	}
}
