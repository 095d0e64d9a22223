package api

import (
	"errors"
	"net/http"

	"nrmnet/node"
)

// status maps an error to an HTTP status and a stable code. The order
// matters where an error matches several sentinels: a refusal whose audit
// entry could not be written is still a refusal.
func status(err error) (int, string) {
	var be *bodyError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		return ae.status, ae.code
	case errors.As(err, &be):
		return http.StatusBadRequest, be.code
	case errors.Is(err, node.ErrUnauthenticated):
		return http.StatusUnauthorized, "unauthenticated"
	case errors.Is(err, node.ErrForbidden):
		return http.StatusForbidden, "forbidden"
	case errors.Is(err, node.ErrNoPurpose):
		return http.StatusBadRequest, "purpose_required"
	case errors.Is(err, node.ErrInvalid):
		return http.StatusUnprocessableEntity, "invalid"
	case errors.Is(err, node.ErrNotFound):
		return http.StatusNotFound, "not_found"
	case errors.Is(err, node.ErrConflict):
		return http.StatusConflict, "revision_conflict"
	case errors.Is(err, node.ErrExists):
		return http.StatusConflict, "already_exists"
	case errors.Is(err, node.ErrNotAllowedNow):
		return http.StatusConflict, "not_allowed_now"
	case errors.Is(err, node.ErrGone):
		return http.StatusGone, "erased"
	case errors.Is(err, node.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable"
	}
	return http.StatusInternalServerError, "internal"
}

// The codes of errors made by the API itself rather than the node.
const (
	codeBodyTooLarge     = "body_too_large"
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
	codeNoRoute          = "no_route"
	codeInvalidQuery     = "invalid_query"
)
