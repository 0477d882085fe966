package identity

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gtank/ristretto255"

	"github.com/palyra/palyra-go/internal/cpace"
)

// The key property of the PAKE: the transcript of a failed attempt does
// not let its holder test guesses offline. The attacker here is the
// strongest one a failed attempt makes: the client itself, who knows its
// own scalar, and who records every byte both ways.

// attackTranscript is what the attacker holds after one attempt.
type attackTranscript struct {
	binding  []byte
	hello    helloMsg
	helloRaw []byte // the hello payload as sent
	offers   []offer
	seed     []byte // the attacker's scalar bytes
}

// attackerAttempt runs one attempt as the attacker: a hello for guess
// with a scalar the attacker keeps, then it reads the offers and aborts.
func attackerAttempt(t *testing.T, serve serverFunc, guess string) (*attackTranscript, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dev := newDevice(t)
	tr := &attackTranscript{binding: randBinding(t), seed: make([]byte, 64)}
	sid := make([]byte, sidSize)
	rand.Read(tr.seed)
	rand.Read(sid)
	adA := adClient(string(KindCLI), dev.ID())
	_, ya, err := cpace.StartWithRand(bytes.NewReader(tr.seed), pinPRS(guess), channelID(tr.binding), sid, adA, cpace.Initiator)
	if err != nil {
		t.Fatal(err)
	}
	tr.hello = helloMsg{V: 1, Type: msgHello, Kind: string(KindCLI), DeviceID: dev.ID(), SID: sid, YA: ya}

	c, s := net.Pipe()
	srv := make(chan error, 1)
	go func() {
		_, err := serve(ctx, s, "203.0.113.9:1", tr.binding)
		s.Close()
		srv <- err
	}()
	fc := &frameConn{rw: c}
	frame, _ := encodeFrame(tr.hello)
	tr.helloRaw = frame[4:]
	if err := fc.write(ctx, "hello", tr.hello); err != nil {
		t.Fatal(err)
	}
	p, err := fc.read(ctx, "offers")
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeOffers(p)
	if err != nil {
		t.Fatal(err)
	}
	tr.offers = m.Offers
	fc.write(ctx, "abort", typeOnly{Type: msgAbort})
	c.Close()
	return tr, <-srv
}

