package resolvers_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type httpResult struct {
	status      int
	contentType string
	allow       string
	body        string
}

func (g *gateway) send(t *testing.T, method, query string, header map[string]string, body string) httpResult {
	t.Helper()

	request, err := http.NewRequestWithContext(t.Context(), method, g.endpoint+query, strings.NewReader(body))
	require.NoError(t, err)

	for name, value := range header {
		request.Header.Set(name, value)
	}

	response, err := http.DefaultClient.Do(request)
	require.NoError(t, err)

	defer response.Body.Close()

	raw, err := io.ReadAll(response.Body)
	require.NoError(t, err)

	return httpResult{
		status:      response.StatusCode,
		contentType: response.Header.Get("Content-Type"),
		allow:       response.Header.Get("Allow"),
		body:        string(raw),
	}
}

func TestGraphQLOverHTTPStatusCodes(t *testing.T) {
	t.Parallel()

	g := setup(t)

	const (
		graphQLResponse = "application/graphql-response+json; charset=utf-8"
		plainJSON       = "application/json; charset=utf-8"
	)

	jsonBody := map[string]string{"Content-Type": "application/json", "Accept": "application/graphql-response+json"}
	legacyBody := map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
	apollo := map[string]string{
		"Content-Type": "application/json",
		"Accept":       "application/graphql-response+json,application/json;q=0.9",
	}

	cases := []struct {
		name        string
		method      string
		query       string
		header      map[string]string
		body        string
		status      int
		contentType string
		bodyHas     string
	}{
		{"post query", "POST", "", jsonBody, `{"query":"{ __typename }"}`, 200, graphQLResponse, `"Query"`},
		{"apollo accept", "POST", "", apollo, `{"query":"{ __typename }"}`, 200, graphQLResponse, `"Query"`},
		{"no accept means json", "POST", "", map[string]string{"Content-Type": "application/json"},
			`{"query":"{ __typename }"}`, 200, plainJSON, `"Query"`},
		{"unacceptable accept", "POST", "", map[string]string{"Content-Type": "application/json", "Accept": "text/html"},
			`{"query":"{ __typename }"}`, 406, plainJSON, "unsupported Accept"},
		{"missing query", "POST", "", jsonBody, `{"variables":{}}`, 400, graphQLResponse, "missing query"},
		{"query not a string", "POST", "", jsonBody, `{"query":1}`, 400, graphQLResponse, "query must not be a JSON number"},
		{"variables not an object", "POST", "", jsonBody, `{"query":"{ __typename }","variables":"x"}`, 400, graphQLResponse, "variables must not be a JSON string"},
		{"operation name not a string", "POST", "", jsonBody, `{"query":"{ __typename }","operationName":5}`, 400, graphQLResponse, "operationName must not be a JSON number"},
		{"body not JSON", "POST", "", jsonBody, `{query`, 400, graphQLResponse, "invalid JSON request body"},
		{"syntax error", "POST", "", jsonBody, `{"query":"{ meeting("}`, 400, graphQLResponse, "GRAPHQL_PARSE_FAILED"},
		{"syntax error legacy json", "POST", "", legacyBody, `{"query":"{ meeting("}`, 200, plainJSON, "GRAPHQL_PARSE_FAILED"},
		{"unknown field", "POST", "", jsonBody, `{"query":"{ nope }"}`, 400, graphQLResponse, "GRAPHQL_VALIDATION_FAILED"},
		{"unknown operation name", "POST", "", jsonBody, `{"query":"query A { __typename }","operationName":"B"}`, 400, graphQLResponse, "operation B not found"},
		{"field error is 200", "POST", "", jsonBody, `{"query":"{ me { id } }"}`, 200, graphQLResponse, "UNAUTHENTICATED"},
		{"get query", "GET", "?query=" + url.QueryEscape("{ __typename }"), map[string]string{"Accept": "application/graphql-response+json"},
			"", 200, graphQLResponse, `"Query"`},
		{"get missing query", "GET", "", map[string]string{"Accept": "application/graphql-response+json"},
			"", 400, graphQLResponse, "missing query parameter"},
		{"get bad variables", "GET", "?query=" + url.QueryEscape("{ __typename }") + "&variables=%5B", map[string]string{"Accept": "application/graphql-response+json"},
			"", 400, graphQLResponse, "invalid variables parameter"},
		{"put", "PUT", "", jsonBody, `{"query":"{ __typename }"}`, 405, graphQLResponse, "method PUT is not allowed"},
		{"subscription without a stream", "POST", "", jsonBody,
			`{"query":"subscription { taskUpdated(id: \"00000000-0000-0000-0000-000000000001\") { seq } }"}`,
			400, graphQLResponse, "Accept: text/event-stream"},
		{"get subscription", "GET", "?query=" + url.QueryEscape(`subscription { taskUpdated(id: "00000000-0000-0000-0000-000000000001") { seq } }`),
			map[string]string{"Accept": "application/graphql-response+json"}, "", 400, graphQLResponse, "Accept: text/event-stream"},
		{"text body", "POST", "", map[string]string{"Content-Type": "text/plain"}, `{ __typename }`, 415, plainJSON, "unsupported Content-Type"},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			result := g.send(t, c.method, c.query, c.header, c.body)
			assert.Equal(t, c.status, result.status, result.body)
			assert.Equal(t, c.contentType, result.contentType)
			assert.Contains(t, result.body, c.bodyHas)
		})
	}
}

