package identity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"
)

func newCSR(t *testing.T) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "renew"}}, k)
	if err != nil {
		t.Fatal(err)
	}
	return csr, k
}

func TestRenew(t *testing.T) {
	ctx := context.Background()
	m, _, _ := newPairingManager(t, ManagerOptions{})
	dev := newDevice(t)
	res, srv, err := pairPipe(t, managerServer(m), mint(t, m, CodeOptions{}).Code, dev, KindCLI)
	if err != nil || srv.err != nil {
		t.Fatalf("pair: client %v, daemon %v", err, srv.err)
	}
	csr, key := newCSR(t)
	der, err := m.Renew(ctx, dev.ID(), csr)
	if err != nil {
		t.Fatalf("Renew: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := DeviceIDFromCert(cert); id != dev.ID() {
		t.Fatalf("renewed certificate names %q", id)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatal("renewed certificate certifies another key")
	}
	// Both the new and the renewed certificate pass the hook.
	for i, c := range []*x509.Certificate{res.ClientCert, cert} {
		if err := m.CheckCertificate(ctx, c); err != nil {
			t.Fatalf("certificate %d after renew: %v", i, err)
		}
	}
	devs, _ := m.Devices(ctx)
	if len(devs) != 1 || len(devs[0].Certificates) != 2 {
		t.Fatalf("registry after renew: %+v", devs)
	}

	// A bad CSR is refused and records nothing.
	if _, err := m.Renew(ctx, dev.ID(), []byte("not a csr")); !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("bad CSR: %v, want ErrInvalidRequest", err)
	}
	if _, err := m.Renew(ctx, "01J00000000000000000000000", csr); !errors.Is(err, ErrUnknownDevice) {
		t.Fatalf("unknown device: %v, want ErrUnknownDevice", err)
	}

	// The live-certificate cap.
	for i := 2; i < MaxLiveCertificates; i++ {
		if _, err := m.Renew(ctx, dev.ID(), csr); err != nil {
			t.Fatalf("renew %d: %v", i, err)
		}
	}
	if _, err := m.Renew(ctx, dev.ID(), csr); err == nil {
		t.Fatal("renew past MaxLiveCertificates accepted")
	}

	// A revoked device renews nothing, and all its certificates are out.
	if err := m.Revoke(ctx, dev.ID(), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Renew(ctx, dev.ID(), csr); !errors.Is(err, ErrDeviceRevoked) {
		t.Fatalf("revoked device: %v, want ErrDeviceRevoked", err)
	}
	if err := m.CheckCertificate(ctx, cert); !errors.Is(err, ErrDeviceRevoked) {
		t.Fatalf("renewed certificate after revoke: %v", err)
	}
}
