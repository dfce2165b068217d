package resolvers

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/graph/model"
	"github.com/meetgraph/meetgraph/loaders"
	"github.com/meetgraph/meetgraph/store"
)

// storedID parses an id that came from the database, so a failure is a
// server fault, unlike parseID's BAD_USER_INPUT for client input.
func storedID(kind, id string) (uuid.UUID, error) {
	parsed, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("stored %s id %q: %w", kind, id, err)
	}

	return parsed, nil
}

// loadMeetingRelation loads one list relation of meeting through its loader.
func loadMeetingRelation[S, M any](ctx context.Context, meeting *model.Meeting, relation string,
	loader *loaders.Loader[uuid.UUID, []S], convert func(S) M,
) ([]M, error) {
	meetingID, err := storedID("meeting", meeting.ID)
	if err != nil {
		return nil, err
	}

	rows, err := loader.Load(ctx, meetingID)
	if err != nil {
		return nil, fmt.Errorf("load %s of meeting %s: %w", relation, meeting.ID, err)
	}

	return convertAll(rows, convert), nil
}

func convertAll[S, M any](rows []S, convert func(S) M) []M {
	models := make([]M, len(rows))
	for i, row := range rows {
		models[i] = convert(row)
	}

	return models
}

// participantModelFor converts participants for viewer. A host of the
// meeting sees every participant's e-mail address, so that they can reach
// the people they meet with; other viewers see only their own.
func participantModelFor(viewer uuid.UUID, viewerHosts bool) func(*store.Participant) *model.Participant {
	return func(p *store.Participant) *model.Participant {
		user := userModel(viewer, &p.User)
		if viewerHosts {
			user.Email = &p.User.Email
		}

		return &model.Participant{
			User:      user,
			Role:      model.ParticipantRole(p.Role),
			InvitedAt: p.InvitedAt,
			JoinedAt:  p.JoinedAt,
		}
	}
}

func recordingModel(r *store.Recording) *model.Recording {
	recording := &model.Recording{
		ID:                r.ID.String(),
		Status:            model.RecordingStatus(r.Status),
		ContentType:       r.ContentType,
		DurationSeconds:   r.DurationSeconds,
		FailureReason:     r.FailureReason,
		CreatedAt:         r.CreatedAt,
		PlaybackObjectKey: r.PlaybackObjectKey,
		MeetingID:         r.MeetingID.String(),
	}

	if r.SizeBytes != nil {
		size := float64(*r.SizeBytes)
		recording.SizeBytes = &size
	}

	return recording
}

func analysisModel(a *store.Analysis) *model.Analysis {
	analysis := &model.Analysis{
		Summary:   a.Summary,
		Keywords:  a.Keywords,
		UpdatedAt: a.UpdatedAt,
	}

	if analysis.Keywords == nil {
		analysis.Keywords = []string{}
	}

	if a.TranscriptText != nil {
		analysis.Transcript = &model.Transcript{
			Text: *a.TranscriptText,
			Segments: convertAll(a.TranscriptSegments, func(s store.TranscriptSegment) *model.TranscriptSegment {
				return &model.TranscriptSegment{Start: s.Start, End: s.End, Text: s.Text}
			}),
		}
	}

	return analysis
}

// hostsMeeting reports whether viewer created the meeting or is one of its
// hosts, read from the participants already loaded, so it costs no SQL.
func hostsMeeting(meeting *model.Meeting, participants []*store.Participant, viewer uuid.UUID) bool {
	if meeting.CreatorID == viewer.String() {
		return true
	}

	for _, p := range participants {
		if p.User.ID == viewer && p.Role == "HOST" {
			return true
		}
	}

	return false
}
