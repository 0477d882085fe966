package gen

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkBuild is a warm rebuild of the echoskill guest (the go build
// cache holds its packages), including go list and the build record.
func BenchmarkBuild(b *testing.B) {
	src, _ := builtSkill(b)
	dir := copySkill(b, src)
	for b.Loop() {
		if _, err := Build(context.Background(), dir, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPackage packages the built echoskill guest (a ~3 MB module):
// SBOM, provenance, deflate, sign, atomic write.
func BenchmarkPackage(b *testing.B) {
	dir, _ := builtSkill(b)
	_, key := newKey(b)
	out := filepath.Join(b.TempDir(), "bench.palyra-skill")
	for b.Loop() {
		if _, err := Package(context.Background(), dir, PackageOptions{Key: key, Out: out, Time: time.Unix(1, 0)}); err != nil {
			b.Fatal(err)
		}
	}
}

// scaffoldedSkill scaffolds the basic template (one typed tool) into a
// fresh directory, offline, for the benchmarks of the author's loop.
func scaffoldedSkill(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "hello")
	if _, err := Scaffold(context.Background(), "hello", ScaffoldOptions{Dir: dir, Publisher: "acme", Env: offlineEnv()}); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkBuildScaffolded is `palyra-gen build` of a freshly scaffolded
// skill (basic template: the sdk, encoding/json, one tool), warm: the go
// build cache holds its packages after the first build.
func BenchmarkBuildScaffolded(b *testing.B) {
	dir := scaffoldedSkill(b)
	ctx := context.Background()
	if _, err := Build(ctx, dir, BuildOptions{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Build(ctx, dir, BuildOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchStep is one step of `palyra-gen build --watch --install`
// on the scaffolded skill after a source edit: generate, build, package
// with the dev key and install into a state dir.
func BenchmarkWatchStep(b *testing.B) {
	dir := scaffoldedSkill(b)
	ctx := context.Background()
	inst, err := openDevInstaller(ctx, filepath.Join(b.TempDir(), "state"))
	if err != nil {
		b.Fatal(err)
	}
	defer inst.close()
	src := filepath.Join(dir, "main.go")
	i := 0
	for b.Loop() {
		// A new string each time, so each build compiles something new.
		i++
		b.StopTimer()
		f, err := os.OpenFile(src, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(f, "\nvar benchEdit%d = %q\n", i, fmt.Sprint(i))
		f.Close()
		b.StartTimer()
		ev, _ := buildStep(ctx, dir, BuildOptions{}, inst, nil)
		if ev.Err != nil || ev.Installed == nil {
			b.Fatalf("step %d: %v", i, ev.Err)
		}
	}
}
