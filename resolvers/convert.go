package resolvers

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/auth"
	"github.com/meetgraph/meetgraph/graph/model"
	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/store"
)

// parseID checks a client-supplied id before any SQL runs.
func parseID(kind, id string) (uuid.UUID, error) {
	parsed, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, apperr.New(apperr.BadUserInput, "invalid %s id %q: expected a UUID", kind, id)
	}

	return parsed, nil
}

// visibleMeeting returns the meeting with the client-supplied id and the
// signed-in viewer, or NOT_FOUND when the viewer may not see it.
func (r *Resolver) visibleMeeting(ctx context.Context, id string) (*store.Meeting, uuid.UUID, error) {
	meetingID, err := parseID("meeting", id)
	if err != nil {
		return nil, uuid.Nil, err
	}

	viewer, err := auth.UserID(ctx)
	if err != nil {
		return nil, uuid.Nil, err
	}

	meeting, err := r.Store.MeetingForViewer(ctx, meetingID, viewer)
	if err != nil {
		return nil, uuid.Nil, notFound(err, "meeting", id)
	}

	return meeting, viewer, nil
}

// notFound turns store.ErrNotFound into a NOT_FOUND error for the client
// and leaves other errors as they are.
func notFound(err error, kind, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return apperr.Wrap(err, apperr.NotFound, kind+" "+id+" not found")
	}

	return err
}

// viewerID returns the signed-in caller, or uuid.Nil, which matches no user.
func viewerID(ctx context.Context) uuid.UUID {
	viewer, err := auth.UserID(ctx)
	if err != nil {
		return uuid.Nil
	}

	return viewer
}

// userModel converts u for the caller viewer: the e-mail address is shown
// to its owner only.
func userModel(viewer uuid.UUID, u *store.User) *model.User {
	user := &model.User{ID: u.ID.String(), Name: u.Name}
	if viewer == u.ID {
		user.Email = &u.Email
	}

	return user
}

func meetingModel(m *store.Meeting) *model.Meeting {
	return &model.Meeting{
		ID:          m.ID.String(),
		Title:       m.Title,
		Status:      model.MeetingStatus(m.Status),
		Visibility:  model.MeetingVisibility(m.Visibility),
		ScheduledAt: m.ScheduledAt,
		StartedAt:   m.StartedAt,
		EndedAt:     m.EndedAt,
		CreatedAt:   m.CreatedAt,
		CreatorID:   m.CreatorID.String(),
	}
}

func taskModel(t *store.Task) *model.Task {
	return &model.Task{
		ID:         t.ID.String(),
		Kind:       model.TaskKind(t.Kind),
		Status:     model.TaskStatus(t.Status),
		Progress:   t.Progress,
		Attempts:   t.Attempts,
		LastError:  t.LastError,
		LastSeq:    t.LastSeq,
		CreatedAt:  t.CreatedAt,
		UpdatedAt:  t.UpdatedAt,
		StartedAt:  t.StartedAt,
		FinishedAt: t.FinishedAt,
		MeetingID:  t.MeetingID.String(),
	}
}

// meetingForOperator returns the meeting with id when the caller holds the
// operator permission, whose dead-letter tools span every meeting, and
// store.ErrNotFound for everyone else.
func (r *Resolver) meetingForOperator(ctx context.Context, id uuid.UUID) (*store.Meeting, error) {
	viewer, err := auth.UserID(ctx)
	if err != nil {
		return nil, err
	}

	user, err := loaders.From(ctx).Users.Load(ctx, viewer)
	if err != nil {
		return nil, err
	}

	if !user.Can(store.PermissionOperator) {
		return nil, store.ErrNotFound
	}

	return r.Store.MeetingByID(ctx, id)
}
