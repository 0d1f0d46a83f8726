package qqport

import (
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/qmdbridge/qqmusic-discord-bridge/bridge"
	"github.com/qmdbridge/qqmusic-discord-bridge/qq"
)

// CodeBadParams is QQ Music's item code for parameters it refuses (20261):
// the same request will never be accepted.
const CodeBadParams = 20261

// sendOutcome classifies the error of a send (see bridge.OutcomeOf), after
// mapErr:
//
//   - login required and rate limited stay as they are (nothing was sent,
//     or QQ refused it before doing anything): transient for the message;
//   - an item code QQ refused this message with (20261 bad parameters, or
//     any other code but the signature request 2000) is permanent: QQ
//     looked at the request and said no, and will say no again;
//   - the whole batch refused (a top-level gateway code), an HTTP 4xx, or a
//     network error before anything was written (connection refused, DNS)
//     is transient: nothing reached QQ Music's message service;
//   - an HTTP 5xx, a reply that cannot be read, or a time-out or dropped
//     connection after the request went out is ambiguous: QQ may have sent
//     the message, and the caller looks for its client_key before trying
//     again.
func sendOutcome(err error) error {
	if err == nil || errors.Is(err, bridge.ErrLoginRequired) || errors.Is(err, bridge.ErrRateLimited) {
		return err
	}
	var api *qq.APIError
	var gw *qq.GatewayError
	var hs *qq.HTTPStatusError
	var bad *qq.MalformedResponseError
	var ne *qq.NetworkError
	switch {
	case errors.As(err, &api) && api.Code == CodeBadParams:
		return bridge.Permanent(fmt.Errorf("QQ Music refused the message's parameters (code %d); it cannot be sent as is: skip it: %w", api.Code, err))
	case errors.As(err, &api) && api.Code != qq.CodeSignatureRequired:
		return bridge.Permanent(fmt.Errorf("QQ Music refused the message (code %d); it will refuse it again as is: skip it, or retry once the cause is fixed: %w", api.Code, err))
	case errors.As(err, &api), errors.As(err, &gw):
		return err
	case errors.As(err, &hs) && hs.Status >= http.StatusInternalServerError:
		return bridge.Ambiguous(fmt.Errorf("QQ Music answered HTTP %d to the send; it may have sent the message: %w", hs.Status, err))
	case errors.As(err, &hs):
		return err
	case errors.As(err, &bad):
		return bridge.Ambiguous(fmt.Errorf("QQ Music's answer to the send cannot be read; it may have sent the message: %w", err))
	case errors.As(err, &ne) && notSent(ne):
		return err
	case errors.As(err, &ne):
		return bridge.Ambiguous(fmt.Errorf("the send's answer was lost (time-out or dropped connection); QQ Music may have sent the message: %w", err))
	}
	return err
}

// notSent reports whether a network error happened before the request was
// written: no connection could be made.
func notSent(ne *qq.NetworkError) bool {
	var op *net.OpError
	if errors.As(ne, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(ne, &dns)
}
