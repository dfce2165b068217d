package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/meetgraph/meetgraph/apperr"
)

// The GraphQL-over-HTTP specification
// (https://graphql.github.io/graphql-over-http/draft/) fixes the media
// types, status codes and request checks below. gqlgen v0.17.98's own GET
// and POST transports differ from it in four places. They return 422
// instead of 200 for an invalid document sent with Accept:
// application/json, and 406 instead of 405 for a mutation over GET. They
// return 400 for an unsupported method or media type, and they report no
// missing query until validation.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
)

// acceptedRequestTypes are the POST bodies some transport takes:
// application/json for queries, mutations, @defer and SSE subscriptions,
// and multipart/form-data for file uploads.
var acceptedRequestTypes = []string{mediaJSON, "multipart/form-data"}

// streamingResponseTypes are Accept values that a streaming transport
// (multipart/mixed for @defer, text/event-stream for SSE) handles.
var streamingResponseTypes = []string{"multipart/mixed", "text/event-stream"}

// checkGraphQLRequest rejects, before gqlgen reads them, the requests that no
// transport may take: another method (405), a POST body of another media
// type (415), or an Accept header that names no type the endpoint can send
// (406). WebSocket upgrades pass through.
func checkGraphQLRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			next.ServeHTTP(w, r)

			return
		}

		switch r.Method {
		case http.MethodGet, http.MethodOptions:
		case http.MethodPost:
			mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || !containsFold(acceptedRequestTypes, mediaType) {
				writeRequestError(w, r, http.StatusUnsupportedMediaType,
					fmt.Sprintf("unsupported Content-Type %q: send application/json", r.Header.Get("Content-Type")))

				return
			}
		default:
			w.Header().Set("Allow", "GET, POST, OPTIONS")
			writeRequestError(w, r, http.StatusMethodNotAllowed,
				fmt.Sprintf("method %s is not allowed: use POST, or GET for queries", r.Method))

			return
		}

		if _, ok := negotiateResponseType(r.Header.Get("Accept")); !ok && !acceptsStreaming(r) {
			writeRequestError(w, r, http.StatusNotAcceptable,
				fmt.Sprintf("unsupported Accept %q: accept %s or %s", r.Header.Get("Accept"), mediaGraphQLResponse, mediaJSON))

			return
		}

		next.ServeHTTP(w, r)
	})
}

// negotiateResponseType picks the response media type from an Accept
// header: the first supported type with a non-zero quality, and
// application/json when the header is missing, as the specification
// requires for clients written before application/graphql-response+json
// existed.
func negotiateResponseType(accept string) (string, bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}

	for part := range strings.SplitSeq(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" || params["q"] == "0.0" {
			continue
		}

		switch mediaType {
		case mediaGraphQLResponse, "application/*", "*/*":
			return mediaGraphQLResponse, true
		case mediaJSON:
			return mediaJSON, true
		}
	}

	return "", false
}

func acceptsStreaming(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	for _, media := range streamingResponseTypes {
		if strings.Contains(accept, media) {
			return true
		}
	}

	return false
}

// postTransport runs queries and mutations sent as a JSON POST body.
type postTransport struct{}

var _ graphql.Transport = postTransport{}

func (postTransport) Supports(r *http.Request) bool {
	if r.Method != http.MethodPost || r.Header.Get("Upgrade") != "" {
		return false
	}

	mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))

	return err == nil && mediaType == mediaJSON
}

// requestBody is the JSON body of a POST. Pointer and map fields tell a
// missing member from an empty one, and decoding fails on members of the
// wrong JSON type.
type requestBody struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
	Extensions    map[string]any `json:"extensions"`
}

func (postTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()

	var body requestBody

	// limitRequest has already bounded the body to the configured size.
	decoder := json.NewDecoder(r.Body)
	// gqlgen expects numbers in variables as json.Number.
	decoder.UseNumber()

	if err := decoder.Decode(&body); err != nil {
		writeRequestError(w, r, http.StatusBadRequest, "invalid JSON request body: "+describeDecodeError(err))

		return
	}

	if (body.Query == nil || strings.TrimSpace(*body.Query) == "") && !isPersistedQuery(body.Extensions) {
		writeRequestError(w, r, http.StatusBadRequest, "missing query: the body must be a JSON object with a query string")

		return
	}

	query := ""
	if body.Query != nil {
		query = *body.Query
	}

	params := &graphql.RawParams{
		Query:      query,
		Variables:  body.Variables,
		Extensions: body.Extensions,
		Headers:    r.Header,
		ReadTime:   graphql.TraceTiming{Start: start, End: graphql.Now()},
	}
	if body.OperationName != nil {
		params.OperationName = *body.OperationName
	}

	execute(w, r, exec, params, false)
}

// getTransport runs queries sent in the URL; GET never runs a mutation.
type getTransport struct{}

var _ graphql.Transport = getTransport{}

func (getTransport) Supports(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("Upgrade") == ""
}

