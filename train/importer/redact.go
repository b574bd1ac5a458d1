package importer

import (
	"net/url"
	"path/filepath"
	"strings"
)

// Redact returns the URL as records and messages may show it: without
// user information, and without its query string when any parameter looks
// like a credential or a signature (pre-signed S3, GCS and Azure SAS
// URLs). Local paths are returned cleaned.
func Redact(raw string) string {
	if isLocal(raw) {
		return filepath.Clean(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)" // its text might hold a secret
	}
	u.User = nil
	for k := range u.Query() {
		if secretParam(k) {
			u.RawQuery, u.ForceQuery = "", false
			break
		}
	}
	u.Fragment, u.RawFragment = "", ""
	return u.String()
}

// secretParams are query parameters that carry credentials or signatures.
var secretParams = map[string]bool{
	"signature": true, "sig": true, "token": true, "access_token": true, "id_token": true,
	"awsaccesskeyid": true, "googleaccessid": true, "expires": true, "key": true, "apikey": true,
	"api_key": true, "api-key": true, "password": true, "passwd": true, "secret": true, "auth": true,
	"authorization": true, "credential": true, "credentials": true, "se": true, "sp": true, "sv": true,
	"sr": true, "skoid": true, "sktid": true, "skt": true, "ske": true, "sks": true, "skv": true,
	"policy": true, "security-token": true,
}

func secretParam(k string) bool {
	k = strings.ToLower(k)
	return secretParams[k] || strings.HasPrefix(k, "x-amz-") || strings.HasPrefix(k, "x-goog-") ||
		strings.Contains(k, "token") || strings.Contains(k, "secret") || strings.Contains(k, "signature")
}

// scheme returns "s3", "http" (for http and https), "file", or "" for a
// URL dv cannot fetch. A path without a scheme is "file".
func scheme(raw string) string {
	if isLocal(raw) {
		return "file"
	}
	s, _, _ := strings.Cut(raw, "://")
	switch strings.ToLower(s) {
	case "s3":
		return "s3"
	case "http", "https":
		return "http"
	case "file":
		return "file"
	}
	return ""
}

// isLocal reports whether raw is a path rather than a URL.
func isLocal(raw string) bool {
	i := strings.Index(raw, "://")
	return i <= 0 || strings.ContainsAny(raw[:i], "/\\.")
}

// localPath returns the file path a local source names.
func localPath(raw string) (string, error) {
	if isLocal(raw) {
		return filepath.Abs(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", &url.Error{Op: "import", URL: Redact(raw), Err: errRemoteFile}
	}
	return filepath.FromSlash(u.Path), nil
}
