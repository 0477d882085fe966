package cpace

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/gtank/ristretto255"
)

// Test vectors from draft-irtf-cfrg-cpace, appendix "Test vector for CPace
// using group ristretto255 and hash SHA-512" and the string utility
// appendices, as published in github.com/cfrg/draft-irtf-cfrg-cpace
// (draft-irtf-cfrg-cpace.md at commit 8fb4056e1b92, the editor's copy after
// draft-irtf-cfrg-cpace-02). Hex values are copied verbatim.

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test vector: %v", err)
	}
	return b
}

var (
	tvPRS = []byte("Password")
	tvCI  = []byte("\x0bA_initiator\x0bB_responder")
	tvSID = "7e4b4791d6a8ef019b936c79fb7f2c57"
	tvADa = []byte("ADa")
	tvADb = []byte("ADb")

	tvGenString = `
      11435061636552697374726574746f3235350850617373776f726464
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000000000000000000000000000
      00000000000000000000000000000000180b415f696e69746961746f
      720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
      2c57`
	tvGenHash = `
      da6d3ddc8802fca9058755ffd3ebde08a9c2c74945901a258482a288
      b6663af06bf645c93cd1c51512307199c80e84908916d983b34af772
      05f90851a657ee27`
	tvG  = "222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56"
	tvYa = "da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08"
	tvYA = "d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157"
	tvYb = "d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d"
	tvYB = "3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258"
	tvK  = "80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f"

	tvTranscriptIR = `
      20d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0e
      ec482b915703414461203ea7e0b19560d7c0b0f5734f63b955286dfa
      8232b5ebe63324e2d9e7433f725803414462`
	tvISKIR = `
      b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dc
      ae7b35cd2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c
      3fa2068af7900447`
	tvTranscriptOC = `
      6f6320d6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f
      8d0eec482b915703414461203ea7e0b19560d7c0b0f5734f63b95528
      6dfa8232b5ebe63324e2d9e7433f725803414462`
	tvISKOC = `
      544199d71f62f8d9a1fee55727e24fe4a45844593c2b6013c4fa3969
      d0e5debb2244675c0b43397cbb68d342b01fc0f98fc961469a25134d
      e9f0f813c1a57476`
)

func TestPrependLenVectors(t *testing.T) {
	r127 := make([]byte, 127)
	r128 := make([]byte, 128)
	for i := range r128 {
		r128[i] = byte(i)
		if i < 127 {
			r127[i] = byte(i)
		}
	}
	tests := []struct {
		in   []byte
		want []byte
	}{
		{nil, unhex(t, "00")},
		{[]byte("1234"), unhex(t, "0431323334")},
		{r127, append([]byte{0x7f}, r127...)},
		{r128, append([]byte{0x80, 0x01}, r128...)},
	}
	for _, tc := range tests {
		if got := prependLen(tc.in); !bytes.Equal(got, tc.want) {
			t.Errorf("prependLen(len %d) = %x, want %x", len(tc.in), got, tc.want)
		}
	}
	// lv_cat(b"1234",b"5",b"",b"678") from the draft.
	got := lvCat([]byte("1234"), []byte("5"), nil, []byte("678"))
	if want := unhex(t, "043132333401350003363738"); !bytes.Equal(got, want) {
		t.Errorf("lvCat = %x, want %x", got, want)
	}
}

