package media

import (
	"github.com/dustin/go-humanize"

	"github.com/meetgraph/meetgraph/apperr"
)

// DefaultMaxUploadBytes is the default recording upload limit: 2 GiB.
const DefaultMaxUploadBytes int64 = 2 << 30

// UploadLimitError is the BAD_USER_INPUT error for a recording larger than
// limit bytes. size is the request's or the file's size.
func UploadLimitError(size, limit int64) *apperr.Error {
	return apperr.New(apperr.BadUserInput, "the upload is %s, larger than the recording upload limit of %s (%d bytes)",
		humanize.IBytes(uint64(size)), humanize.IBytes(uint64(limit)), limit)
}