func (getTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	start := graphql.Now()

	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeRequestError(w, r, http.StatusBadRequest, "invalid URL query string: "+err.Error())

		return
	}

	params := &graphql.RawParams{
		Query:         values.Get("query"),
		OperationName: values.Get("operationName"),
		Headers:       r.Header,
	}

	for name, target := range map[string]*map[string]any{"variables": &params.Variables, "extensions": &params.Extensions} {
		raw := values.Get(name)
		if raw == "" {
			continue
		}

		decoder := json.NewDecoder(strings.NewReader(raw))
		decoder.UseNumber()

		if err := decoder.Decode(target); err != nil {
			writeRequestError(w, r, http.StatusBadRequest,
				fmt.Sprintf("invalid %s parameter: it must be a JSON object (%s)", name, describeDecodeError(err)))

			return
		}
	}

	if strings.TrimSpace(params.Query) == "" && !isPersistedQuery(params.Extensions) {
		writeRequestError(w, r, http.StatusBadRequest, "missing query parameter: send ?query=<GraphQL document>")

		return
	}

	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}
	execute(w, r, exec, params, true)
}

// execute validates and runs one operation and writes its response with
// the status code that the specification gives for the negotiated media
// type.
func execute(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor, params *graphql.RawParams, queryOnly bool) {
	ctx := r.Context()
	mediaType, _ := negotiateResponseType(r.Header.Get("Accept"))

	opCtx, errs := exec.CreateOperationContext(ctx, params)
	if errs != nil {
		// A document that does not parse or validate is a request error:
		// 400 for application/graphql-response+json, while
		// application/json returns 200 for every well-formed request.
		status := http.StatusOK
		if mediaType == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}

		// Nothing internal runs before an operation context exists, so an
		// error here without a code (a persisted query whose hash does not
		// match, for one) is about the request itself.
		for _, err := range errs {
			if err.Extensions == nil {
				err.Extensions = map[string]any{}
			}

			if _, ok := err.Extensions["code"]; !ok {
				err.Extensions["code"] = string(apperr.BadUserInput)
			}
		}

		presented := exec.DispatchError(graphql.WithOperationContext(ctx, opCtx), errs)
		writeJSONResponse(w, mediaType, status, requestErrors{Errors: presented.Errors})

		return
	}

	// A subscription sent here would run until the request timeout and
	// return only its first event. The streaming transports take it first
	// when the client asks for them.
	if opCtx.Operation.Operation == ast.Subscription {
		writeRequestError(w, r, http.StatusBadRequest,
			"a subscription streams its events: send it with the header Accept: text/event-stream (SSE), "+
				"or over a WebSocket (graphql-transport-ws or graphql-ws)")

		return
	}

	if queryOnly && opCtx.Operation.Operation != ast.Query {
		w.Header().Set("Allow", "POST")
		writeRequestError(w, r, http.StatusMethodNotAllowed,
			fmt.Sprintf("GET runs queries only: send this %s with POST", opCtx.Operation.Operation))

		return
	}

	responses, ctx := exec.DispatchOperation(ctx, opCtx)

	response := responses(ctx)
	if response == nil {
		// gqlgen returns no response at all when the request's context ended
		// before execution: the client left, or the request timeout passed.
		writeJSONResponse(w, mediaType, http.StatusServiceUnavailable, requestErrors{Errors: gqlerror.List{{
			Message:    "request timed out: the server stopped it at its time limit; retry, or ask for less",
			Extensions: map[string]any{"code": string(apperr.Unavailable)},
		}}})

		return
	}

	writeJSONResponse(w, mediaType, http.StatusOK, response)
}

// writeRequestError rejects a request that is not a well-formed
// GraphQL-over-HTTP request with a BAD_USER_INPUT error. No operation ran,
// so data is absent.
func writeRequestError(w http.ResponseWriter, r *http.Request, status int, message string) {
	mediaType, ok := negotiateResponseType(r.Header.Get("Accept"))
	if !ok {
		mediaType = mediaJSON
	}

	writeJSONResponse(w, mediaType, status, requestErrors{Errors: gqlerror.List{{
		Message:    message,
		Extensions: map[string]any{"code": string(apperr.BadUserInput)},
	}}})
}

// requestErrors is the response to a request error: the specification
// requires the data member to be absent, where graphql.Response always
// writes "data": null.
type requestErrors struct {
	Errors gqlerror.List `json:"errors"`
}

func writeJSONResponse(w http.ResponseWriter, mediaType string, status int, response any) {
	encoded, err := json.Marshal(response)
	if err != nil {
		// Resolved values are JSON already, so only a broken marshaller gets here.
		status = http.StatusInternalServerError
		encoded = []byte(`{"errors":[{"message":"internal error: the response could not be encoded"}]}`)
	}

	w.Header().Set("Content-Type", mediaType+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(encoded)
}

// isPersistedQuery reports whether a request names its query by hash only,
// as Apollo's persisted-queries link does first; gqlgen's APQ extension
// then supplies the query or answers PersistedQueryNotFound.
func isPersistedQuery(extensions map[string]any) bool {
	_, ok := extensions["persistedQuery"].(map[string]any)

	return ok
}

func describeDecodeError(err error) string {
	if typeErr, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("%s must not be a JSON %s", typeErr.Field, typeErr.Value)
	}

	if tooLarge, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return fmt.Sprintf("the body is larger than the limit of %d bytes", tooLarge.Limit)
	}

	return err.Error()
}

func containsFold(list []string, value string) bool {
	for _, item := range list {
		if strings.EqualFold(item, value) {
			return true
		}
	}

	return false
}
