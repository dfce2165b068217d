package playground

import (
	"crypto/sha256"
	"encoding/base64"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// newTestServer mounts the handler the way the gateway does and serves it on
// a loopback port.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()

	h := New("meetgraph", "/query")
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("/playground/", h)

	server := httptest.NewServer(mux)
	t.Cleanup(server.Close)

	return server
}

func fetch(t *testing.T, method, url string) (*http.Response, []byte) {
	t.Helper()

	request, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}

	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer response.Body.Close()

	body, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatalf("read body of %s %s: %v", method, url, err)
	}

	return response, body
}

// pageReference is one script or stylesheet tag on the page.
type pageReference struct {
	tag       string
	url       string
	integrity string
}

var (
	tagPattern       = regexp.MustCompile(`(?s)<(script|link)\b[^>]*>`)
	urlPattern       = regexp.MustCompile(`\b(?:src|href)="([^"]*)"`)
	integrityPattern = regexp.MustCompile(`\bintegrity="([^"]*)"`)
)

// parseReferences returns every script and link tag on the page that has a
// src or href attribute. Attribute values are unescaped as a browser does,
// because html/template writes "+" in an integrity value as "&#43;".
func parseReferences(page string) []pageReference {
	var references []pageReference
	for _, tag := range tagPattern.FindAllString(page, -1) {
		url := urlPattern.FindStringSubmatch(tag)
		if url == nil {
			continue
		}

		reference := pageReference{tag: tag, url: html.UnescapeString(url[1])}
		if integrity := integrityPattern.FindStringSubmatch(tag); integrity != nil {
			reference.integrity = html.UnescapeString(integrity[1])
		}
		references = append(references, reference)
	}

	return references
}

func integrityOf(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestPageServedAtRoot(t *testing.T) {
	server := newTestServer(t)

	response, body := fetch(t, http.MethodGet, server.URL+"/")

	if response.StatusCode != http.StatusOK {
		t.Fatalf("GET / status = %d, expected 200", response.StatusCode)
	}
	if got := response.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
		t.Errorf("GET / Content-Type = %q, expected text/html", got)
	}
	if !strings.Contains(string(body), "<title>meetgraph</title>") {
		t.Errorf("GET / page does not contain the title meetgraph")
	}
	if !strings.Contains(string(body), `"/query"`) {
		t.Errorf("GET / page does not contain the endpoint \"/query\"")
	}
}

func TestPageHasNoRemoteURLs(t *testing.T) {
	server := newTestServer(t)

	_, body := fetch(t, http.MethodGet, server.URL+"/")
	page := string(body)

	references := parseReferences(page)
	if len(references) == 0 {
		t.Fatalf("page has no script or link tag with src or href:\n%s", page)
	}
	for _, reference := range references {
		if !strings.HasPrefix(reference.url, "/") || strings.HasPrefix(reference.url, "//") {
			t.Errorf("tag loads %q, expected a path on the same host: %s", reference.url, reference.tag)
		}
	}
	for _, scheme := range []string{`src="http`, `href="http`} {
		if strings.Contains(page, scheme) {
			t.Errorf("page contains %s", scheme)
		}
	}
}

func TestPageAssetsMatchIntegrity(t *testing.T) {
	server := newTestServer(t)

	_, body := fetch(t, http.MethodGet, server.URL+"/")
	references := parseReferences(string(body))

	for _, reference := range references {
		t.Run(reference.url, func(t *testing.T) {
			response, assetBody := fetch(t, http.MethodGet, server.URL+reference.url)

			if response.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, expected 200", response.StatusCode)
			}

			expectedType := contentTypes[path.Ext(reference.url)]
			if expectedType == "" {
				t.Fatalf("no expected content type for %q", reference.url)
			}
			if got := response.Header.Get("Content-Type"); got != expectedType {
				t.Errorf("Content-Type = %q, expected %q", got, expectedType)
			}

			if reference.integrity == "" {
				t.Fatalf("tag has no integrity attribute: %s", reference.tag)
			}
			if got := integrityOf(assetBody); got != reference.integrity {
				t.Errorf("integrity of served bytes = %q, page states %q", got, reference.integrity)
			}
			if !strings.Contains(reference.tag, `crossorigin="anonymous"`) {
				t.Errorf("tag has no crossorigin=\"anonymous\", which integrity checks need: %s", reference.tag)
			}

			if got := response.Header.Get("Cache-Control"); got != assetCacheControl {
				t.Errorf("Cache-Control = %q, expected %q", got, assetCacheControl)
			}
		})
	}
}

