package host_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/palyra/palyra-go/host"
)

// An application opens a state dir, allowlists a publisher key and verifies
// an artifact before doing anything with it.
func ExampleHost_VerifyFile() {
	state, err := os.MkdirTemp("", "palyra-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(state)

	ctx := context.Background()
	h, err := host.Open(ctx, state, host.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close()

	pem, err := os.ReadFile("../testdata/palyra-v1/publisher.pub.pem")
	if err != nil {
		log.Fatal(err)
	}
	pub, err := host.ParsePublicKey(pem)
	if err != nil {
		log.Fatal(err)
	}
	if err := h.TrustStore().AddTrusted(ctx, "golden", pub); err != nil {
		log.Fatal(err)
	}

	v, err := h.VerifyFile(ctx, "../testdata/palyra-v1/golden.palyra-skill", host.VerifyOptions{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Manifest.SkillID, v.Manifest.Version, v.Decision, v.KeyID)
	// Output: golden.echo 1.0.0 allowlisted ed25519:2ef75dfce7823b5e
}
