package artifact

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
	"time"
)

// BenchmarkVerify opens and verifies an artifact with one module of 1 MB or
// 10 MB, random (incompressible) or Wasm-like (~3:1), stored or deflated,
// through Open (an io.ReaderAt: entries are copied) or OpenBytes (stored
// entries are hashed in place).
// It reports x-floor: time per Open over the floor measured in the same
// run, one SHA-256 over the same payload bytes plus one Ed25519 verify —
// the least any verifier of this format must do.
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{1 << 20, 10 << 20} {
		for _, payload := range []struct {
			name string
			gen  func(int) []byte
		}{
			{"random", func(n int) []byte { return pseudoRandom(n, "bench") }},
			{"wasmlike", wasmLike},
		} {
			data := payload.gen(size)
			for _, m := range []struct {
				name   string
				method Method
			}{{"store", Store}, {"deflate", Deflate}} {
				for _, api := range []string{"Open", "OpenBytes"} {
					b.Run(fmt.Sprintf("%dMB/%s/%s/%s", size>>20, payload.name, m.name, api), func(b *testing.B) {
						benchVerify(b, data, m.method, api == "OpenBytes")
					})
				}
			}
		}
	}
}

func benchVerify(b *testing.B, module []byte, method Method, inMemory bool) {
	req := goodRequest(testKey("bench"))
	req.Modules = []File{{Path: "modules/bench.wasm", Data: module}}
	req.ModuleMethod = method
	built := build(b, req)
	a := mustOpen(b, built.Bytes)
	floor := floorOp(a)
	r := bytes.NewReader(built.Bytes)
	size := int64(len(built.Bytes))
	ctx := context.Background()
	b.SetBytes(int64(len(module)))
	b.ReportAllocs()
	// The floor runs between iterations, timer stopped, so it is measured
	// under the same conditions (CPU frequency, other load) as Open.
	var floorTime time.Duration
	b.ResetTimer()
	for range b.N {
		var err error
		if inMemory {
			_, err = OpenBytes(ctx, built.Bytes, nil)
		} else {
			_, err = Open(ctx, r, size, nil)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		floor()
		floorTime += time.Since(start)
		b.StartTimer()
	}
	per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	floorNs := float64(floorTime.Nanoseconds()) / float64(b.N)
	b.ReportMetric(floorNs, "floor-ns/op")
	b.ReportMetric(per/floorNs, "x-floor")
	b.ReportMetric(float64(len(built.Bytes))/float64(len(module)), "zip/module")
}

// floorOp is the least any verifier of this format must do: SHA-256 over
// every entry's bytes, and one Ed25519 verify.
func floorOp(a *Artifact) func() {
	sig, _ := base64.StdEncoding.DecodeString(a.Signature.SignatureBase64)
	return func() {
		h := sha256.New()
		for _, f := range a.Files {
			h.Write(f.Data)
		}
		h.Sum(nil)
		if !ed25519.Verify(a.PublicKey, []byte(a.PayloadSHA256), sig) {
			panic("floor: signature does not verify")
		}
	}
}
