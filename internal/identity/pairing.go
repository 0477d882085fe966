package identity

// The pairing protocol: CPace on the pairing code, bound to the
// transport's channel, key confirmation both ways, then the device's
// request and the daemon's grant under keys only the two ends hold.
// docs/pairing.md is the full description; pairing_wire.go the codec.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/palyra/palyra-go/internal/cpace"
)

const (
	// pairingLabel names the protocol in the channel identifier, the
	// associated data and every derived key.
	pairingLabel = "palyra-pair-v1"
	// adServer is the daemon's CPace associated data.
	adServer = pairingLabel + "/server"
	// HandshakeTimeout bounds a pairing handshake whose context has no
	// deadline. The wait for the operator's approval is not part of it.
	HandshakeTimeout = 30 * time.Second
	// pendingWriteWait bounds how long the daemon waits for the client
	// to take the pending notice.
	pendingWriteWait = 5 * time.Second
	// minBinding is the shortest channel binding accepted: a transport
	// that passes none would leave pairing open to relays.
	minBinding = 16
)

// checkBinding refuses a missing or short channel binding.
func checkBinding(b []byte) error {
	if len(b) < minBinding {
		return fmt.Errorf("identity: pairing: channel binding of %d bytes, want at least %d (the transport's channel identifier)", len(b), minBinding)
	}
	return nil
}

// adClient is the client's CPace associated data: it binds the declared
// kind and device id into the session key.
func adClient(kind, deviceID string) []byte {
	return []byte(pairingLabel + "/client/" + kind + "/" + deviceID)
}

// channelID is CPace's ci: lv("palyra-pair-v1") || lv(binding), so the key
// depends on the transport channel and a relay between two channels
// cannot confirm it.
func channelID(binding []byte) []byte {
	return lvCat([]byte(pairingLabel), binding)
}

// lvCat concatenates each argument prefixed with its length as LEB128,
// the draft's prepend_len.
func lvCat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		n := uint64(len(p))
		for {
			b := byte(n & 0x7f)
			n >>= 7
			if n == 0 {
				out = append(out, b)
				break
			}
			out = append(out, b|0x80)
		}
		out = append(out, p...)
	}
	return out
}

// sessionKeys are derived from one CPace ISK.
type sessionKeys struct {
	server, client, request, grant []byte // MAC keys
	transcript                     []byte // what the device signs
}

func deriveKeys(isk []byte) (sessionKeys, error) {
	var k sessionKeys
	for _, d := range []struct {
		label string
		dst   *[]byte
	}{
		{"confirm server", &k.server},
		{"confirm client", &k.client},
		{"request", &k.request},
		{"grant", &k.grant},
		{"transcript", &k.transcript},
	} {
		key, err := hkdf.Key(sha512.New, isk, nil, pairingLabel+" "+d.label, 32)
		if err != nil {
			return sessionKeys{}, fmt.Errorf("identity: pairing: deriving keys: %w", err)
		}
		*d.dst = key
	}
	return k, nil
}

func (k *sessionKeys) wipe() {
	for _, b := range [][]byte{k.server, k.client, k.request, k.grant, k.transcript} {
		clear(b)
	}
}