func TestOrderedConcatVectors(t *testing.T) {
	larger := []struct {
		a, b string
		want bool
	}{
		{"\x00", "\x00\x00", false},
		{"\x01", "\x00\x00", true},
		{"\x00\x00", "\x00", true},
		{"\x00\x00", "\x01", false},
		{"\x00\x01", "\x01", false},
		{"ABCD", "BCD", false},
	}
	for _, tc := range larger {
		if got := lexicographicallyLarger([]byte(tc.a), []byte(tc.b)); got != tc.want {
			t.Errorf("lexicographicallyLarger(%q,%q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
	if got, want := oCat([]byte("ABCD"), []byte("BCD")), unhex(t, "6f6342434441424344"); !bytes.Equal(got, want) {
		t.Errorf("oCat = %x, want %x", got, want)
	}
	if got, want := oCat([]byte("BCD"), []byte("ABCDE")), unhex(t, "6f634243444142434445"); !bytes.Equal(got, want) {
		t.Errorf("oCat = %x, want %x", got, want)
	}
	trs := []struct {
		fn           func(a, b, c, d []byte) []byte
		ya, yb, want string
	}{
		{transcriptIR, "123", "234", "03313233065061727479410332333406506172747942"},
		{transcriptIR, "3456", "2345", "043334353606506172747941043233343506506172747942"},
		{transcriptOC, "123", "234", "6f6303323334065061727479420331323306506172747941"},
		{transcriptOC, "3456", "2345", "6f63043334353606506172747941043233343506506172747942"},
	}
	for i, tc := range trs {
		got := tc.fn([]byte(tc.ya), []byte("PartyA"), []byte(tc.yb), []byte("PartyB"))
		if want := unhex(t, tc.want); !bytes.Equal(got, want) {
			t.Errorf("transcript case %d = %x, want %x", i, got, want)
		}
	}
}

func TestGeneratorVectors(t *testing.T) {
	sid := unhex(t, tvSID)
	gs := generatorString([]byte(DSI), tvPRS, tvCI, sid, hashBlockSize)
	if want := unhex(t, tvGenString); !bytes.Equal(gs, want) {
		t.Fatalf("generator_string = %x\nwant %x", gs, want)
	}
	if h := sha512.Sum512(gs); !bytes.Equal(h[:], unhex(t, tvGenHash)) {
		t.Fatalf("hash(generator_string) = %x", h)
	}
	g := calculateGenerator(tvPRS, tvCI, sid).Encode(nil)
	if want := unhex(t, tvG); !bytes.Equal(g, want) {
		t.Fatalf("generator = %x, want %x", g, want)
	}
}

// TestDraftExchangeVectors runs both parties with the draft's scalars
// injected as randomness and checks Ya, Yb, K and both ISKs byte for byte.
func TestDraftExchangeVectors(t *testing.T) {
	sid := unhex(t, tvSID)
	for _, tc := range []struct {
		name     string
		ra, rb   Role
		wantISK  string
		wantTran string
	}{
		{"initiator-responder", Initiator, Responder, tvISKIR, tvTranscriptIR},
		{"parallel", Symmetric, Symmetric, tvISKOC, tvTranscriptOC},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, ya, err := start(bytes.NewReader(unhex(t, tvYa)), tvPRS, tvCI, sid, tvADa, tc.ra)
			if err != nil {
				t.Fatal(err)
			}
			b, yb, err := start(bytes.NewReader(unhex(t, tvYb)), tvPRS, tvCI, sid, tvADb, tc.rb)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tvYA); !bytes.Equal(ya, want) {
				t.Fatalf("Ya = %x, want %x", ya, want)
			}
			if want := unhex(t, tvYB); !bytes.Equal(yb, want) {
				t.Fatalf("Yb = %x, want %x", yb, want)
			}
			k, err := scalarMultVfy(a.y, yb)
			if err != nil || !bytes.Equal(k, unhex(t, tvK)) {
				t.Fatalf("K = %x, %v; want %s", k, err, tvK)
			}
			var tr []byte
			if tc.ra == Initiator {
				tr = transcriptIR(ya, tvADa, yb, tvADb)
			} else {
				tr = transcriptOC(ya, tvADa, yb, tvADb)
			}
			if want := unhex(t, tc.wantTran); !bytes.Equal(tr, want) {
				t.Fatalf("transcript = %x, want %x", tr, want)
			}
			iskA, err := a.Finish(yb, tvADb)
			if err != nil {
				t.Fatal(err)
			}
			iskB, err := b.Finish(ya, tvADa)
			if err != nil {
				t.Fatal(err)
			}
			want := unhex(t, tc.wantISK)
			if !bytes.Equal(iskA, want) || !bytes.Equal(iskB, want) {
				t.Fatalf("ISK A %x\nISK B %x\nwant  %x", iskA, iskB, want)
			}
		})
	}
}