func TestGraphQLOverHTTPGetNeverMutates(t *testing.T) {
	t.Parallel()

	g := setup(t)

	result := g.send(t, "GET", "?query="+url.QueryEscape("mutation { __typename }"),
		map[string]string{"Accept": "application/graphql-response+json"}, "")

	// 405 once the schema has mutations, 400 (validation) while it has none;
	// never a 200 that ran the operation.
	assert.Contains(t, []int{http.StatusBadRequest, http.StatusMethodNotAllowed}, result.status, result.body)
	assert.NotContains(t, result.body, `"data"`)

	put := g.send(t, "PUT", "", map[string]string{"Content-Type": "application/json"}, `{}`)
	assert.Equal(t, "GET, POST, OPTIONS", put.allow)
}

func TestDeferredAnalysisArrivesAsMultipartMixed(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")
	ids := g.addFullMeetings(t, alice, 1)

	body := `{"query":"query($id: ID!) { meeting(id: $id) { title ... @defer(label: \"slow\") { analysis { summary } } } }",` +
		`"variables":{"id":"` + ids[0].String() + `"}}`
	result := g.send(t, "POST", "", map[string]string{
		"Content-Type":  "application/json",
		"Accept":        "multipart/mixed;deferSpec=20220824,application/json",
		"Authorization": "Bearer " + g.token(t, alice),
	}, body)

	require.Equal(t, http.StatusOK, result.status, result.body)
	assert.True(t, strings.HasPrefix(result.contentType, "multipart/mixed"), result.contentType)
	assert.Contains(t, result.body, `"hasNext":true`)
	assert.Contains(t, result.body, `"incremental":[{"data":{"analysis":{"summary":"A greeting."}}`)
	assert.Contains(t, result.body, `"label":"slow"`)
	assert.Contains(t, result.body, `"hasNext":false`)
}

// gqlgen's multipart transport writes its own errors for a malformed
// upload, and each still needs a code that clients can branch on.
func TestMalformedUploadErrorHasCode(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")

	body := "--boundary\r\n" +
		"Content-Disposition: form-data; name=\"map\"\r\n\r\n{}\r\n" +
		"--boundary--\r\n"
	result := g.send(t, "POST", "", map[string]string{
		"Content-Type":  "multipart/form-data; boundary=boundary",
		"Authorization": "Bearer " + g.token(t, alice),
	}, body)

	require.Equal(t, http.StatusUnprocessableEntity, result.status, result.body)
	assert.Contains(t, result.body, `"message":"first part must be operations"`)
	assert.Contains(t, result.body, `"code":"BAD_USER_INPUT"`)
}

// A variable that the schema's validation lets through but that does not
// coerce to its scalar is the client's mistake, not the server's.
func TestUncoercibleArgumentIsBadInput(t *testing.T) {
	t.Parallel()

	g := setup(t)
	alice := g.addUser(t, "Alice")

	meeting := g.addFullMeetings(t, alice, 1)[0]

	for name, variable := range map[string]any{"string": "abc", "object": map[string]any{"a": 1}} {
		response, _ := g.query(t, alice, `mutation($m: ID!, $f: Upload!) { uploadRecording(meetingId: $m, file: $f) { id } }`,
			map[string]any{"m": meeting.String(), "f": variable})
		require.Len(t, response.Errors, 1, name)
		assert.Equal(t, "BAD_USER_INPUT", response.Errors[0].Code(), name)
		assert.Contains(t, response.Errors[0].Message, "multipart", name)
	}
}