func mac(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func serverConfirmMAC(k sessionKeys) []byte { return mac(k.server, []byte("server")) }
func clientConfirmMAC(k sessionKeys) []byte { return mac(k.client, []byte("client")) }

func requestMAC(k sessionKeys, m *requestMsg) []byte {
	return mac(k.request, lvCat([]byte(msgRequest), m.IdentityKey, m.Signature, m.CSR))
}

func grantMAC(k sessionKeys, m *grantMsg) []byte {
	return mac(k.grant, lvCat([]byte(msgGrant), m.ClientCert, m.CACert))
}

// signedRequest is what the device's identity key signs: proof that the
// holder of that key took part in this very session.
func signedRequest(k sessionKeys) []byte {
	return append([]byte(pairingLabel+" request"), k.transcript...)
}

// ServePairing runs the daemon's side of one pairing handshake on rw and
// returns the paired device. peer is the transport address (rate limits,
// logs); binding identifies the transport channel (the TLS exporter, at
// least 16 bytes) and must be what the client's end computes. ctx bounds
// the whole exchange;
// without a deadline the handshake gets HandshakeTimeout, the wait for
// the operator's approval excepted. Failures are the package's sentinels
// (ErrPairingFailed, ErrRateLimited, ErrNoActiveCode, ErrProtocol, ...);
// the client was sent the matching error message when it could be.
func (m *Manager) ServePairing(ctx context.Context, rw io.ReadWriter, peer string, binding []byte) (*Device, error) {
	log := m.opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return servePairing(ctx, m, log, rw, peer, binding)
}

// served is one candidate code's session on the daemon.
type served struct {
	codeID string
	keys   sessionKeys
}

func servePairing(ctx context.Context, reg registry, log *slog.Logger, rw io.ReadWriter, peer string, binding []byte) (*Device, error) {
	if err := checkBinding(binding); err != nil {
		return nil, err
	}
	hctx := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, HandshakeTimeout)
		defer cancel()
	}
	c := &frameConn{rw: rw}
	log = log.With("peer", peer)
	fail := func(sendCtx context.Context, err error) (*Device, error) {
		code := errorCodeFor(err)
		if ctx.Err() == nil && !isTransportErr(err) {
			// Best effort: the peer may be gone.
			_ = c.write(sendCtx, "error", errorMsg{Type: msgError, Code: code, Message: errorTexts[code]})
		}
		log.Info("pairing failed", "reason", code, "err", err)
		return nil, err
	}

	p, err := c.read(hctx, "hello")
	if err != nil {
		return fail(hctx, err)
	}
	hello, err := decodeHello(p)
	if err != nil {
		return fail(hctx, err)
	}
	log = log.With("device_id", hello.DeviceID, "kind", hello.Kind)

	cands, release, err := reg.beginAttempt(hctx, peer, hello.CodeID)
	if err != nil {
		return fail(hctx, err)
	}
	defer release()
	switch {
	case len(cands) == 0:
		return fail(hctx, ErrNoActiveCode)
	case len(cands) > maxOffers:
		return fail(hctx, fmt.Errorf("identity: pairing: %d active codes exceed %d offers: %w", len(cands), maxOffers, ErrTooManyCodes))
	case hello.CodeID != "" && len(cands) != 1:
		return fail(hctx, fmt.Errorf("identity: pairing: %d codes for one code id", len(cands)))
	}

	ci := channelID(binding)
	adA := adClient(hello.Kind, hello.DeviceID)
	sessions := make([]served, len(cands))
	offers := make([]offer, len(cands))
	perm, err := cryptoPerm(len(cands))
	if err != nil {
		return fail(hctx, err)
	}
	defer func() {
		for i := range sessions {
			sessions[i].keys.wipe()
		}
	}()
	for i, cand := range cands {
		st, yb, err := cpace.Start(cand.prs, ci, hello.SID, []byte(adServer), cpace.Responder)
		if err != nil {
			return fail(hctx, fmt.Errorf("identity: pairing: %w", err))
		}
		isk, err := st.Finish(hello.YA, adA)
		if err != nil {
			return fail(hctx, protoErr("ya: %v", err))
		}
		keys, err := deriveKeys(isk)
		clear(isk)
		if err != nil {
			return fail(hctx, err)
		}
		j := perm[i]
		sessions[j] = served{codeID: cand.id, keys: keys}
		offers[j] = offer{YB: yb, MAC: serverConfirmMAC(keys)}
	}
	if err := c.write(hctx, "offers", offersMsg{Type: msgOffers, Offers: offers}); err != nil {
		return fail(hctx, err)
	}

	if p, err = c.read(hctx, "confirm"); err != nil {
		return fail(hctx, err)
	}
	conf, err := decodeConfirm(p, len(offers))
	if err != nil {
		return fail(hctx, err)
	}
	if conf == nil {
		log.Info("pairing failed", "reason", "client found no offer to confirm")
		return nil, fmt.Errorf("%w: the client aborted (no offer confirmed)", ErrPairingFailed)
	}
	s := sessions[conf.Offer]
	if !hmac.Equal(conf.MAC, clientConfirmMAC(s.keys)) {
		return fail(hctx, fmt.Errorf("%w: client key confirmation does not verify", ErrPairingFailed))
	}
	if err := c.write(hctx, "confirmed", typeOnly{Type: msgConfirmed}); err != nil {
		return fail(hctx, err)
	}

	if p, err = c.read(hctx, "request"); err != nil {
		return fail(hctx, err)
	}
	req, err := decodeRequest(p)
	if err != nil {
		return fail(hctx, err)
	}
	if !hmac.Equal(req.MAC, requestMAC(s.keys, req)) {
		return fail(hctx, fmt.Errorf("%w: request MAC does not verify", ErrPairingFailed))
	}
	if !ed25519.Verify(ed25519.PublicKey(req.IdentityKey), signedRequest(s.keys), req.Signature) {
		return fail(hctx, fmt.Errorf("%w: identity key signature does not verify", ErrPairingFailed))
	}

	grant, err := awaitGrant(ctx, reg, c, PairingRequest{
		CodeID:      s.codeID,
		DeviceID:    hello.DeviceID,
		Kind:        ClientKind(hello.Kind),
		IdentityKey: bytes.Clone(req.IdentityKey),
		CSR:         bytes.Clone(req.CSR),
		Peer:        peer,
	})
	gctx, cancel := ctx, context.CancelFunc(func() {})
	if _, ok := ctx.Deadline(); !ok {
		gctx, cancel = context.WithTimeout(ctx, HandshakeTimeout)
	}
	defer cancel()
	if err != nil {
		return fail(gctx, err)
	}
	g := grantMsg{Type: msgGrant, ClientCert: grant.ClientCert, CACert: grant.CACert}
	g.MAC = grantMAC(s.keys, &g)
	if err := c.write(gctx, "grant", g); err != nil {
		log.Info("pairing granted but the grant was not delivered", "err", err)
		return nil, err
	}
	log.Info("device paired", "state", grant.Device.State)
	d := grant.Device
	return &d, nil
}

