// Package media stores recordings in S3-compatible object storage and runs
// ffmpeg and ffprobe on them.
package media

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ObjectStoreConfig sets where objects are stored.
type ObjectStoreConfig struct {
	// Endpoint is the server's URL, for example http://127.0.0.1:9000; https selects TLS.
	Endpoint  string
	AccessKey string
	SecretKey string
	Bucket    string
	Region    string
}

// ObjectStore reads and writes objects in one bucket.
type ObjectStore struct {
	client *minio.Client
	bucket string
	host   string
}

// NewObjectStore returns a client for config's bucket. It does not contact the server.
func NewObjectStore(config ObjectStoreConfig) (*ObjectStore, error) {
	endpoint, err := url.Parse(config.Endpoint)
	if err != nil || endpoint.Host == "" || (endpoint.Scheme != "http" && endpoint.Scheme != "https") {
		return nil, fmt.Errorf("invalid S3 endpoint %q: want a URL such as http://127.0.0.1:9000", config.Endpoint)
	}

	if config.Bucket == "" {
		return nil, fmt.Errorf("S3 bucket name is empty")
	}

	client, err := minio.New(endpoint.Host, &minio.Options{
		Creds:  credentials.NewStaticV4(config.AccessKey, config.SecretKey, ""),
		Secure: endpoint.Scheme == "https",
		Region: config.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("create S3 client for %s: %w", endpoint.Host, err)
	}

	return &ObjectStore{client: client, bucket: config.Bucket, host: endpoint.Host}, nil
}

// Address returns the server's host:port and the bucket, for messages.
func (s *ObjectStore) Address() string {
	return s.host + "/" + s.bucket
}

// Bucket returns the bucket's name.
func (s *ObjectStore) Bucket() string {
	return s.bucket
}

// Client returns the minio-go client.
func (s *ObjectStore) Client() *minio.Client {
	return s.client
}

// Ping checks that the server answers and that the bucket exists.
func (s *ObjectStore) Ping(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("reach S3 at %s: %w", s.host, err)
	}

	if !exists {
		return fmt.Errorf("S3 bucket %q does not exist at %s", s.bucket, s.host)
	}

	return nil
}

// EnsureBucket creates the bucket when it does not exist yet.
func (s *ObjectStore) EnsureBucket(ctx context.Context) error {
	exists, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("reach S3 at %s: %w", s.host, err)
	}

	if exists {
		return nil
	}

	if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("create S3 bucket %q at %s: %w", s.bucket, s.host, err)
	}

	return nil
}

// PresignGet returns a URL that downloads key without credentials until
// expiry passes.
func (s *ObjectStore) PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error) {
	presigned, err := s.client.PresignedGetObject(ctx, s.bucket, key, expiry, nil)
	if err != nil {
		return "", fmt.Errorf("presign download of %s: %w", key, err)
	}

	return presigned.String(), nil
}
