// Package cpace implements the CPace balanced PAKE on ristretto255 with
// SHA-512, as specified by the CFRG draft draft-irtf-cfrg-cpace (the text
// tracked here is the cfrg/draft-irtf-cfrg-cpace repository at commit
// 8fb4056, the successor of draft-irtf-cfrg-cpace-02; its appendix
// "Test vector for CPace using group ristretto255 and hash SHA-512" is
// reproduced byte for byte by the tests).
//
// The package is the cryptographic core only: it derives the intermediate
// session key (ISK). Key confirmation, message framing, attempt counting and
// rate limiting belong to the caller (the pairing layer).
//
// Rules and checks:
//   - generator_string = lv_cat(DSI, PRS, zero_bytes(zpad), CI, sid) with
//     DSI "CPaceRistretto255" and s_in_bytes 128; the generator is
//     ristretto255 FromUniformBytes(SHA-512(generator_string)).
//   - Scalars are 32 random bytes with the bits above 252 cleared (the draft's
//     recommended sample_scalar); a zero scalar is resampled.
//   - The public share is the 32-byte ristretto255 encoding of y*g. A
//     received share that is not a canonical ristretto255 encoding, or whose
//     product with our scalar is the identity, is refused with
//     ErrInvalidPoint: the draft says the protocol MUST abort.
//   - ISK = SHA-512(lv_cat("CPaceRistretto255_ISK", sid, K) || transcript)
//     where transcript is transcript_ir = lv_cat(Ya,ADa) || lv_cat(Yb,ADb)
//     for initiator/responder roles and transcript_oc (ordered
//     concatenation, prefix "oc") for the symmetric role.
//   - A State is single use: the first Finish, successful or not, erases
//     the scalar; later calls fail with ErrFinished. StartWithRand
//     rebuilds a state from the caller's scalar bytes: a pairing client
//     answers each server offer (one per candidate code) with the one
//     share it sent, and tests run a party with a known scalar.
package cpace
