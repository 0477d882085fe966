package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/palyra/palyra-go/internal/runtime/kernel"
)

// Palyra's extra host functions.
const (
	// secretGet, in extism:host/user: (i64 handle of "scope/key") -> i64
	// handle of the value.
	secretGet = "palyra_secret_get"
	// In palyra:host/env:
	inputRead   = "input_read"   // (dst i32, len i32) -> i32 bytes copied
	outputWrite = "output_write" // (src i32, len i32)
	errorWrite  = "error_write"  // (src i32, len i32)
)

// Extism's log levels, as get_log_level reports them.
const (
	extismTrace int32 = iota
	extismDebug
	extismInfo
	extismWarn
	extismError
	extismOff = math.MaxInt32
)

// slogLevel maps Extism's levels to slog's; trace is below debug.
var slogLevel = [...]slog.Level{
	extismTrace: slog.LevelDebug - 4,
	extismDebug: slog.LevelDebug,
	extismInfo:  slog.LevelInfo,
	extismWarn:  slog.LevelWarn,
	extismError: slog.LevelError,
}

// compileHostModule builds the Go host functions: the Go half of
// extism:host/env (imported by each kernel instance and re-exported to
// its guest) and palyra's extras. They are shared by every instance of
// every plugin; each finds its instance in the context of the call.
func (r *Runtime) compileHostModule(ctx context.Context) (wazero.CompiledModule, error) {
	b := r.wz.NewHostModuleBuilder(kernel.GoModule)
	impl := map[string]api.GoModuleFunc{
		"config_get":       hostConfigGet,
		"var_get":          hostVarGet,
		"var_set":          hostVarSet,
		"http_request":     hostHTTPRequest,
		"http_status_code": hostHTTPStatusCode,
		"http_headers":     hostHTTPHeaders,
		"log_trace":        hostLog(extismTrace),
		"log_debug":        hostLog(extismDebug),
		"log_info":         hostLog(extismInfo),
		"log_warn":         hostLog(extismWarn),
		"log_error":        hostLog(extismError),
		"get_log_level":    hostGetLogLevel,
	}
	for _, f := range kernel.GoFunctions() {
		b.NewFunctionBuilder().WithGoModuleFunction(impl[f.Name], f.Params, f.Results).Export(f.Name)
	}
	i32, i64 := api.ValueTypeI32, api.ValueTypeI64
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostSecretGet),
		[]api.ValueType{i64}, []api.ValueType{i64}).Export(secretGet)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostInputRead),
		[]api.ValueType{i32, i32}, []api.ValueType{i32}).Export(inputRead)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostOutputWrite),
		[]api.ValueType{i32, i32}, nil).Export(outputWrite)
	b.NewFunctionBuilder().WithGoModuleFunction(api.GoModuleFunc(hostErrorWrite),
		[]api.ValueType{i32, i32}, nil).Export(errorWrite)
	return b.Compile(ctx)
}

// current returns the instance whose call is running.
func current(ctx context.Context) *instance {
	inst, ok := ctx.Value(instanceKey{}).(*instance)
	if !ok {
		panic(errors.New("palyra host function called outside a plugin call"))
	}
	return inst
}

// trap aborts the guest's call with a message naming the host function.
func trap(fn, format string, args ...any) {
	panic(fmt.Errorf(fn+": "+format, args...))
}

// block reads the block h as a host function's argument; 0 is empty, any
// other value that is not a block traps.
func (inst *instance) block(fn string, h uint64) []byte {
	if h == 0 {
		return nil
	}
	b, ok := inst.k.Block(h)
	if !ok {
		trap(fn, "%d is not a memory block", h)
	}
	return b
}

// write copies data into a new block for the guest; empty data is 0.
func (inst *instance) write(fn string, data []byte) uint64 {
	h, err := inst.k.Write(inst.ctx, data)
	if err != nil {
		trap(fn, "%d bytes: %v", len(data), err)
	}
	return h
}

func hostConfigGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	v, ok := inst.p.config[string(inst.block("config_get", stack[0]))]
	if !ok {
		stack[0] = 0
		return
	}
	stack[0] = inst.write("config_get", []byte(v))
}

func hostVarGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	v, ok := inst.p.vars.get(string(inst.block("var_get", stack[0])))
	if !ok {
		stack[0] = 0
		return
	}
	stack[0] = inst.write("var_get", v)
}

func hostVarSet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	name := string(inst.block("var_set", stack[0]))
	var value []byte
	if stack[1] != 0 {
		value = bytes.Clone(inst.block("var_set", stack[1]))
		if value == nil {
			value = []byte{}
		}
	}
	if err := inst.p.vars.set(name, value); err != nil {
		trap("var_set", "%v", err)
	}
}

// httpRequest is Extism's request description, the JSON in the block
// passed to http_request.
type httpRequest struct {
	URL     string            `json:"url"`
	Method  string            `json:"method"`
	Headers map[string]string `json:"headers"`
}

