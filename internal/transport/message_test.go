package transport

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRequestRoundTrip(t *testing.T) {
	reqs := []*Request{
		{ID: 1, Type: TypeList},
		{ID: 2, Type: TypeInfo, Info: &InfoRequest{Skill: "acme.echo"}},
		{ID: 3, Type: TypeCall, Call: &CallRequest{Skill: "acme.echo", Tool: "echo", Input: []byte{0, 1, 2, 0xff}, Timeout: 1500 * time.Millisecond, Report: true}},
		{ID: 1<<64 - 1, Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t"}},
		{ID: 4, Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t", Version: "1.2.0", Digest: "sha256:ab"}},
		{ID: 5, Type: TypeRenew, Renew: &RenewRequest{CSR: []byte{0x30, 0x82}}},
		{ID: 6, Type: TypeOffer, Offer: &OfferRequest{Skills: []SkillOffer{{ID: "acme.echo", Version: "1.0.0", Digest: "sha256:ab"}, {ID: "b", Version: "2", Digest: "d"}}}},
		{ID: 7, Type: TypeOffer, Offer: &OfferRequest{Skills: []SkillOffer{}}},
	}
	for _, req := range reqs {
		data, err := EncodeRequest(req)
		if err != nil {
			t.Fatalf("encode %+v: %v", req, err)
		}
		got, err := DecodeRequest(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if !reflect.DeepEqual(got, req) {
			t.Errorf("round trip of %s = %+v, want %+v", data, got, req)
		}
	}
	// A sub-millisecond timeout rounds up, never down to "the default".
	data, _ := EncodeRequest(&Request{ID: 1, Type: TypeCall, Call: &CallRequest{Skill: "s", Tool: "t", Timeout: time.Microsecond}})
	if got, _ := DecodeRequest(data); got.Call.Timeout != time.Millisecond {
		t.Errorf("1µs timeout went over the wire as %s (%s)", got.Call.Timeout, data)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	resps := []*Response{
		{ID: 1, Result: &Result{}},
		{ID: 2, Result: &Result{Output: []byte(`{"ok":true}`), Data: json.RawMessage(`{"logs":[]}`)}},
		{ID: 0, Error: &RemoteError{Code: CodeBadRequest, Message: "no"}},
		{ID: 9, Error: &RemoteError{Code: "schema_violation", Message: "input", ExitCode: 2, Detail: json.RawMessage(`{"path":"/x"}`)}},
	}
	for _, resp := range resps {
		data, err := EncodeResponse(resp)
		if err != nil {
			t.Fatalf("encode %+v: %v", resp, err)
		}
		got, err := DecodeResponse(data)
		if err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		if !reflect.DeepEqual(got, resp) {
			t.Errorf("round trip of %s = %+v, want %+v", data, got, resp)
		}
	}
}

func TestDecodeRequestIsStrict(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"empty", ``, "not an object"},
		{"not an object", `[1]`, "not an object"},
		{"unknown key", `{"v":1,"id":1,"type":"list","admin":true}`, `"admin"`},
		{"unknown key in the body", `{"v":1,"id":1,"type":"info","info":{"skill":"s","all":true}}`, `"all"`},
		{"case variant of a key", `{"V":1,"id":1,"type":"list"}`, `"V"`},
		{"case variant in the body", `{"v":1,"id":1,"type":"info","info":{"Skill":"s"}}`, `"Skill"`},
		{"Kelvin sign folding to k", "{\"v\":1,\"id\":1,\"type\":\"call\",\"call\":{\"s\u212aill\":\"s\",\"tool\":\"t\"}}", "unknown key"},
		{"duplicate key", `{"v":1,"id":1,"id":2,"type":"list"}`, `duplicate key "id"`},
		{"duplicate key in the body", `{"v":1,"id":1,"type":"info","info":{"skill":"a","skill":"b"}}`, `duplicate key "skill"`},
		{"null", `{"v":1,"id":1,"type":"list","call":null}`, "is null"},
		{"trailing data", `{"v":1,"id":1,"type":"list"} x`, "after the object"},
		{"two values", `{"v":1,"id":1,"type":"list"}{}`, "after the object"},
		{"missing version", `{"id":1,"type":"list"}`, "needs v, id and type"},
		{"other version", `{"v":2,"id":1,"type":"list"}`, "protocol version 2"},
		{"id zero", `{"v":1,"id":0,"type":"list"}`, "at least 1"},
		{"negative id", `{"v":1,"id":-1,"type":"list"}`, "cannot unmarshal"},
		{"fractional id", `{"v":1,"id":1.5,"type":"list"}`, "cannot unmarshal"},
		{"id as a string", `{"v":1,"id":"1","type":"list"}`, "cannot unmarshal"},
		{"unknown type", `{"v":1,"id":1,"type":"exec"}`, `unknown request type "exec"`},
		{"response type", `{"v":1,"id":1,"type":"result","result":{}}`, "response body"},
		{"call without its body", `{"v":1,"id":1,"type":"call"}`, "without its call body"},
		{"call with an info body", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t"},"info":{"skill":"s"}}`, "more than one body"},
		{"renew without a CSR", `{"v":1,"id":1,"type":"renew","renew":{"csr":""}}`, "needs a CSR"},
		{"renew without its body", `{"v":1,"id":1,"type":"renew"}`, "needs a CSR"},
		{"offer without its body", `{"v":1,"id":1,"type":"offer"}`, "offer body"},
		{"offer skill without a digest", `{"v":1,"id":1,"type":"offer","offer":{"skills":[{"id":"a","version":"1.0.0","digest":""}]}}`, "needs an id, a version and a digest"},
		{"unknown key in an offered skill", `{"v":1,"id":1,"type":"offer","offer":{"skills":[{"id":"a","version":"1","digest":"d","x":1}]}}`, `"x"`},
		{"call pins a version without a digest", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t","version":"1.0.0"}}`, "together"},
		{"list with a body", `{"v":1,"id":1,"type":"list","info":{"skill":"s"}}`, "takes no body"},
		{"call without a tool", `{"v":1,"id":1,"type":"call","call":{"skill":"s"}}`, "needs a skill and a tool"},
		{"negative timeout", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t","timeout_ms":-1}}`, "out of range"},
		{"huge timeout", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t","timeout_ms":9223372036854775}}`, "out of range"},
		{"input not base64", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t","input":"!!"}}`, "base64"},
		{"invalid UTF-8", "{\"v\":1,\"id\":1,\"type\":\"info\",\"info\":{\"skill\":\"\xff\"}}", "UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := DecodeRequest([]byte(tc.in))
			if err == nil {
				t.Fatalf("decoded %+v, want an error", req)
			}
			if !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadMessage mentioning %q", err, tc.want)
			}
		})
	}
}

func TestDecodeResponseIsStrict(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"both bodies", `{"v":1,"id":1,"type":"result","result":{},"error":{"code":"x"}}`, "exactly its result body"},
		{"error without body", `{"v":1,"id":1,"type":"error"}`, "exactly its error body"},
		{"result with id 0", `{"v":1,"id":0,"type":"result","result":{}}`, "id 0"},
		{"bad code", `{"v":1,"id":1,"type":"error","error":{"code":"Not-Found"}}`, "error code"},
		{"empty code", `{"v":1,"id":1,"type":"error","error":{"code":""}}`, "error code"},
		{"exit code out of range", `{"v":1,"id":1,"type":"error","error":{"code":"x","exit_code":300}}`, "exit code"},
		{"unknown key in error", `{"v":1,"id":1,"type":"error","error":{"code":"x","stack":"…"}}`, `"stack"`},
		{"request type", `{"v":1,"id":1,"type":"call","call":{"skill":"s","tool":"t"}}`, "request body"},
		{"unknown type", `{"v":1,"id":1,"type":"ok"}`, `unknown response type "ok"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := DecodeResponse([]byte(tc.in))
			if err == nil {
				t.Fatalf("decoded %+v, want an error", resp)
			}
			if !errors.Is(err, ErrBadMessage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want ErrBadMessage mentioning %q", err, tc.want)
			}
		})
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	if _, err := EncodeRequest(&Request{Type: TypeList}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("request id 0: %v", err)
	}
	if _, err := EncodeResponse(&Response{ID: 1, Result: &Result{Data: json.RawMessage(`{`)}}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("result data not JSON: %v", err)
	}
	if _, err := EncodeResponse(&Response{ID: 1}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("empty response: %v", err)
	}
}

func TestToRemoteError(t *testing.T) {
	coded := &RemoteError{Code: "not_installed", Message: "m"}
	cases := []struct {
		err  error
		code string
	}{
		{coded, "not_installed"},
		{errors.Join(errors.New("wrapped"), coded), "not_installed"},
		{context.DeadlineExceeded, CodeDeadlineExceeded},
		{context.Canceled, CodeCanceled},
		{errors.New("boom"), CodeInternal},
	}
	for _, tc := range cases {
		if got := toRemoteError(tc.err); got.Code != tc.code {
			t.Errorf("toRemoteError(%v).Code = %q, want %q", tc.err, got.Code, tc.code)
		}
	}
}