func TestPageReferencesEveryAsset(t *testing.T) {
	server := newTestServer(t)

	_, body := fetch(t, http.MethodGet, server.URL+"/")

	var referenced []string
	for _, reference := range parseReferences(string(body)) {
		referenced = append(referenced, strings.TrimPrefix(reference.url, assetPrefix))
	}
	sort.Strings(referenced)

	var embedded []string
	for name := range assets {
		embedded = append(embedded, name)
	}
	sort.Strings(embedded)

	if strings.Join(referenced, ",") != strings.Join(embedded, ",") {
		t.Errorf("page references %v, expected the embedded assets %v", referenced, embedded)
	}
}

// TestAssetsMatchUpstreamHashes pins the embedded files to the npm package
// contents. The first five hashes are the SRI values that gqlgen v0.17.98's
// playground.Handler uses for the same files on its default CDN. The explorer
// CSS hash is of dist/style.css in @graphiql/plugin-explorer 4.0.6, because
// gqlgen's CDN URL for it is a minified copy that the package does not contain.
func TestAssetsMatchUpstreamHashes(t *testing.T) {
	expected := map[string]string{
		graphiqlJSFile:  "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=",
		graphiqlCSSFile: "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU=",
		reactJSFile:     "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY=",
		reactDOMJSFile:  "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc=",
		explorerJSFile:  "sha256-UM8sWOS0Xa9yLY85q6Clh0pF4qpxX+TOcJ41flECqBs=",
		explorerCSSFile: "sha256-aJCaSuI7+t/EWRrLTis8jU9EFTua5/o7fnwxnroxDvE=",
	}

	for name, hash := range expected {
		file, ok := assets[name]
		if !ok {
			t.Errorf("asset %q is not embedded", name)
			continue
		}
		if file.integrity != hash {
			t.Errorf("asset %q integrity = %q, expected %q", name, file.integrity, hash)
		}
	}
}

func TestAssetHeadRequest(t *testing.T) {
	server := newTestServer(t)

	response, body := fetch(t, http.MethodHead, server.URL+assetPrefix+reactJSFile)

	if response.StatusCode != http.StatusOK {
		t.Fatalf("HEAD status = %d, expected 200", response.StatusCode)
	}
	if len(body) != 0 {
		t.Errorf("HEAD body has %d bytes, expected none", len(body))
	}
	if response.ContentLength != int64(len(assets[reactJSFile].body)) {
		t.Errorf("HEAD Content-Length = %d, expected %d", response.ContentLength, len(assets[reactJSFile].body))
	}
}

func TestAssetNotModified(t *testing.T) {
	server := newTestServer(t)
	url := server.URL + assetPrefix + reactJSFile

	first, _ := fetch(t, http.MethodGet, url)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatalf("GET %s has no ETag header", url)
	}

	request, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	request.Header.Set("If-None-Match", etag)

	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatalf("GET %s with If-None-Match: %v", url, err)
	}
	response.Body.Close()

	if response.StatusCode != http.StatusNotModified {
		t.Errorf("GET with If-None-Match status = %d, expected 304", response.StatusCode)
	}
}

func TestUnknownPathsNotFound(t *testing.T) {
	server := newTestServer(t)

	paths := []string{
		assetPrefix + "missing.js",
		assetPrefix,
		assetPrefix + "../playground.go",
		"/playground/",
		"/playground/assets",
		"/index.html",
		"/favicon.ico",
	}
	for _, requestPath := range paths {
		response, _ := fetch(t, http.MethodGet, server.URL+requestPath)
		if response.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s status = %d, expected 404", requestPath, response.StatusCode)
		}
	}
}

func TestNonGetMethodsRejected(t *testing.T) {
	server := newTestServer(t)

	cases := []struct {
		method string
		path   string
	}{
		{http.MethodPost, "/"},
		{http.MethodPost, assetPrefix + reactJSFile},
		{http.MethodPut, "/"},
		{http.MethodDelete, assetPrefix + graphiqlJSFile},
	}
	for _, c := range cases {
		response, _ := fetch(t, c.method, server.URL+c.path)
		if response.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s status = %d, expected 405", c.method, c.path, response.StatusCode)
		}
		if got := response.Header.Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s %s Allow = %q, expected \"GET, HEAD\"", c.method, c.path, got)
		}
	}
}
