// Package playground serves a GraphiQL page whose scripts and stylesheets are
// embedded in the binary, so the page works without internet access.
//
// The page is gqlgen's playground.Handler with its CDN URLs replaced by local
// ones. playground/fetch-assets.sh downloads the asset files from the npm
// registry into playground/assets/.
package playground

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	gqlplayground "github.com/99designs/gqlgen/graphql/playground"
)

// assetPrefix is the URL path under which New serves the asset files.
const assetPrefix = "/playground/assets/"

// Asset file names in assets/. Each name carries its npm package version, so
// a file behind a given URL never changes and can be cached as immutable.
// fetch-assets.sh writes these files.
const (
	graphiqlJSFile  = "graphiql-4.1.2.min.js"
	graphiqlCSSFile = "graphiql-4.1.2.min.css"
	reactJSFile     = "react-18.2.0.production.min.js"
	reactDOMJSFile  = "react-dom-18.2.0.production.min.js"
	explorerJSFile  = "plugin-explorer-4.0.6.umd.js"
	explorerCSSFile = "plugin-explorer-4.0.6.css"
)

// assetCacheControl lets browsers keep an asset for a year without
// revalidating it, which is safe because the file names carry versions.
const assetCacheControl = "public, max-age=31536000, immutable"

//go:embed assets
var assetFS embed.FS

// asset is one embedded file with the values derived from its bytes.
type asset struct {
	body        []byte
	contentType string
	etag        string
	integrity   string
}

// assets maps a file name in assets/ to its contents. loadAssets panics at
// package initialization when a file named above is missing, because the page
// would then reference a URL that returns 404.
var assets = loadAssets()

func loadAssets() map[string]asset {
	names := []string{
		graphiqlJSFile, graphiqlCSSFile,
		reactJSFile, reactDOMJSFile,
		explorerJSFile, explorerCSSFile,
	}

	loaded := make(map[string]asset, len(names))
	for _, name := range names {
		body, err := fs.ReadFile(assetFS, "assets/"+name)
		if err != nil {
			panic(fmt.Sprintf("playground: read embedded asset %q failed: %v. Run playground/fetch-assets.sh to download the assets.", name, err))
		}

		contentType, ok := contentTypes[path.Ext(name)]
		if !ok {
			panic(fmt.Sprintf("playground: no content type for embedded asset %q", name))
		}

		sum := sha256.Sum256(body)
		loaded[name] = asset{
			body:        body,
			contentType: contentType,
			etag:        `"` + hex.EncodeToString(sum[:]) + `"`,
			integrity:   "sha256-" + base64.StdEncoding.EncodeToString(sum[:]),
		}
	}

	return loaded
}

// contentTypes is fixed here instead of taken from mime.TypeByExtension,
// because that function also reads the host's /etc/mime.types.
var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// handler serves the GraphiQL page at "/" and the embedded assets under
// assetPrefix.
type handler struct {
	page http.Handler
}

// New returns a handler that serves a GraphiQL page titled title, which sends
// queries to endpoint, at path "/" and its scripts and stylesheets under
// /playground/assets/. Other paths return 404, and methods other than GET and
// HEAD return 405.
//
// The page references its assets by absolute path, so mount the handler at the
// server root for both paths:
//
//	h := playground.New("meetgraph", "/query")
//	mux.Handle("/", h)
//	mux.Handle("/playground/", h)
func New(title, endpoint string) http.Handler {
	page := gqlplayground.Handler(title, endpoint,
		gqlplayground.WithGraphiqlVersion(
			assetURL(graphiqlJSFile), assetURL(graphiqlCSSFile),
			assets[graphiqlJSFile].integrity, assets[graphiqlCSSFile].integrity,
		),
		gqlplayground.WithGraphiqlReactVersion(
			assetURL(reactJSFile), assetURL(reactDOMJSFile),
			assets[reactJSFile].integrity, assets[reactDOMJSFile].integrity,
		),
		gqlplayground.WithGraphiqlPluginExplorerVersion(
			assetURL(explorerJSFile), assetURL(explorerCSSFile),
			assets[explorerJSFile].integrity, assets[explorerCSSFile].integrity,
		),
		gqlplayground.WithGraphiqlEnablePluginExplorer(true),
	)

	return &handler{page: page}
}

func assetURL(name string) string {
	return assetPrefix + name
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed: use GET or HEAD", http.StatusMethodNotAllowed)
		return
	}

	switch {
	case r.URL.Path == "/":
		h.servePage(w, r)
	case strings.HasPrefix(r.URL.Path, assetPrefix):
		serveAsset(w, r, strings.TrimPrefix(r.URL.Path, assetPrefix))
	default:
		http.NotFound(w, r)
	}
}

func (h *handler) servePage(w http.ResponseWriter, r *http.Request) {
	// The page names versioned asset URLs, so a browser must revalidate it to
	// pick up new asset versions after a deploy.
	w.Header().Set("Cache-Control", "no-cache")
	h.page.ServeHTTP(w, r)
}

func serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	file, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}

	header := w.Header()
	header.Set("Content-Type", file.contentType)
	header.Set("Cache-Control", assetCacheControl)
	header.Set("ETag", file.etag)
	header.Set("X-Content-Type-Options", "nosniff")

	// ServeContent handles HEAD, Range and If-None-Match. The zero modification
	// time leaves out Last-Modified, because embedded files have none.
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(file.body))
}