// awaitGrant calls completePairing under ctx (no handshake timeout: the
// operator may take a while), tells the client when it is pending, and
// gives up when the client leaves (on an rw with deadlines, a read that
// returns during the wait means the client closed or broke protocol).
func awaitGrant(ctx context.Context, reg registry, c *frameConn, req PairingRequest) (*PairingGrant, error) {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	dl, canWatch := c.rw.(deadliner)
	var watch sync.WaitGroup
	var stopped sync.Mutex
	stop := false
	if canWatch {
		if err := dl.SetDeadline(time.Time{}); err != nil {
			return nil, fmt.Errorf("identity: pairing: clear deadline: %w", err)
		}
		watch.Add(1)
		go func() {
			defer watch.Done()
			var b [1]byte
			n, err := c.rw.Read(b[:])
			stopped.Lock()
			defer stopped.Unlock()
			if stop {
				return
			}
			if n > 0 {
				cancel(protoErr("client sent data while waiting for approval"))
			} else {
				cancel(fmt.Errorf("identity: pairing: client left while waiting for approval: %w", err))
			}
		}()
	}

	var pendingOnce sync.Once
	var pendingDone chan error
	req.OnPending = func() {
		pendingOnce.Do(func() {
			frame, err := encodeFrame(typeOnly{Type: msgPending})
			if err != nil {
				panic(err) // a constant message always encodes
			}
			pendingDone = make(chan error, 1)
			go func() {
				_, err := c.rw.Write(frame)
				if err != nil {
					cancel(fmt.Errorf("identity: pairing: telling the client it is pending: %w", err))
				}
				pendingDone <- err
			}()
		})
	}

	grant, err := reg.completePairing(wctx, req)

	pendingOnce.Do(func() {}) // no OnPending from now on
	var perr error
	pendingWritten := pendingDone == nil
	if !pendingWritten {
		// Let a pending notice in flight finish before the grant follows
		// it; a client that does not read gets a bounded wait.
		select {
		case perr = <-pendingDone:
			pendingWritten = true
		case <-time.After(pendingWriteWait):
		}
	}
	if canWatch {
		stopped.Lock()
		stop = true
		stopped.Unlock()
		_ = dl.SetDeadline(time.Unix(1, 0)) // unblocks the watcher and a stuck pending write
		watch.Wait()
	}
	if !pendingWritten {
		select {
		case perr = <-pendingDone:
		case <-time.After(pendingWriteWait): // an rw without deadlines
			perr = errors.New("the client does not read")
		}
	}
	if err != nil {
		if cause := context.Cause(wctx); cause != nil && ctx.Err() == nil {
			return nil, cause
		}
		return nil, err
	}
	if perr != nil {
		return nil, fmt.Errorf("identity: pairing: telling the client it is pending: %w", perr)
	}
	return grant, nil
}

