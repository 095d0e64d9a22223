package match

import "errors"

// Errors returned by this package. A refusal from the issuer comes back as
// the error for its Status, so callers can tell "ask again later" from
// "never".
var (
	// ErrConfig: a Config field is missing or out of range.
	ErrConfig = errors.New("invalid match config")
	// ErrClosed: the Issuer or Receiver has been closed.
	ErrClosed = errors.New("match closed")
	// ErrNoKeys: there were no identity keys to issue tokens for.
	ErrNoKeys = errors.New("no identity keys")
	// ErrTooManyKeys: more identity keys than an alert may carry tokens.
	ErrTooManyKeys = errors.New("too many identity keys")
	// ErrBadKey: an identity key is empty or longer than MaxKeySize.
	ErrBadKey = errors.New("bad identity key")
	// ErrAlertKeyExists: the alert already has an OPRF key; an alert's key
	// is never replaced, since its tokens are already published.
	ErrAlertKeyExists = errors.New("alert already has a match key")
	// ErrNoTokens: the alert carries no match tokens, so nothing can match.
	ErrNoTokens = errors.New("alert has no match tokens")
	// ErrBadAlert: the alert is missing, has a malformed ID or tokens.
	ErrBadAlert = errors.New("bad alert")

	// ErrUnknownAlert: the issuer holds no key for this alert (StatusUnknownAlert).
	ErrUnknownAlert = errors.New("unknown alert")
	// ErrAlertExpired: the alert has expired (StatusExpired).
	ErrAlertExpired = errors.New("alert expired")
	// ErrRateLimited: the peer's or the alert's query allowance is used up
	// for now (StatusRateLimited); RetryAfter says when to try again.
	ErrRateLimited = errors.New("match queries rate-limited")
	// ErrBadRequest: a request was malformed or too large (StatusBadRequest).
	ErrBadRequest = errors.New("bad match request")
	// ErrRefused: the issuer does not let this peer query this alert (StatusRefused).
	ErrRefused = errors.New("match query refused")
	// ErrIssuerUnavailable: the issuer could not audit or evaluate (StatusUnavailable).
	ErrIssuerUnavailable = errors.New("issuer unavailable")
	// ErrBadResponse: the issuer's response was malformed.
	ErrBadResponse = errors.New("bad match response")
)

// statusErr maps a refusal to its error.
func statusErr(s Status) error {
	switch s {
	case StatusUnknownAlert:
		return ErrUnknownAlert
	case StatusExpired:
		return ErrAlertExpired
	case StatusRateLimited:
		return ErrRateLimited
	case StatusBadRequest:
		return ErrBadRequest
	case StatusRefused:
		return ErrRefused
	case StatusUnavailable:
		return ErrIssuerUnavailable
	}
	return ErrBadResponse
}