func TestScalarMultVfyVectors(t *testing.T) {
	s := ristretto255.NewScalar()
	if err := s.Decode(unhex(t, "7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05")); err != nil {
		t.Fatal(err)
	}
	got, err := scalarMultVfy(s, unhex(t, "2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c"))
	if want := unhex(t, "7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e"); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("scalar_mult_vfy valid = %x, %v; want %x", got, err, want)
	}
	for name, y := range map[string]string{
		"Y_i1 not on group": "2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c",
		"Y_i2 identity":     strings.Repeat("00", 32),
	} {
		if _, err := scalarMultVfy(s, unhex(t, y)); !errors.Is(err, ErrInvalidPoint) {
			t.Errorf("%s: err = %v, want ErrInvalidPoint", name, err)
		}
	}
}

func exchange(t *testing.T, prsA, prsB, ciA, ciB []byte) (iskA, iskB []byte) {
	t.Helper()
	sid := []byte("session-0123456789")
	a, ma, err := Start(prsA, ciA, sid, []byte("A"), Initiator)
	if err != nil {
		t.Fatal(err)
	}
	b, mb, err := Start(prsB, ciB, sid, []byte("B"), Responder)
	if err != nil {
		t.Fatal(err)
	}
	if len(ma) != PointSize || len(mb) != PointSize {
		t.Fatalf("message sizes %d, %d", len(ma), len(mb))
	}
	if iskA, err = a.Finish(mb, []byte("B")); err != nil {
		t.Fatal(err)
	}
	if iskB, err = b.Finish(ma, []byte("A")); err != nil {
		t.Fatal(err)
	}
	if len(iskA) != ISKSize || len(iskB) != ISKSize {
		t.Fatalf("ISK sizes %d, %d", len(iskA), len(iskB))
	}
	return iskA, iskB
}

func TestExchange(t *testing.T) {
	ci := []byte("tls-exporter-binding")
	tests := []struct {
		name      string
		prsB, ciB []byte
		wantEqual bool
	}{
		{"same code", []byte("123456"), ci, true},
		{"wrong code", []byte("123457"), ci, false},
		{"other channel", []byte("123456"), []byte("relayed-binding"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := exchange(t, []byte("123456"), tc.prsB, ci, tc.ciB)
			if bytes.Equal(a, b) != tc.wantEqual {
				t.Fatalf("ISKs equal = %v, want %v", !tc.wantEqual, tc.wantEqual)
			}
		})
	}
	// Fresh scalars: two successful runs give different keys.
	a1, _ := exchange(t, []byte("123456"), []byte("123456"), ci, ci)
	a2, _ := exchange(t, []byte("123456"), []byte("123456"), ci, ci)
	if bytes.Equal(a1, a2) {
		t.Fatal("two sessions produced the same ISK")
	}
}

func TestFinishRefusesBadPeer(t *testing.T) {
	g := ristretto255.NewElement().Base().Encode(nil)
	nonCanonical := bytes.Clone(g)
	nonCanonical[0] ^= 1 // flips the sign: negative s is not canonical
	for name, peer := range map[string][]byte{
		"identity":      make([]byte, 32),
		"short":         g[:31],
		"long":          append(bytes.Clone(g), 0),
		"empty":         nil,
		"non-canonical": nonCanonical,
		"all ff":        bytes.Repeat([]byte{0xff}, 32),
	} {
		t.Run(name, func(t *testing.T) {
			st, _, err := Start([]byte("pw"), nil, nil, nil, Initiator)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Finish(peer, nil); !errors.Is(err, ErrInvalidPoint) {
				t.Fatalf("Finish(%x) err = %v, want ErrInvalidPoint", peer, err)
			}
			// The aborted state cannot be retried with another share.
			if _, err := st.Finish(g, nil); !errors.Is(err, ErrFinished) {
				t.Fatalf("Finish after abort err = %v, want ErrFinished", err)
			}
		})
	}
}