func hostHTTPRequest(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	p := inst.p
	inst.httpStatus = 0
	clear(inst.httpHeaders)

	var req httpRequest
	if err := json.Unmarshal(inst.block("http_request", stack[0]), &req); err != nil {
		trap("http_request", "invalid request: %v", err)
	}
	if p.cfg.HTTP == nil {
		trap("http_request", "HTTP request to '%s' is not allowed", req.URL)
	}
	method := strings.ToUpper(req.Method)
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if stack[1] != 0 {
		body = bytes.NewReader(bytes.Clone(inst.block("http_request", stack[1])))
	}

	// The request ends with the caller's ctx, and also when the instance
	// is killed (timeout): inst.ctx carries no values, callCtx no timeout.
	rctx, cancel := context.WithCancel(inst.callCtx)
	defer cancel()
	defer context.AfterFunc(inst.ctx, cancel)()
	hreq, err := http.NewRequestWithContext(rctx, method, req.URL, body)
	if err != nil {
		trap("http_request", "%v", err)
	}
	for k, v := range req.Headers {
		hreq.Header.Set(k, v)
	}
	resp, err := p.cfg.HTTP.Do(hreq)
	if err != nil {
		trap("http_request", "%v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxHTTPResponseBytes+1))
	if err != nil {
		trap("http_request", "reading response: %v", err)
	}
	if int64(len(data)) > p.cfg.MaxHTTPResponseBytes {
		trap("http_request", "response body larger than %d bytes", p.cfg.MaxHTTPResponseBytes)
	}
	inst.httpStatus = int32(resp.StatusCode)
	if inst.httpHeaders == nil {
		inst.httpHeaders = make(map[string]string, len(resp.Header))
	}
	for k, v := range resp.Header {
		inst.httpHeaders[strings.ToLower(k)] = strings.Join(v, ",")
	}
	stack[0] = inst.write("http_request", data)
}

func hostHTTPStatusCode(ctx context.Context, _ api.Module, stack []uint64) {
	stack[0] = api.EncodeI32(current(ctx).httpStatus)
}

// hostHTTPHeaders returns the last response's headers as a JSON object of
// lower-cased names to comma-joined values ("{}" before any response).
func hostHTTPHeaders(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	data, err := json.Marshal(inst.httpHeaders)
	if err != nil {
		trap("http_headers", "%v", err)
	}
	if inst.httpHeaders == nil {
		data = []byte("{}")
	}
	stack[0] = inst.write("http_headers", data)
}

// hostLog logs the block, within the call's log budget, and frees it, as
// Extism hosts do (a record dropped is freed too).
func hostLog(level int32) api.GoModuleFunc {
	name := [...]string{"log_trace", "log_debug", "log_info", "log_warn", "log_error"}[level]
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		inst := current(ctx)
		lvl := slogLevel[level]
		if l := inst.p.logger; l != nil && lvl >= inst.p.cfg.LogLevel && l.Enabled(inst.callCtx, lvl) {
			msg := inst.block(name, stack[0])
			if len(msg) > maxLogLine {
				msg = msg[:maxLogLine]
			}
			if inst.logs.take(len(msg)) {
				l.Log(inst.callCtx, lvl, string(msg), "source", "guest")
			}
		}
		if err := inst.k.Free(inst.ctx, stack[0]); err != nil {
			panic(err)
		}
	}
}

func hostGetLogLevel(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	level := int32(extismOff)
	if inst.p.logger != nil {
		for l := extismTrace; l <= extismError; l++ {
			if slogLevel[l] >= inst.p.cfg.LogLevel {
				level = l
				break
			}
		}
	}
	stack[0] = api.EncodeI32(level)
}

// hostSecretGet serves palyra_secret_get: the argument is a block holding
// "scope/key" (split at the last '/'); the result is a block holding the
// secret. On failure the result is 0 and the call's error is set to the
// reason, so a guest that ignores the 0 still fails; one that recovers
// clears it with error_set(0).
func hostSecretGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	ref := string(inst.block(secretGet, stack[0]))
	scope, key, err := splitSecretRef(ref)
	var value []byte
	if err == nil {
		if inst.p.cfg.Secrets == nil {
			err = errors.New("no secrets are available to this plugin")
		} else {
			value, err = inst.p.cfg.Secrets(inst.callCtx, scope, key)
		}
	}
	if err != nil {
		h := inst.write(secretGet, []byte(fmt.Sprintf("%s %q: %v", secretGet, ref, err)))
		inst.k.SetError(h)
		stack[0] = 0
		return
	}
	stack[0] = inst.write(secretGet, value)
}

func splitSecretRef(ref string) (scope, key string, err error) {
	i := strings.LastIndexByte(ref, '/')
	if i <= 0 || i == len(ref)-1 {
		return "", "", errors.New(`want "scope/key"`)
	}
	return ref[:i], ref[i+1:], nil
}

// hostInputRead copies the input, as input_offset and input_length
// describe it, into guest memory: at most len bytes to dst. It returns the
// number of bytes copied.
func hostInputRead(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	dst, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	in, ok := inst.k.Input()
	if !ok {
		trap(inputRead, "input range outside kernel memory")
	}
	in = in[:min(uint64(n), uint64(len(in)))]
	if !inst.gmem.Write(dst, in) {
		trap(inputRead, "destination [%d, %d) outside guest memory", dst, uint64(dst)+uint64(len(in)))
	}
	stack[0] = api.EncodeU32(uint32(len(in)))
}

// hostOutputWrite sets the output to a copy of guest memory [src,
// src+len), replacing any output_set; a later output_set replaces it.
func hostOutputWrite(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	src, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	data, ok := inst.gmem.Read(src, n)
	if !ok {
		trap(outputWrite, "source [%d, %d) outside guest memory", src, uint64(src)+uint64(n))
	}
	inst.bulkOut = bytes.Clone(data)
	inst.k.SetOutputMark(bulkOutputMark)
}

// hostErrorWrite sets the call's error message to guest memory [src,
// src+len), as error_set does with a block.
func hostErrorWrite(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	src, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	data, ok := inst.gmem.Read(src, n)
	if !ok {
		trap(errorWrite, "source [%d, %d) outside guest memory", src, uint64(src)+uint64(n))
	}
	if n == 0 {
		inst.k.SetError(0)
		return
	}
	inst.k.SetError(inst.write(errorWrite, data))
}
