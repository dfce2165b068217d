package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
)

// uploadPartSize is the multipart part size for streams of unknown length.
// minio-go buffers one part per upload, so this bounds an upload's memory
// (the default for unknown sizes would be 512 MiB per upload).
const uploadPartSize = 16 << 20

// ErrObjectNotFound is returned when a key does not exist in the bucket.
var ErrObjectNotFound = errors.New("object not found")

// Put streams r to key without reading it into memory beyond one part, and
// returns the stored size. size is -1 when unknown.
func (s *ObjectStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (int64, error) {
	info, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    uploadPartSize,
	})
	if err != nil {
		return 0, fmt.Errorf("upload %s to %s: %w", key, s.Address(), err)
	}

	return info.Size, nil
}

// PutFile uploads the file at path to key.
func (s *ObjectStore) PutFile(ctx context.Context, key, path, contentType string) (int64, error) {
	info, err := s.client.FPutObject(ctx, s.bucket, key, path, minio.PutObjectOptions{
		ContentType: contentType,
		PartSize:    uploadPartSize,
	})
	if err != nil {
		return 0, fmt.Errorf("upload %s to %s: %w", path, key, err)
	}

	return info.Size, nil
}

// Download writes the object at key to the file at path.
func (s *ObjectStore) Download(ctx context.Context, key, path string) error {
	object, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("download %s from %s: %w", key, s.Address(), err)
	}
	defer object.Close()

	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}

	_, copyErr := io.Copy(file, object)
	closeErr := file.Close()

	if copyErr != nil {
		return fmt.Errorf("download %s from %s: %w", key, s.Address(), objectError(copyErr))
	}

	if closeErr != nil {
		return fmt.Errorf("write %s: %w", path, closeErr)
	}

	return nil
}

// Size returns the size in bytes of the object at key, or ErrObjectNotFound.
func (s *ObjectStore) Size(ctx context.Context, key string) (int64, error) {
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return 0, fmt.Errorf("stat %s in %s: %w", key, s.Address(), objectError(err))
	}

	return info.Size, nil
}

// Remove deletes the object at key; a missing key is not an error.
func (s *ObjectStore) Remove(ctx context.Context, key string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("remove %s from %s: %w", key, s.Address(), err)
	}

	return nil
}

// PresignPut returns a URL that uploads key with an HTTP PUT without
// credentials until expiry passes.
func (s *ObjectStore) PresignPut(ctx context.Context, key string, expiry time.Duration) (string, error) {
	presigned, err := s.client.PresignedPutObject(ctx, s.bucket, key, expiry)
	if err != nil {
		return "", fmt.Errorf("presign upload of %s: %w", key, err)
	}

	return presigned.String(), nil
}

// objectError maps S3's "no such key" to ErrObjectNotFound.
func objectError(err error) error {
	response := minio.ToErrorResponse(err)
	if response.StatusCode == http.StatusNotFound || response.Code == "NoSuchKey" {
		return fmt.Errorf("%w: %w", ErrObjectNotFound, err)
	}

	return err
}