// isTransportErr reports errors after which writing an error message is
// pointless: the channel itself failed.
func isTransportErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// cryptoPerm is a uniformly random permutation of [0, n): the order of
// offers says nothing about which code each is for.
func cryptoPerm(n int) ([]int, error) {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, fmt.Errorf("identity: pairing: shuffling offers: %w", err)
		}
		p[i], p[j.Int64()] = p[j.Int64()], p[i]
	}
	return p, nil
}

// PairResult is what a device takes away from pairing: its certificate
// and TLS key, and the CA certificate to pin for the daemon.
type PairResult struct {
	// DeviceID is the device's id, as the certificate names it.
	DeviceID string
	// ClientCert is the TLS client certificate (clientAuth) for Key.
	ClientCert    *x509.Certificate
	ClientCertDER []byte
	// CACert is the daemon's CA: pin it as the only root for the daemon.
	CACert    *x509.Certificate
	CACertDER []byte
	// Key is the TLS client key (P-256), generated by Pair. It is secret.
	Key *ecdsa.PrivateKey
}

// Pair runs the device's side of pairing on rw: secret is what the
// operator gave (6 digits or a token), binding identifies the transport
// channel as the daemon's end computes it (at least 16 bytes), dev is
// this device and kind
// what it pairs as. The daemon learns the device's identity key and a
// CSR only after both ends proved they derived the same key from the
// code; the result holds a certificate Pair checked (it chains to CACert,
// names dev, certifies Key, allows clientAuth). ctx bounds the exchange,
// approval wait included. A wrong code, another channel or a tampered
// message give ErrPairingFailed; the daemon's refusals give its sentinels.
func Pair(ctx context.Context, rw io.ReadWriter, binding []byte, secret string, dev *DeviceIdentity, kind ClientKind) (*PairResult, error) {
	if dev == nil {
		return nil, errors.New("identity: Pair: no device identity")
	}
	if _, err := ParseClientKind(string(kind)); err != nil {
		return nil, err
	}
	if err := checkBinding(binding); err != nil {
		return nil, err
	}
	codeID, prs, err := parsePairingSecret(secret)
	if err != nil {
		return nil, err
	}
	defer clear(prs)
	// The scalar's bytes: one share for the hello, rebuilt for each offer.
	// 64 bytes leave room for sampleScalar's (2^-252 likely) resample.
	seed := make([]byte, 64)
	sid := make([]byte, sidSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, fmt.Errorf("identity: pairing: %w", err)
	}
	defer clear(seed)
	if _, err := rand.Read(sid); err != nil {
		return nil, fmt.Errorf("identity: pairing: %w", err)
	}
	ci := channelID(binding)
	adA := adClient(string(kind), dev.ID())
	_, ya, err := cpace.StartWithRand(bytes.NewReader(seed), prs, ci, sid, adA, cpace.Initiator)
	if err != nil {
		return nil, fmt.Errorf("identity: pairing: %w", err)
	}

	c := &frameConn{rw: rw}
	hello := helloMsg{V: pairingVersion, Type: msgHello, Kind: string(kind), DeviceID: dev.ID(), CodeID: codeID, SID: sid, YA: ya}
	if err := c.write(ctx, "hello", hello); err != nil {
		return nil, err
	}
	p, err := c.read(ctx, "offers")
	if err != nil {
		return nil, err
	}
	offers, err := decodeOffers(p)
	if err != nil {
		return nil, err
	}
	if codeID != "" && len(offers.Offers) != 1 {
		return nil, protoErr("%d offers for a token, which names one code", len(offers.Offers))
	}
	chosen := -1
	var keys sessionKeys
	defer func() { keys.wipe() }()
	for i, o := range offers.Offers {
		st, _, err := cpace.StartWithRand(bytes.NewReader(seed), prs, ci, sid, adA, cpace.Initiator)
		if err != nil {
			return nil, fmt.Errorf("identity: pairing: %w", err)
		}
		isk, err := st.Finish(o.YB, []byte(adServer))
		if err != nil {
			_ = c.write(ctx, "abort", typeOnly{Type: msgAbort})
			return nil, protoErr("offer %d: %v", i, err)
		}
		k, err := deriveKeys(isk)
		clear(isk)
		if err != nil {
			return nil, err
		}
		if chosen < 0 && hmac.Equal(o.MAC, serverConfirmMAC(k)) {
			chosen, keys = i, k
		} else {
			k.wipe()
		}
	}
	if chosen < 0 {
		_ = c.write(ctx, "abort", typeOnly{Type: msgAbort})
		return nil, fmt.Errorf("%w: no offer from the daemon confirms a key (wrong code, or another channel)", ErrPairingFailed)
	}
	if err := c.write(ctx, "confirm", confirmMsg{Type: msgConfirm, Offer: chosen, MAC: clientConfirmMAC(keys)}); err != nil {
		return nil, err
	}
	if p, err = c.read(ctx, "confirmed"); err != nil {
		return nil, err
	}
	if err := decodeConfirmed(p); err != nil {
		return nil, err
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("identity: pairing: TLS key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "Palyra Device " + dev.ID()},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("identity: pairing: CSR: %w", err)
	}
	req := requestMsg{
		Type:        msgRequest,
		IdentityKey: dev.PublicKey(),
		Signature:   ed25519.Sign(dev.Signer(), signedRequest(keys)),
		CSR:         csr,
	}
	req.MAC = requestMAC(keys, &req)
	if err := c.write(ctx, "request", req); err != nil {
		return nil, err
	}

	var grant *grantMsg
	for pending := false; grant == nil; pending = true {
		if p, err = c.read(ctx, "grant"); err != nil {
			return nil, err
		}
		if grant, err = decodeGrant(p); err != nil {
			return nil, err
		}
		if grant == nil {
			if pending {
				return nil, protoErr("second pending notice")
			}
			slog.InfoContext(ctx, "pairing: waiting for the operator to approve this device", "device_id", dev.ID())
		}
	}
	if !hmac.Equal(grant.MAC, grantMAC(keys, grant)) {
		return nil, fmt.Errorf("%w: grant MAC does not verify", ErrPairingFailed)
	}
	return checkGrant(grant, dev.ID(), key)
}

// checkGrant verifies what the daemon issued before the device relies on
// it. Chains are checked at the certificate's NotBefore, not by this
// device's clock: a device pairing for the first time may have a clock
// off by more than the CA's backdating, and TLS checks validity at use.
func checkGrant(g *grantMsg, deviceID string, key *ecdsa.PrivateKey) (*PairResult, error) {
	ca, err := x509.ParseCertificate(g.CACert)
	if err != nil {
		return nil, protoErr("CA certificate: %v", err)
	}
	if !ca.IsCA {
		return nil, protoErr("the CA certificate is not a CA")
	}
	cert, err := x509.ParseCertificate(g.ClientCert)
	if err != nil {
		return nil, protoErr("client certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: cert.NotBefore,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}); err != nil {
		return nil, protoErr("client certificate does not verify under the CA: %v", err)
	}
	id, err := DeviceIDFromCert(cert)
	if err != nil {
		return nil, protoErr("client certificate: %v", err)
	}
	if id != deviceID {
		return nil, protoErr("client certificate names device %s, not %s", id, deviceID)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(key.Public()) {
		return nil, protoErr("client certificate is not for the key this device generated")
	}
	return &PairResult{
		DeviceID:      id,
		ClientCert:    cert,
		ClientCertDER: bytes.Clone(g.ClientCert),
		CACert:        ca,
		CACertDER:     bytes.Clone(g.CACert),
		Key:           key,
	}, nil
}
