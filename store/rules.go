package store

import (
	"github.com/google/uuid"

	"github.com/meetgraph/meetgraph/apperr"
)

// The authorization rules of the write path, one function per rule, so
// that they can be reviewed and tested in one place.

// RequireCreateMeeting allows users with the create_meeting permission.
func RequireCreateMeeting(user *User) error {
	if !user.Can(PermissionCreateMeeting) {
		return apperr.New(apperr.Forbidden, "creating meetings requires the %s permission", PermissionCreateMeeting)
	}

	return nil
}

// RequireOperator allows users with the operator permission, who may see
// dead letters and retry tasks.
func RequireOperator(user *User) error {
	if !user.Can(PermissionOperator) {
		return apperr.New(apperr.Forbidden, "this operation requires the %s permission", PermissionOperator)
	}

	return nil
}

// RequireHost allows only a host of the meeting: its creator or a
// participant with the HOST role.
func RequireHost(meetingID uuid.UUID, role string, isCreator bool) error {
	if isCreator || role == roleHost {
		return nil
	}

	return apperr.New(apperr.Forbidden, "only a host of meeting %s may do this", meetingID)
}

// RequireMember allows the meeting's creator and its participants.
func RequireMember(meetingID uuid.UUID, role string, isCreator bool) error {
	if isCreator || role != "" {
		return nil
	}

	return apperr.New(apperr.Forbidden, "only participants of meeting %s may do this", meetingID)
}

// RequireMayJoin allows anyone to join a public meeting and only invited
// users to join a private one.
func RequireMayJoin(meeting *Meeting, invited bool) error {
	if meeting.Visibility == VisibilityPublic || invited {
		return nil
	}

	return apperr.New(apperr.Forbidden, "meeting %s is private and you are not invited", meeting.ID)
}

// RequireTaskOwner allows the user who requested the task, a host of its
// meeting and operators to cancel it.
func RequireTaskOwner(task *Task, user *User, isHost bool) error {
	if isHost || user.Can(PermissionOperator) || (task.RequestedBy != nil && *task.RequestedBy == user.ID) {
		return nil
	}

	return apperr.New(apperr.Forbidden, "only the user who requested task %s, a host or an operator may cancel it", task.ID)
}
