package resolvers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"strings"

	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
	"github.com/meetgraph/meetgraph/consumers"
	"github.com/meetgraph/meetgraph/graph/model"
	"github.com/meetgraph/meetgraph/store"
)

// hostedMeeting returns the meeting if the caller may see it and hosts it:
// NOT_FOUND when it is invisible, FORBIDDEN when the caller only attends,
// BAD_USER_INPUT when it was cancelled.
func (r *Resolver) hostedMeeting(ctx context.Context, id string) (*store.Meeting, error) {
	meeting, viewer, err := r.visibleMeeting(ctx, id)
	if err != nil {
		return nil, err
	}

	host, err := r.Store.IsMeetingHost(ctx, meeting.ID, viewer)
	if err != nil {
		return nil, err
	}

	if !host {
		return nil, apperr.New(apperr.Forbidden, "only a host of meeting %s may upload its recordings", id)
	}

	if meeting.Status == store.MeetingCancelled {
		return nil, apperr.New(apperr.BadUserInput, "meeting %s was cancelled and takes no recordings", id)
	}

	return meeting, nil
}

// newUploadingRecording inserts an UPLOADING recording of meeting with its raw object key.
func (r *Resolver) newUploadingRecording(ctx context.Context, meeting *store.Meeting, contentType string) (*store.Recording, error) {
	id := uuid.New()

	return r.Store.CreateRecording(ctx, store.NewRecording{
		ID: id, MeetingID: meeting.ID, Status: store.RecordingUploading, ContentType: contentType,
		RawObjectKey: consumers.RecordingPrefix(meeting.ID, id) + "raw",
	})
}

// recordingMediaType returns contentType in its canonical form when it is
// an audio or video media type, or application/octet-stream for a file of
// unknown type. The type is shown to clients later and stored with the S3
// object, so anything else, such as text/html or a value with a line
// break, is BAD_USER_INPUT.
func recordingMediaType(contentType string) (string, error) {
	mediaType, params, err := mime.ParseMediaType(contentType)

	kind, subtype, _ := strings.Cut(mediaType, "/")
	media := (kind == "audio" || kind == "video") && subtype != "" && subtype != "*"

	if err != nil || len(contentType) > maxContentTypeLength || (!media && mediaType != "application/octet-stream") {
		return "", badInput("contentType %q is not an audio or video media type: send one such as audio/wav or video/mp4",
			contentType)
	}

	return mime.FormatMediaType(mediaType, params), nil
}

// errEmptyUpload rejects a recording of 0 bytes, which processing would
// only fail on later.
var errEmptyUpload = apperr.New(apperr.BadUserInput, "the uploaded file is empty: send the recording's bytes")

// maxContentTypeLength bounds contentType, which real media types stay far
// below (audio/webm;codecs=opus has 22 characters).
const maxContentTypeLength = 255

// finishUpload marks the recording UPLOADED and, when the meeting has
// ended by now, queues its processing (endMeeting does that otherwise).
//
// NOTE: the status change and the task are two transactions. A crash
// between them leaves an UPLOADED recording that no task processes until
// endMeeting or a retry queues one.
func (r *Resolver) finishUpload(ctx context.Context, meeting *store.Meeting, recordingID uuid.UUID, size int64) (*model.Recording, error) {
	recording, meetingStatus, err := r.Store.MarkRecordingUploaded(ctx, recordingID, size)
	if err != nil {
		return nil, notFound(err, "uploading recording", recordingID.String())
	}

	// The meeting may have ended while the file streamed, so the decision
	// uses the status read by the update, not the one read before.
	if meetingStatus == store.MeetingEnded {
		taskID, err := r.Store.EnqueueTask(ctx, meeting.ID, &recording.ID, store.TaskKindRecording)
		if err != nil {
			return nil, fmt.Errorf("queue processing of recording %s: %w", recording.ID, err)
		}

		r.Logger.InfoContext(ctx, "recording processing queued", slog.String("meeting_id", meeting.ID.String()),
			slog.String("recording_id", recording.ID.String()), slog.String("task_id", taskID.String()))
	}

	return recordingModel(recording), nil
}

// failUpload marks a recording whose upload broke off or was rejected as
// FAILED, with a context of its own because the request's may be
// cancelled. A rejection's message becomes the failure reason. Other causes
// are internal, so the reason stays generic and the cause goes to the log.
func (r *Resolver) failUpload(ctx context.Context, recordingID uuid.UUID, cause error) {
	ctx = context.WithoutCancel(ctx)

	reason := "the upload did not complete"
	if rejection, ok := errors.AsType[*apperr.Error](cause); ok && rejection.Code == apperr.BadUserInput {
		reason = rejection.Message
	}

	if err := r.Store.SetRecordingStatus(ctx, recordingID, store.RecordingFailed, reason); err != nil {
		r.Logger.ErrorContext(ctx, "marking a broken upload failed did not work",
			slog.String("recording_id", recordingID.String()), slog.Any("error", err))
	}

	r.Logger.WarnContext(ctx, "recording upload failed", slog.String("recording_id", recordingID.String()),
		slog.Any("error", cause))
}
