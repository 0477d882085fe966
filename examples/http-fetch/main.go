// Command http-fetch is an example Palyra skill: one tool, fetch, that
// GETs a URL through the host and returns the status and the body, cut to
// a size the caller chooses.
//
// The skill cannot open a socket: WASI preview 1 has none. Its requests go
// through the host (sdk.Send), which sends only those skill.toml's
// http_egress_allowlist names and the operator granted, redirects
// included. A request the host refuses ends the call with the host's
// error, naming the URL; the tool never sees it.
//
// Build it as a skill module:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o http-fetch.wasm .
//
// The tool's logic is in this file, built for every target so that it can
// be tested natively with sdktest; exports_wasip1.go exports it to the host.
package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"unicode/utf8"

	"github.com/palyra/palyra-go/sdk"
	"github.com/palyra/palyra-go/sdk/tool"
)

// main is never called: a c-shared module is a library whose host calls
// its exported tools. Go still requires it in a main package.
func main() {}

// Body limits, in bytes. The host holds the whole response in the
// skill's memory whatever the tool returns, so the memory quota in
// skill.toml bounds what can be fetched at all.
const (
	defaultMaxBytes = 64 << 10
	maxMaxBytes     = 1 << 20
)

// fetchInput is the fetch tool's input.
type fetchInput struct {
	// URL is the http or https URL to GET.
	URL string `json:"url"`
	// MaxBytes is how much of the body to return: 1 to 1 MiB, 64 KiB if
	// zero or absent.
	MaxBytes int `json:"max_bytes,omitempty"`
}

// fetchOutput is the fetch tool's result.
type fetchOutput struct {
	Status      int    `json:"status"`
	ContentType string `json:"content_type,omitempty"`
	// Body is the body as text, when it is valid UTF-8; otherwise
	// BodyBase64 holds it in base64.
	Body       string `json:"body,omitempty"`
	BodyBase64 string `json:"body_base64,omitempty"`
	// Bytes is the size of the whole body; Truncated is true when Body
	// holds less of it.
	Bytes     int  `json:"bytes"`
	Truncated bool `json:"truncated"`
}

// fetch is the fetch tool: sdk/tool decodes its input strictly, runs
// doFetch and sets its result or error. An HTTP error status is a result,
// not a failure: the caller decides what a 404 means.
func fetch() int32 { return tool.Run(tool.NoContext(doFetch), nil, 0, 0) }

func doFetch(in fetchInput) (fetchOutput, error) {
	if in.URL == "" {
		return fetchOutput{}, errors.New("url is required")
	}
	if in.MaxBytes == 0 {
		in.MaxBytes = defaultMaxBytes
	}
	if in.MaxBytes < 1 || in.MaxBytes > maxMaxBytes {
		return fetchOutput{}, fmt.Errorf("max_bytes %d: want 1 to %d", in.MaxBytes, maxMaxBytes)
	}
	resp, err := sdk.Send(sdk.HTTPRequest{
		Method:  "GET",
		URL:     in.URL,
		Headers: map[string]string{"User-Agent": "palyra-http-fetch/0.1"},
	})
	if err != nil {
		return fetchOutput{}, err
	}
	// The host only, never the URL: a query string may hold a token.
	if sdk.LogEnabled(sdk.LogInfo) {
		u, _ := url.Parse(in.URL) // Send parsed it already
		sdk.Log(sdk.LogInfo, fmt.Sprintf("GET %s: %d, %d bytes", u.Host, resp.Status, len(resp.Body)))
	}

	out := fetchOutput{Status: resp.Status, ContentType: resp.Headers["content-type"], Bytes: len(resp.Body)}
	body := resp.Body
	if len(body) > in.MaxBytes {
		body, out.Truncated = body[:in.MaxBytes], true
	}
	if text, ok := utf8Prefix(body, out.Truncated); ok {
		out.Body = text
	} else {
		out.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	}
	return out, nil
}

// utf8Prefix returns b as text if it is UTF-8. A cut body may end inside
// a character: then the incomplete character is dropped rather than the
// whole body sent as base64.
func utf8Prefix(b []byte, cut bool) (string, bool) {
	if utf8.Valid(b) {
		return string(b), true
	}
	if cut {
		for i := 1; i < utf8.UTFMax && i < len(b); i++ {
			if utf8.RuneStart(b[len(b)-i]) {
				if head := b[:len(b)-i]; utf8.Valid(head) {
					return string(head), true
				}
				break
			}
		}
	}
	return "", false
}