// offlineAttack runs, for every 6-digit candidate in [lo, hi), every check
// the attacker can compute from the transcript and its own secrets, and
// returns the candidates some check accepts:
//   - CPace: the ISK the attacker would share with the daemon had it sent
//     the share of candidate c (same scalar); an offer whose MAC verifies
//     under it singles c out;
//   - proof in the handshake: an offer MAC equal to HMAC(code, hello ||
//     share), as a protocol that sends a proof of the code does.
func offlineAttack(tr *attackTranscript, lo, hi int) []string {
	ci := channelID(tr.binding)
	adA := adClient(tr.hello.Kind, tr.hello.DeviceID)
	// K = y*Yb does not depend on the candidate (only the share the
	// attacker pretends to have sent does), so it is computed once per
	// offer; the ISK is then the draft's hash over the candidate's
	// transcript (the right-guess check in the test validates this).
	ks := make([][]byte, len(tr.offers))
	var b [32]byte
	copy(b[:], tr.seed)
	b[31] &= 0x0f // the draft's sample_scalar, as cpace draws it
	y := ristretto255.NewScalar()
	if err := y.Decode(b[:]); err != nil {
		panic(err)
	}
	for i, o := range tr.offers {
		yb := ristretto255.NewElement()
		if err := yb.Decode(o.YB); err != nil {
			continue
		}
		ks[i] = ristretto255.NewElement().ScalarMult(y, yb).Encode(nil)
	}
	isk := func(k, ya, yb []byte) []byte {
		h := sha512.New()
		h.Write(lvCat([]byte(cpace.DSI+"_ISK"), tr.hello.SID, k))
		h.Write(lvCat(ya, adA))
		h.Write(lvCat(yb, []byte(adServer)))
		return h.Sum(nil)
	}
	verifies := func(o offer, isk []byte) bool {
		keys, err := deriveKeys(isk)
		if err != nil {
			panic(err)
		}
		return hmac.Equal(o.MAC, serverConfirmMAC(keys))
	}
	var mu sync.Mutex
	var hits []string
	check := func(code string) bool {
		prs := pinPRS(code)
		_, yaC, err := cpace.StartWithRand(bytes.NewReader(tr.seed), prs, ci, tr.hello.SID, adA, cpace.Initiator)
		if err != nil {
			panic(err)
		}
		for i, o := range tr.offers {
			if hmac.Equal(o.MAC, naiveMAC(prs, tr.helloRaw, o.YB)) {
				return true
			}
			if ks[i] == nil {
				continue
			}
			// The ISK over the recorded share (the attacker's own guess)
			// is the same for every candidate, so it cannot single one
			// out; it says whether the online guess was right, which
			// the candidate equal to the guess covers here.
			if verifies(o, isk(ks[i], yaC, o.YB)) {
				return true
			}
		}
		return false
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := lo + w; n < hi; n += workers {
				code := fmt.Sprintf("%06d", n)
				if check(code) {
					mu.Lock()
					hits = append(hits, code)
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	return hits
}

// naiveMAC is the proof-in-handshake construction: a MAC keyed by the
// code itself over the transcript.
func naiveMAC(prs, hello, yb []byte) []byte {
	h := hmac.New(sha256.New, prs)
	h.Write(hello)
	h.Write(yb)
	return h.Sum(nil)
}

// naiveServer answers a hello like ServePairing does but proves the code
// with naiveMAC: what the test must catch.
func naiveServer(code string) serverFunc {
	return func(ctx context.Context, rw io.ReadWriter, peer string, binding []byte) (*Device, error) {
		fc := &frameConn{rw: rw}
		p, err := fc.read(ctx, "hello")
		if err != nil {
			return nil, err
		}
		if _, err := decodeHello(p); err != nil {
			return nil, err
		}
		yb := randomPoint()
		if err := fc.write(ctx, "offers", offersMsg{Type: msgOffers, Offers: []offer{{YB: yb, MAC: naiveMAC(pinPRS(code), p, yb)}}}); err != nil {
			return nil, err
		}
		fc.read(ctx, "abort")
		return nil, ErrPairingFailed
	}
}

// attackRange is 10,000 codes around code; race builds and -short take
// 1,000 (the attack is CPU-bound).
func attackRange(code string) (lo, hi int) {
	n := atoiOrZero(code)
	size := 10000
	if raceEnabled || testing.Short() {
		size = 1000
	}
	lo = n / size * size
	return lo, lo + size
}

func TestFailedAttemptTranscriptResistsOfflineGuessing(t *testing.T) {
	m, _, _ := newPairingManager(t, ManagerOptions{})
	pc := mint(t, m, CodeOptions{})
	lo, hi := attackRange(pc.Code)
	guess := fmt.Sprintf("%06d", lo+(atoiOrZero(pc.Code)-lo+1)%(hi-lo)) // wrong, in range

	start := time.Now()
	tr, err := attackerAttempt(t, managerServer(m), guess)
	if !errors.Is(err, ErrPairingFailed) {
		t.Fatalf("daemon: %v, want ErrPairingFailed", err)
	}
	hits := offlineAttack(tr, lo, hi)
	if len(hits) != 0 && len(hits) != hi-lo {
		t.Fatalf("the failed attempt's transcript singles out %v among %d candidates", hits, hi-lo)
	}
	t.Logf("PAKE transcript: %d of %d candidates pass (%v)", len(hits), hi-lo, time.Since(start))

	// The attack's CPace check is real: a transcript where the guess was
	// right singles out exactly that guess (the one online guess).
	right, err := attackerAttempt(t, managerServer(m), pc.Code)
	if !errors.Is(err, ErrPairingFailed) { // the attacker aborts anyway
		t.Fatalf("daemon: %v", err)
	}
	n := atoiOrZero(pc.Code)
	if hits := offlineAttack(right, max(lo, n-50), min(hi, n+50)); len(hits) != 1 || hits[0] != pc.Code {
		t.Fatalf("the attack does not recognise a right online guess: hits %v", hits)
	}

	// And against a proof-in-handshake daemon the same attack wins.
	start = time.Now()
	naive, err := attackerAttempt(t, naiveServer(pc.Code), guess)
	if !errors.Is(err, ErrPairingFailed) {
		t.Fatalf("naive daemon: %v", err)
	}
	if hits := offlineAttack(naive, lo, hi); len(hits) != 1 || hits[0] != pc.Code {
		t.Fatalf("against the naive variant the attack found %v, want exactly the code", hits)
	}
	t.Logf("naive transcript: the code is singled out (%v)", time.Since(start))
}
