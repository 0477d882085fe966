package runtime

import (
	"context"
	"log/slog"
	"testing"
)

// BenchmarkFSConfig measures what the per-instance mounts cost an
// instance's creation: the wrapped FS config (two mounts), and a whole
// new instance with them, for scale.
func BenchmarkFSConfig(b *testing.B) {
	ctx := context.Background()
	p := newPlugin(b, PluginConfig{PoolSize: 1, Mounts: []Mount{
		{HostPath: b.TempDir(), GuestPath: "/in", ReadOnly: true},
		{HostPath: b.TempDir(), GuestPath: "/out"},
	}})
	inst := &instance{p: p}
	b.Run("fsconfig", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p.fsConfig(inst)
		}
	})
	b.Run("new-instance", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			inst, err := p.newInstance(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.discard(inst)
		}
	})
}

// BenchmarkLogBudget measures the log budget: its check alone, and a call
// logging two records (log_info, log_debug) to a handler that keeps
// nothing.
func BenchmarkLogBudget(b *testing.B) {
	b.Run("take", func(b *testing.B) {
		lb := logBudget{maxRecords: 1 << 62, maxBytes: 1 << 62}
		for b.Loop() {
			lb.take(100)
		}
	})
	b.Run("call-log", func(b *testing.B) {
		p := newPlugin(b, PluginConfig{PoolSize: 1, LogLevel: slog.LevelDebug, Logger: slog.New(slog.DiscardHandler)})
		in := []byte("a record of a reasonable length, about sixty bytes long")
		mustCall(p, "log", in)
		b.ReportAllocs()
		for b.Loop() {
			mustCall(p, "log", in)
		}
	})
}

// BenchmarkWriteQuota measures a guest's 4 KiB file write (open, pwrite,
// close) with and without a write quota, which adds an fstat, a seek
// for writes at the file's offset, and a plugin-wide lock to each write.
func BenchmarkWriteQuota(b *testing.B) {
	for _, quota := range []int64{0, 1 << 30} {
		name := "none"
		if quota > 0 {
			name = "quota"
		}
		b.Run(name, func(b *testing.B) {
			p := newPlugin(b, PluginConfig{PoolSize: 1, WriteQuotaBytes: quota, Mounts: []Mount{{HostPath: b.TempDir(), GuestPath: "/out"}}})
			in := []byte("write /out/a 0 4096")
			mustCall(p, "fs", in)
			for b.Loop() {
				mustCall(p, "fs", in)
			}
		})
	}
}