func TestStateSingleUse(t *testing.T) {
	a, ma, err := Start([]byte("pw"), nil, nil, nil, Initiator)
	if err != nil {
		t.Fatal(err)
	}
	b, mb, err := Start([]byte("pw"), nil, nil, nil, Responder)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Finish(mb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Finish(mb, nil); !errors.Is(err, ErrFinished) {
		t.Fatalf("second Finish err = %v, want ErrFinished", err)
	}
	if _, err := b.Finish(ma, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Start(nil, nil, nil, nil, Role(0)); !errors.Is(err, ErrRole) {
		t.Fatalf("bad role err = %v, want ErrRole", err)
	}
}

func TestSampleScalarClearsHighBits(t *testing.T) {
	// All-ones input must be reduced to 2^252-1 by clearing the top bits,
	// and an all-zero draw must be resampled.
	in := append(make([]byte, 32), bytes.Repeat([]byte{0xff}, 32)...)
	y, err := sampleScalar(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte{0xff}, 32)
	want[31] = 0x0f
	if got := y.Encode(nil); !bytes.Equal(got, want) {
		t.Fatalf("scalar = %x, want %x", got, want)
	}
}

func FuzzFinish(f *testing.F) {
	f.Add(ristretto255.NewElement().Base().Encode(nil), []byte("ad"))
	f.Add(make([]byte, 32), []byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 32), []byte("x"))
	f.Add([]byte{1, 2, 3}, []byte(nil))
	f.Fuzz(func(t *testing.T, peer, ad []byte) {
		st, _, err := Start([]byte("pw"), []byte("ci"), []byte("sid"), []byte("me"), Initiator)
		if err != nil {
			t.Fatal(err)
		}
		isk, err := st.Finish(peer, ad)
		if err != nil {
			if !errors.Is(err, ErrInvalidPoint) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if len(peer) != PointSize || len(isk) != ISKSize {
			t.Fatalf("accepted %d-byte peer, ISK %d bytes", len(peer), len(isk))
		}
		var p = ristretto255.NewElement()
		if p.Decode(peer) != nil || p.Equal(ristretto255.NewElement().Zero()) == 1 {
			t.Fatalf("accepted invalid or identity peer %x", peer)
		}
	})
}

func TestStartWithRandRebuildsTheSameState(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	prs, ci, sid := []byte("pw"), []byte("ci"), []byte("sid")
	_, yb1, _ := Start(prs, ci, sid, []byte("b"), Responder)
	_, yb2, _ := Start(prs, ci, sid, []byte("b"), Responder)
	a1, ya1, err := StartWithRand(bytes.NewReader(seed), prs, ci, sid, []byte("a"), Initiator)
	if err != nil {
		t.Fatal(err)
	}
	a2, ya2, err := StartWithRand(bytes.NewReader(seed), prs, ci, sid, []byte("a"), Initiator)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ya1, ya2) {
		t.Fatal("same scalar bytes gave different shares")
	}
	k1, err1 := a1.Finish(yb1, []byte("b"))
	k2, err2 := a2.Finish(yb2, []byte("b"))
	if err1 != nil || err2 != nil || bytes.Equal(k1, k2) {
		t.Fatalf("two peer shares answered by one share: %v %v, equal ISKs %v", err1, err2, bytes.Equal(k1, k2))
	}
	if _, _, err := StartWithRand(bytes.NewReader(nil), prs, ci, sid, nil, Initiator); err == nil {
		t.Fatal("no randomness accepted")
	}
}
