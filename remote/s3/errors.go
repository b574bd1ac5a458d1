package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/dv-ml/dv/remote"
)

// Error is a failed S3 operation. It matches one of remote's sentinels
// (ErrNotFound, ErrNoBucket, ErrAuth, ErrPrecondition, ErrUnreachable) with
// errors.Is when the cause is known, and unwraps to the SDK's error.
type Error struct {
	Op       string // put, get, stat, list, delete, put-if
	URL      string // s3://bucket/key
	Endpoint string // empty for AWS
	Kind     error  // a remote sentinel, or nil
	Detail   string // the S3 error code or network cause, for the message
	Err      error  // the SDK's error
}

// Error returns one line naming the object, the cause and what to do. It
// quotes the SDK's own text only for causes it does not know.
func (e *Error) Error() string {
	head := fmt.Sprintf("s3 %s %s", e.Op, e.URL)
	if e.Kind == nil {
		return fmt.Sprintf("%s: %v", head, e.Err)
	}
	msg := fmt.Sprintf("%s: %v", head, e.Kind)
	if e.Detail != "" {
		msg += " (" + e.Detail + ")"
	}
	switch e.Kind {
	case remote.ErrAuth:
		msg += "; check the AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)"
	case remote.ErrNoBucket:
		msg += "; create the bucket or fix the remote URL"
	case remote.ErrUnreachable:
		at := "the endpoint"
		if e.Endpoint != "" {
			at += " " + e.Endpoint
		}
		msg += "; check " + at + " and the network, then run the command again"
	}
	return msg
}

// Unwrap returns the sentinel and the SDK's error.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// fail translates an SDK error at the boundary; nil stays nil.
func (s *Store) fail(op, key string, err error) error {
	if err == nil {
		return nil
	}
	kind, detail := classify(err)
	return &Error{Op: op, URL: s.objectURL(key), Endpoint: s.endpoint, Kind: kind, Detail: detail, Err: err}
}

// classify maps an SDK error to a remote sentinel by type and S3 error
// code, never by message text.
func classify(err error) (kind error, detail string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil, ""
	}
	var (
		noKey    *types.NoSuchKey
		notFound *types.NotFound
		noBucket *types.NoSuchBucket
		denied   *types.AccessDenied
	)
	switch {
	case errors.As(err, &noBucket):
		return remote.ErrNoBucket, "NoSuchBucket"
	case errors.As(err, &noKey), errors.As(err, &notFound):
		return remote.ErrNotFound, ""
	case errors.As(err, &denied):
		return remote.ErrAuth, "AccessDenied"
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); code {
		case "NoSuchKey", "NotFound":
			return remote.ErrNotFound, ""
		case "NoSuchBucket":
			return remote.ErrNoBucket, code
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied",
			"ExpiredToken", "InvalidToken", "TokenRefreshRequired",
			"XAdminUserNotFound": // versitygw's answer to an unknown key, with a 404
			return remote.ErrAuth, code
		case "PreconditionFailed", "ConditionalRequestConflict":
			return remote.ErrPrecondition, code
		}
	}
	var (
		send *smithyhttp.RequestSendError
		op   *net.OpError
		dns  *net.DNSError
	)
	switch {
	case errors.As(err, &dns):
		return remote.ErrUnreachable, dns.Error() + attempts(err)
	case errors.As(err, &op):
		return remote.ErrUnreachable, op.Error() + attempts(err)
	case errors.As(err, &send):
		return remote.ErrUnreachable, "the connection failed" + attempts(err)
	}
	var resp *awshttp.ResponseError
	if errors.As(err, &resp) {
		// Bodiless answers (HEAD) carry only a status.
		switch st := resp.HTTPStatusCode(); st {
		case http.StatusUnauthorized, http.StatusForbidden:
			return remote.ErrAuth, fmt.Sprintf("HTTP %d", st)
		case http.StatusPreconditionFailed:
			return remote.ErrPrecondition, "HTTP 412"
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return remote.ErrUnreachable, fmt.Sprintf("HTTP %d %s%s", st, http.StatusText(st), attempts(err))
		}
	}
	return nil, ""
}

// attempts says how often the request was tried, when the SDK gave up.
func attempts(err error) string {
	var max *retry.MaxAttemptsError
	if errors.As(err, &max) {
		return fmt.Sprintf(", after %d attempts", max.Attempt)
	}
	return ""
}
