package sdk

import (
	"fmt"
	"net/url"
)

// An HTTPRequest is a request for the host to send on the tool's behalf.
type HTTPRequest struct {
	// Method is the HTTP method; empty means GET. Hosts upper-case it.
	Method string
	// URL is the absolute http or https URL to request.
	URL string
	// Headers are the request's headers, one value each.
	Headers map[string]string
	// Body is the request's body, if any.
	Body []byte
}

// An HTTPResponse is what the host received.
type HTTPResponse struct {
	// Status is the HTTP status code. A 4xx or 5xx status is a response
	// like any other, not an error.
	Status int
	// Headers are the response's headers: names in lower case, repeated
	// values joined with ",". A host may report none: extism/go-sdk does
	// only with its EnableHttpResponseHeaders option.
	Headers map[string]string
	// Body is the whole response body; hosts bound its size.
	Body []byte
}

// Send asks the host to send req and returns the response (Extism's
// http_request, http_status_code and http_headers). The host applies the
// skill's egress policy: in Palyra, the skill.toml http_egress_allowlist
// as granted by the operator, checked again at every redirect.
//
// Send returns an error for a request it can tell is invalid before
// sending it: a URL that is not absolute http or https. Every other
// failure — a host not allowed ("HTTP request to '<url>' is not allowed"),
// a network error, a response larger than the host's limit — aborts the
// call in the host (a trap): the Extism ABI has no way to report it to the
// guest, so the tool cannot recover, and the caller sees the host's
// message as the call's error.
func Send(req HTTPRequest) (HTTPResponse, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return HTTPResponse{}, fmt.Errorf("sdk: HTTP request: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return HTTPResponse{}, fmt.Errorf("sdk: HTTP request: want an absolute http or https URL, not %q", req.URL)
	}
	if req.Method == "" {
		req.Method = "GET"
	}
	return httpSend(req)
}
