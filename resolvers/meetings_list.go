package resolvers

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/graph/model"
	"github.com/meetgraph/meetgraph/store"
)

// Bounds of meetings(first).
const (
	minPageSize = 1
	maxPageSize = 100
)

// encodeCursor makes the opaque cursor of a meeting: base64url of its
// created_at (RFC 3339 with microseconds, as PostgreSQL stores it) and id.
func encodeCursor(m *store.Meeting) string {
	raw := m.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + m.ID.String()

	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// decodeCursor reverses encodeCursor; any other input is BAD_USER_INPUT.
func decodeCursor(cursor string) (*store.MeetingCursor, error) {
	invalid := apperr.New(apperr.BadUserInput,
		"invalid cursor %q: pass the cursor of an edge from an earlier meetings page", cursor)

	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return nil, invalid
	}

	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return nil, invalid
	}

	createdAt, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return nil, invalid
	}

	meetingID, err := uuid.Parse(id)
	if err != nil {
		return nil, invalid
	}

	return &store.MeetingCursor{CreatedAt: createdAt, ID: meetingID}, nil
}

// meetingListFilter checks the meetings arguments before any SQL runs. It
// asks for one row more than first, which tells whether a next page exists.
func meetingListFilter(viewer uuid.UUID, first *int, after *string, status *model.MeetingStatus) (store.MeetingListFilter, error) {
	size := 20
	if first != nil {
		size = *first
	}

	if size < minPageSize || size > maxPageSize {
		return store.MeetingListFilter{}, apperr.New(apperr.BadUserInput,
			"invalid first %d: it must be between %d and %d", size, minPageSize, maxPageSize)
	}

	filter := store.MeetingListFilter{Viewer: viewer, Limit: size + 1}

	if after != nil {
		cursor, err := decodeCursor(*after)
		if err != nil {
			return store.MeetingListFilter{}, err
		}

		filter.After = cursor
	}

	if status != nil {
		if !status.IsValid() {
			return store.MeetingListFilter{}, apperr.New(apperr.BadUserInput, "invalid status %q", *status)
		}

		filter.Status = string(*status)
	}

	return filter, nil
}

// meetingConnection builds the page from rows fetched with a limit of
// pageSize + 1.
func meetingConnection(rows []*store.Meeting, pageSize int) *model.MeetingConnection {
	page := &model.PageInfo{HasNextPage: len(rows) > pageSize}
	if page.HasNextPage {
		rows = rows[:pageSize]
	}

	edges := make([]*model.MeetingEdge, len(rows))
	for i, row := range rows {
		edges[i] = &model.MeetingEdge{Cursor: encodeCursor(row), Node: meetingModel(row)}
	}

	if len(edges) > 0 {
		page.StartCursor = &edges[0].Cursor
		page.EndCursor = &edges[len(edges)-1].Cursor
	}

	return &model.MeetingConnection{Edges: edges, PageInfo: page}
}
