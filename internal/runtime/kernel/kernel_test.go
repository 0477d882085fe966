package kernel

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// TestWasmMatchesSource re-assembles kernel.wat and compares it with the
// committed kernel.wasm, so the two cannot drift apart.
func TestWasmMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (Debian package wabt) is not installed; CI installs it and runs this check")
	}
	out := filepath.Join(t.TempDir(), "kernel.wasm")
	if msg, err := exec.Command(wat2wasm, "kernel.wat", "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, Wasm) {
		t.Fatalf("kernel.wasm is stale: run go generate ./internal/runtime/kernel (assembled %d bytes, committed %d)", len(got), len(Wasm))
	}
}

// testKernel is a kernel instance with callable exports.
type testKernel struct {
	t   *testing.T
	mod api.Module
	k   *Instance
}

func newTestKernel(t *testing.T) *testKernel {
	t.Helper()
	ctx := context.Background()
	r := wazero.NewRuntime(ctx)
	t.Cleanup(func() { r.Close(ctx) })
	b := r.NewHostModuleBuilder(GoModule)
	for _, f := range GoFunctions() {
		b.NewFunctionBuilder().WithGoFunction(api.GoFunc(func(context.Context, []uint64) {
			panic("not in this test")
		}), f.Params, f.Results).Export(f.Name)
	}
	compiled, err := b.Compile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// InstantiateModule, not the builder's Instantiate: an import resolver
	// must return the store's own module type, and the name stays empty.
	host, err := r.InstantiateModule(ctx, compiled, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	ctx = experimental.WithImportResolver(ctx, func(name string) api.Module {
		if name == GoModule {
			return host
		}
		return nil
	})
	mod, err := r.InstantiateWithConfig(ctx, Wasm, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		t.Fatal(err)
	}
	k, err := Bind(mod)
	if err != nil {
		t.Fatal(err)
	}
	return &testKernel{t: t, mod: mod, k: k}
}

func (tk *testKernel) call(name string, args ...uint64) uint64 {
	tk.t.Helper()
	f := tk.mod.ExportedFunction(name)
	res, err := f.Call(context.Background(), args...)
	if err != nil {
		tk.t.Fatalf("%s%v: %v", name, args, err)
	}
	if len(res) == 0 {
		return 0
	}
	// An i32 result fills only the low half of its stack slot.
	if f.Definition().ResultTypes()[0] == api.ValueTypeI32 {
		return uint64(uint32(res[0]))
	}
	return res[0]
}

func TestAllocFreeLength(t *testing.T) {
	tk := newTestKernel(t)
	if h := tk.call("alloc", 0); h != 0 {
		t.Errorf("alloc(0) = %d, want 0", h)
	}
	if h := tk.call("alloc", 1<<40); h != 0 {
		t.Errorf("alloc(2^40) = %d, want 0", h)
	}
	a := tk.call("alloc", 10)
	b := tk.call("alloc", 300)
	c := tk.call("alloc", 5)
	if a != 32 || b != a+10+16 || c != b+300+16 {
		t.Fatalf("bump addresses a=%d b=%d c=%d", a, b, c)
	}
	for _, tc := range []struct {
		h, want uint64
	}{
		{a, 10}, {b, 300}, {c, 5},
		{0, 0}, {a + 1, 0}, {b - 1, 0}, {16, 0}, {1 << 33, 0}, {c + 5 + 16, 0},
	} {
		if got := tk.call("length", tc.h); got != tc.want {
			t.Errorf("length(%d) = %d, want %d", tc.h, got, tc.want)
		}
		if got := tk.call("length_unsafe", tc.h); got != tc.want {
			t.Errorf("length_unsafe(%d) = %d, want %d", tc.h, got, tc.want)
		}
	}

	// Freeing a middle block makes it reusable; a smaller request splits it.
	tk.call("free", b)
	if got := tk.call("length", b); got != 0 {
		t.Errorf("length of freed block = %d", got)
	}
	d := tk.call("alloc", 20)
	if d != b {
		t.Errorf("alloc after free = %d, want reuse of %d", d, b)
	}
	e := tk.call("alloc", 200)
	if e != b+20+16 {
		t.Errorf("alloc into split remainder = %d, want %d", e, b+20+16)
	}
	// Freeing the top block gives its space back to the bump allocator.
	tk.call("free", c)
	if f := tk.call("alloc", 5); f != c {
		t.Errorf("alloc after freeing top = %d, want %d", f, c)
	}
	// Double free and bogus frees are ignored.
	tk.call("free", c)
	tk.call("free", c)
	tk.call("free", 12345)
	if got := tk.call("length", a); got != 10 {
		t.Errorf("length(a) after bogus frees = %d", got)
	}
}

func TestAllocGrowsMemory(t *testing.T) {
	tk := newTestKernel(t)
	before := tk.call("memory_bytes")
	h := tk.call("alloc", 200_000)
	if h == 0 {
		t.Fatal("alloc(200000) failed")
	}
	if got := tk.call("length", h); got != 200_000 {
		t.Errorf("length = %d", got)
	}
	after := tk.call("memory_bytes")
	if after <= before || after < 200_000 {
		t.Errorf("memory_bytes %d -> %d", before, after)
	}
	// The last byte is addressable.
	tk.call("store_u8", h+199_999, 7)
	if got := tk.call("load_u8", h+199_999); got != 7 {
		t.Errorf("load_u8 at end = %d", got)
	}
}

func TestLoadStoreBounds(t *testing.T) {
	tk := newTestKernel(t)
	size := uint64(tk.k.Memory().Size())
	h := tk.call("alloc", 16)
	tk.call("store_u64", h, 0x0102030405060708)
	if got := tk.call("load_u64", h); got != 0x0102030405060708 {
		t.Errorf("load_u64 = %#x", got)
	}
	if got := tk.call("load_u8", h); got != 8 {
		t.Errorf("load_u8 = %d", got)
	}
	for _, p := range []uint64{0, 15, size - 7, size, 1 << 32, 1<<64 - 1} {
		tk.call("store_u64", p, 0xffffffffffffffff) // must not trap
		if got := tk.call("load_u64", p); got != 0 {
			t.Errorf("load_u64(%d) = %#x, want 0", p, got)
		}
	}
	for _, p := range []uint64{0, 15, size, 1 << 32} {
		tk.call("store_u8", p, 1)
		if got := tk.call("load_u8", p); got != 0 {
			t.Errorf("load_u8(%d) = %d, want 0", p, got)
		}
	}
	tk.call("store_u64", size-8, 42)
	if got := tk.call("load_u64", size-8); got != 42 {
		t.Errorf("load_u64(last word) = %d", got)
	}
}

func TestInputOutputError(t *testing.T) {
	tk := newTestKernel(t)
	input := []byte("hello, kernel!")
	if err := tk.k.SetInput(input); err != nil {
		t.Fatal(err)
	}
	off := tk.call("input_offset")
	if n := tk.call("input_length"); n != uint64(len(input)) {
		t.Fatalf("input_length = %d", n)
	}
	if n := tk.call("length", off); n != uint64(len(input)) {
		t.Errorf("length(input_offset) = %d: the host-written block must be a real block", n)
	}
	var got []byte
	for i := uint64(0); i < uint64(len(input)); i++ {
		got = append(got, byte(tk.call("input_load_u8", i)))
	}
	if !bytes.Equal(got, input) {
		t.Errorf("input via input_load_u8 = %q", got)
	}
	w := tk.call("input_load_u64", 8)
	if w != 0 {
		t.Errorf("input_load_u64 past the end = %#x, want 0", w)
	}
	w = tk.call("input_load_u64", 0)
	if want := binary.LittleEndian.Uint64(input); w != want {
		t.Errorf("input_load_u64(0) = %#x, want %#x", w, want)
	}
	if b := tk.call("input_load_u8", uint64(len(input))); b != 0 {
		t.Errorf("input_load_u8 past the end = %d", b)
	}

	// A block allocated after the input does not overlap it.
	h := tk.call("alloc", 3)
	if h < off+uint64(len(input))+16 {
		t.Errorf("alloc %d overlaps input at %d", h, off)
	}
	tk.call("store_u8", h, 'a')
	tk.call("store_u8", h+1, 'b')
	tk.call("store_u8", h+2, 'c')
	tk.call("output_set", h, 3)
	if _, view, ok := tk.k.Output(); !ok || string(view) != "abc" {
		t.Errorf("Output = %q %v", view, ok)
	}
	tk.call("output_set", 1<<40, 3) // ignored
	if o := tk.call("output_offset"); o != h {
		t.Errorf("output_set out of bounds changed the offset to %d", o)
	}

	tk.call("error_set", h)
	if tk.call("error_get") != h || tk.k.Error() != h {
		t.Error("error_get")
	}
	if data, ok := tk.k.Block(h); !ok || string(data) != "abc" {
		t.Errorf("Block(error) = %q %v", data, ok)
	}
	if _, ok := tk.k.Block(h + 1); ok {
		t.Error("Block accepted a non-handle")
	}
	tk.call("error_set", 0)
	if tk.call("error_get") != 0 {
		t.Error("error_set(0) did not clear")
	}

	// Freeing the input empties it, as in Extism.
	tk.call("free", off)
	if n := tk.call("input_length"); n != 0 {
		t.Errorf("input_length after free = %d", n)
	}

	// Reset clears everything and zeroes used memory.
	tk.call("reset")
	for _, f := range []string{"input_offset", "input_length", "output_offset", "output_length", "error_get"} {
		if v := tk.call(f); v != 0 {
			t.Errorf("%s after reset = %d", f, v)
		}
	}
	if b := tk.call("load_u8", h); b != 0 {
		t.Errorf("memory not zeroed by reset: %d", b)
	}
	if a := tk.call("alloc", 1); a != 32 {
		t.Errorf("first alloc after reset = %d", a)
	}
}

func TestSetInputGrowsAndEmpty(t *testing.T) {
	tk := newTestKernel(t)
	big := bytes.Repeat([]byte{0xab}, 300_000)
	if err := tk.k.SetInput(big); err != nil {
		t.Fatal(err)
	}
	if view, ok := tk.k.Input(); !ok || !bytes.Equal(view, big) {
		t.Fatal("big input not in place")
	}
	if n := tk.call("length", tk.call("input_offset")); n != 300_000 {
		t.Errorf("length(input) = %d", n)
	}
	if err := tk.k.SetInput(nil); err != nil {
		t.Fatal(err)
	}
	if tk.call("input_offset") != 0 || tk.call("input_length") != 0 {
		t.Error("empty input is not (0, 0)")
	}
	// The previous input's bytes were zeroed.
	if b := tk.call("load_u8", 32+1000); b != 0 {
		t.Errorf("stale input byte %d", b)
	}
}

func TestHostWriteAndAlloc(t *testing.T) {
	tk := newTestKernel(t)
	tk.k.Reset()
	h, err := tk.k.Write(context.Background(), []byte("config value"))
	if err != nil {
		t.Fatal(err)
	}
	if n := tk.call("length", h); n != 12 {
		t.Errorf("length = %d", n)
	}
	if h, err := tk.k.Write(context.Background(), nil); h != 0 || err != nil {
		t.Errorf("Write(nil) = %d, %v", h, err)
	}
}

// TestCorruptHeadersDoNotHang overwrites every header with garbage through
// store_u64, as a hostile guest could, and checks the kernel still returns.
func TestCorruptHeadersDoNotHang(t *testing.T) {
	tk := newTestKernel(t)
	var hs []uint64
	for i := 0; i < 8; i++ {
		hs = append(hs, tk.call("alloc", 32))
	}
	for _, h := range hs[:7] {
		tk.call("free", h) // nfree > 0: alloc walks
	}
	for _, h := range hs {
		tk.call("store_u64", h-16, 0xffffffff_ffffffff)
		tk.call("store_u64", h-8, 0x00000002_00000000)
	}
	_ = tk.call("alloc", 64)
	_ = tk.call("length", hs[3])
}
